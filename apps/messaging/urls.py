"""Pages and files served by this app."""

from django.urls import path

from apps.messaging import views

urlpatterns: list = [
    path("files/attachments/<int:pk>/", views.attachment_content, name="attachment-content"),
]

"""Pages: the supervisors' live list of visitors."""

from django.urls import path

from apps.visitors import views

app_name = "visitors"

urlpatterns = [
    path("supervisor/visitors/", views.live_page, name="live"),
    path("supervisor/invitations/", views.invitations_page, name="invitations"),
]

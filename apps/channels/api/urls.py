from django.urls import path

from apps.channels.api import views

urlpatterns = [
    path("partner/<str:key>/messages/", views.PartnerMessageView.as_view(), name="partner-messages"),
]

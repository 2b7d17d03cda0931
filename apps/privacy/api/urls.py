from django.urls import path

from apps.privacy.api import views

urlpatterns = [
    path("privacy/retention/", views.RetentionPolicyView.as_view(), name="privacy-retention"),
    path("privacy/requests/", views.RequestListCreateView.as_view(), name="privacy-request-list"),
    path("privacy/requests/<int:pk>/", views.RequestDetailView.as_view(), name="privacy-request-detail"),
    path("privacy/requests/<int:pk>/download/", views.RequestDownloadView.as_view(), name="privacy-request-download"),
    path("privacy/customers/<int:pk>/views/", views.CustomerViewsView.as_view(), name="privacy-customer-views"),
]

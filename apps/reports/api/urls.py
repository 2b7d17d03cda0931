from django.urls import path

from apps.reports.api import views

urlpatterns = [
    path("exports/", views.ExportListCreateView.as_view(), name="export-list"),
    path("exports/<int:pk>/", views.ExportDetailView.as_view(), name="export-detail"),
    path("exports/<int:pk>/download/", views.ExportDownloadView.as_view(), name="export-download"),
    path("reports/", views.ReportView.as_view(), name="report"),
    path("followups/", views.FollowUpListView.as_view(), name="followup-list"),
    path("followups/<int:pk>/", views.FollowUpDetailView.as_view(), name="followup-detail"),
]

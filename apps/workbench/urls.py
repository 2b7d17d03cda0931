"""Pages served by this app."""

from django.urls import path
from django.views.i18n import JavaScriptCatalog

from apps.workbench import views

urlpatterns = [
    path("workbench/", views.workbench, name="workbench"),
    path("workbench/history/", views.history, name="workbench-history-page"),
    path("workbench/history/<int:conversation_id>/", views.transcript, name="workbench-transcript-page"),
    path("workbench/stats/", views.my_stats, name="workbench-stats-page"),
    path("workbench/jsi18n/", JavaScriptCatalog.as_view(packages=["apps.workbench"]), name="workbench-jsi18n"),
]

from django.urls import path

from apps.workbench.api import views

urlpatterns = [
    path(
        "workbench/conversations/<int:conversation_id>/customer/",
        views.CustomerPanelView.as_view(),
        name="workbench-customer-panel",
    ),
    path("workbench/history/", views.HistoryView.as_view(), name="workbench-history"),
    path("workbench/history/<int:conversation_id>/", views.TranscriptView.as_view(), name="workbench-transcript"),
    path("workbench/stats/", views.MyStatsView.as_view(), name="workbench-stats"),
    path("workbench/search/", views.ConversationSearchView.as_view(), name="workbench-search"),
]

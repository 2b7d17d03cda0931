from django.urls import path

from apps.workbench.api import views

urlpatterns = [
    path("workbench/quick-replies/", views.QuickReplyListView.as_view(), name="workbench-quick-replies"),
    path("workbench/quick-replies/<int:pk>/", views.QuickReplyDetailView.as_view(), name="workbench-quick-reply"),
    path("workbench/quick-replies/<int:pk>/use/", views.QuickReplyUseView.as_view(), name="workbench-quick-reply-use"),
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

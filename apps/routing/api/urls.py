from django.urls import path

from apps.routing.api import views

urlpatterns = [
    path("routing/me/", views.MyDispatchView.as_view(), name="routing-me"),
    path("routing/settings/", views.DispatchSettingsView.as_view(), name="routing-settings"),
    path("routing/leave-messages/", views.LeaveMessageListView.as_view(), name="routing-leave-messages"),
    path(
        "routing/conversations/<int:conversation_id>/waiting/",
        views.ConversationWaitView.as_view(),
        name="routing-conversation-waiting",
    ),
]

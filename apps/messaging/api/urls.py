from django.urls import path

from apps.messaging.api import mention_views, recall_views, views

urlpatterns = [
    path("visitor/sessions/", views.VisitorSessionView.as_view(), name="visitor-session"),
    path("visitor/conversations/", views.VisitorConversationsView.as_view(), name="visitor-conversations"),
    path("im/conversations/<int:conversation_id>/messages/", views.MessagesView.as_view(), name="im-messages"),
    path("im/conversations/<int:conversation_id>/read/", views.ReadView.as_view(), name="im-read"),
    path(
        "im/conversations/<int:conversation_id>/attachments/",
        views.AttachmentUploadView.as_view(),
        name="im-attachments",
    ),
    path(
        "im/conversations/<int:conversation_id>/messages/<int:message_id>/recall/",
        recall_views.MessageRecallView.as_view(),
        name="im-message-recall",
    ),
    path(
        "im/conversations/<int:conversation_id>/recalls/",
        recall_views.ConversationRecallsView.as_view(),
        name="im-recalls",
    ),
    path("im/mentions/", mention_views.MentionListView.as_view(), name="im-mentions"),
    path("im/mentions/<int:mention_id>/read/", mention_views.MentionReadView.as_view(), name="im-mention-read"),
]

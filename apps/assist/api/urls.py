from django.urls import path

from apps.assist.api import views

urlpatterns = [
    path(
        "assist/conversations/<int:conversation_id>/",
        views.ConversationAssistView.as_view(),
        name="assist-conversation",
    ),
    path(
        "assist/conversations/<int:conversation_id>/suggestions/",
        views.SuggestionsView.as_view(),
        name="assist-suggestions",
    ),
    path(
        "assist/suggestions/<int:suggestion_id>/",
        views.SuggestionView.as_view(),
        name="assist-suggestion",
    ),
]

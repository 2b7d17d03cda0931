from django.urls import path

from apps.visitors.api import views

urlpatterns = [
    path("visitors/track/", views.TrackView.as_view(), name="visitors-track"),
    path("visitors/link/", views.LinkView.as_view(), name="visitors-link"),
    path("visitors/live/", views.LiveVisitorsView.as_view(), name="visitors-live"),
    path(
        "visitors/conversations/<int:conversation_id>/", views.ConversationVisitsView.as_view(), name="visitors-context"
    ),
]

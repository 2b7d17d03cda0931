from django.urls import path

from apps.visitors.api import views

urlpatterns = [
    path("visitors/track/", views.TrackView.as_view(), name="visitors-track"),
    path("visitors/link/", views.LinkView.as_view(), name="visitors-link"),
    path("visitors/live/", views.LiveVisitorsView.as_view(), name="visitors-live"),
    path("visitors/<int:visit_id>/invite/", views.InviteView.as_view(), name="visitors-invite"),
    path(
        "visitors/invitations/<int:invitation_id>/accept/",
        views.AcceptView.as_view(),
        name="visitors-invitation-accept",
    ),
    path("visitors/invitations/report/", views.InvitationReportView.as_view(), name="visitors-invitation-report"),
    path(
        "visitors/conversations/<int:conversation_id>/", views.ConversationVisitsView.as_view(), name="visitors-context"
    ),
]

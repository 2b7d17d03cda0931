from django.urls import path

from apps.channels.api import views

urlpatterns = [
    path("partner/<str:key>/messages/", views.PartnerMessageView.as_view(), name="partner-messages"),
    path(
        "channels/conversations/<int:conversation_id>/miniprogram-card/",
        views.MiniProgramCardView.as_view(),
        name="miniprogram-card",
    ),
    path("widget/config/", views.WidgetConfigView.as_view(), name="widget-config"),
    path("widget/conversations/<int:conversation_id>/queue/", views.WidgetQueueView.as_view(), name="widget-queue"),
    path("widget/conversations/<int:conversation_id>/rating/", views.WidgetRatingView.as_view(), name="widget-rating"),
    path("widget/profile/", views.WidgetProfileView.as_view(), name="widget-profile"),
    path("widget/leave-message/", views.WidgetLeaveMessageView.as_view(), name="widget-leave-message"),
]

from django.urls import path
from rest_framework.routers import DefaultRouter

from apps.knowledge.api import views

router = DefaultRouter()
router.register("kb/entries", views.FaqEntryViewSet, basename="kb-entry")
router.register("kb/alerts", views.KeywordAlertViewSet, basename="kb-alert")

urlpatterns = [
    path("kb/suggest", views.SuggestView.as_view(), name="kb-suggest"),
    path("kb/suggest/", views.SuggestView.as_view()),
    path("kb/assist/<int:conversation_id>/", views.AssistView.as_view(), name="kb-assist"),
    path("kb/assist/<int:conversation_id>/usage/", views.AssistUsageView.as_view(), name="kb-assist-usage"),
    path("kb/captured/<int:conversation_id>/", views.CapturedView.as_view(), name="kb-captured"),
    *router.urls,
]

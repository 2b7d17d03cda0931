from django.urls import path
from rest_framework.routers import DefaultRouter

from apps.accounts.api import views

router = DefaultRouter()
router.register("branches", views.BranchViewSet, basename="branch")
router.register("users", views.UserViewSet, basename="user")
router.register("skill-groups", views.SkillGroupViewSet, basename="skillgroup")

urlpatterns = [
    path("me/", views.MeView.as_view(), name="me"),
    path("me/status/", views.MyStatusView.as_view(), name="me-status"),
    path("me/max-chats/", views.MyMaxChatsView.as_view(), name="me-max-chats"),
    *router.urls,
]

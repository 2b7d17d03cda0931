from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.conversations.api import views

router = SimpleRouter()
router.register("conversations", views.ConversationViewSet, basename="conversation")
router.register("transfers", views.TransferViewSet, basename="transfer")

urlpatterns = [
    path("conversation-tags/", views.TagListView.as_view(), name="conversation-tags"),
    *router.urls,
]

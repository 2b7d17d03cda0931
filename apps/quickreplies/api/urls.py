from django.urls import path

from apps.quickreplies.api import views

# The workbench's paths, unchanged since quick replies became their own app.
urlpatterns = [
    path("workbench/quick-replies/", views.QuickReplyListView.as_view(), name="workbench-quick-replies"),
    path("workbench/quick-replies/<int:pk>/", views.QuickReplyDetailView.as_view(), name="workbench-quick-reply"),
    path("workbench/quick-replies/<int:pk>/use/", views.QuickReplyUseView.as_view(), name="workbench-quick-reply-use"),
]

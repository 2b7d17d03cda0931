"""Pages served by this app: the WeChat callback and the visitor widget."""

from django.urls import path

from apps.channels import views

app_name = "channels"

urlpatterns = [
    path("wechat/<str:key>/", views.wechat_callback, name="wechat-callback"),
]

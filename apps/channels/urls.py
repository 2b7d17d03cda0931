"""Pages served by this app: the WeChat callback and the visitor widget."""

from django.urls import path

from apps.channels import views

app_name = "channels"

urlpatterns = [
    path("wechat/<str:key>/", views.wechat_callback, name="wechat-callback"),
    path("wecom-kf/<str:key>/", views.wecom_kf_callback, name="wecom-kf-callback"),
    path("wechat-mini/<str:key>/", views.miniprogram_callback, name="miniprogram-callback"),
    path("widget/frame/", views.widget_frame, name="widget-frame"),
    path("widget/demo/", views.widget_demo, name="widget-demo"),
]

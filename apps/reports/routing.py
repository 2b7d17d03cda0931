from django.urls import path

from apps.reports.consumers import MonitorConsumer

websocket_urlpatterns = [path("ws/monitor/", MonitorConsumer.as_asgi())]

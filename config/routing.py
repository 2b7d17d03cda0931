"""Websocket URL routing: the apps that serve a websocket own apps/<app>/routing.py."""

from apps.messaging.routing import websocket_urlpatterns as messaging_ws
from apps.reports.routing import websocket_urlpatterns as reports_ws
from apps.visitors.routing import websocket_urlpatterns as visitors_ws

websocket_urlpatterns = [*messaging_ws, *reports_ws, *visitors_ws]

from django.urls import path

from apps.messaging.consumers import AgentConsumer, VisitorConsumer

websocket_urlpatterns: list = [
    path("ws/agent/", AgentConsumer.as_asgi()),
    path("ws/visitor/", VisitorConsumer.as_asgi()),
]

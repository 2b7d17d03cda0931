from django.urls import path

from apps.visitors.consumers import VisitorsConsumer

websocket_urlpatterns = [path("ws/visitors/", VisitorsConsumer.as_asgi())]

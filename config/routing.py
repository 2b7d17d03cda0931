"""Websocket URL routing. Each app adds its routes here."""

websocket_urlpatterns: list = []

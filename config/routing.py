"""Websocket URL routing: each domain app owns apps/<app>/routing.py."""

from importlib import import_module

from config.urls import DOMAIN_APPS

websocket_urlpatterns: list = []
for _app in DOMAIN_APPS:
    websocket_urlpatterns += import_module(f"apps.{_app}.routing").websocket_urlpatterns

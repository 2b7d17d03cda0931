"""Pages served by this app."""

urlpatterns: list = []

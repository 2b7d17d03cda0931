import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from apps.core.proxy import TrustedProxyMiddleware  # noqa: E402
from apps.messaging.handshake import StaffSessionMiddleware  # noqa: E402
from config.routing import websocket_urlpatterns  # noqa: E402

# Origin is checked per endpoint inside the consumers: agents must come from our own hosts,
# visitors from the tenant's channel allowlist (a global AllowedHostsOriginValidator would
# refuse every visitor embedded on a customer's site).
# The client address behind exactly TRUSTED_PROXY_COUNT proxies, for HTTP and websockets alike.
application = TrustedProxyMiddleware(
    ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            # scope["user"] from the session cookie, without Channels' per-handshake thread hop
            "websocket": StaffSessionMiddleware(URLRouter(websocket_urlpatterns)),
        }
    )
)

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from apps.core import views as core_views
from apps.core.admin_site import manage_site
from apps.tenants.api.views import PublicCompanyInfoView

# REST under /api/v1/: the apps with an API own apps/<app>/api/urls.py.
api_v1: list[URLPattern | URLResolver] = [
    path("", include("apps.accounts.api.urls")),
    path("public/tenants/<slug:slug>/info/", PublicCompanyInfoView.as_view(), name="public-company-info"),
    *[
        path("", include(f"apps.{app}.api.urls"))
        for app in (
            "conversations",
            "messaging",
            "channels",
            "routing",
            "knowledge",
            "workbench",
            "quickreplies",
            "reports",
            "visitors",
            "privacy",
            "sla",
            "assist",
        )
    ],
]

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("favicon.ico", core_views.favicon, name="favicon"),
    path("accounts/login/", core_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password-reset/", core_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="registration/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "accounts/password-reset/<uidb64>/<token>/",
        core_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="registration/password_reset_complete.html"),
        name="password_reset_complete",
    ),
    path("i18n/", include("django.conf.urls.i18n")),
    path("manage/", manage_site.urls),
    path("api/v1/", include((api_v1, "api"), namespace="v1")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI and Redoc from our own static files (drf-spectacular-sidecar): no CDN, no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    # Pages: the apps that serve pages own apps/<app>/urls.py.
    *[path("", include(f"apps.{app}.urls")) for app in ("messaging", "channels", "workbench", "reports", "visitors")],
    # Only tenant logos are public. Attachments, exports and transcripts are private files
    # (apps.core.files): read through views that check a credential, never under /media/.
    re_path(r"^media/tenant-logos/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT / "tenant-logos"}),
]

# A database outage (restart, failover) answers 503 + Retry-After instead of the 500 page.
handler500 = "apps.core.views.server_error"
handler404 = "apps.core.views.page_not_found"
handler400 = "apps.core.views.bad_request"
handler403 = "apps.core.views.permission_denied"

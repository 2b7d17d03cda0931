from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django_ratelimit.decorators import ratelimit

from apps.accounts.forms import BackoffAuthenticationForm
from apps.core import health
from apps.core.ratelimit import login_rate


def _api_error(request: HttpRequest, status: int, code: str, message) -> JsonResponse | None:
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": code, "message": str(message)}}, status=status)
    return None


def page_not_found(request: HttpRequest, exception=None):
    """handler404: API paths get the API's JSON error (a path that matches no route, e.g. a
    non-numeric id), pages the Chinese-first 404 page."""
    from django.views import defaults

    return _api_error(request, 404, "not_found", _("Not found.")) or defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception=None):
    from django.views import defaults

    return _api_error(request, 400, "bad_request", _("The request is not valid.")) or defaults.bad_request(
        request, exception
    )


def permission_denied(request: HttpRequest, exception=None):
    from django.views import defaults

    return _api_error(request, 403, "permission_denied", _("You do not have permission to do this.")) or (
        defaults.permission_denied(request, exception)
    )


def server_error(request: HttpRequest, *args, **kwargs):
    """handler500: a database that is restarting or failing over is a 503 that says "in a few
    seconds" (and lets the load balancer and the client retry), not a bug page. Renders without
    touching the database."""
    import sys

    from django.db import InterfaceError, OperationalError
    from django.views import defaults

    exc = sys.exc_info()[1]
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return defaults.server_error(request, *args, **kwargs)
    if request.path.startswith("/api/") or request.headers.get("accept", "").startswith("application/json"):
        body = {"error": {"code": "unavailable", "message": _("The service is briefly unavailable. Please try again.")}}
        response: HttpResponse = JsonResponse(body, status=503)
    else:
        from django.template import loader

        response = HttpResponse(loader.get_template("503.html").render(), status=503)
    response["Retry-After"] = "5"
    return response


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    components = {
        "database": health.check_database(),
        "redis": health.check_redis(),
        "celery": health.check_celery(),
    }
    if len(settings.CHANNEL_LAYERS["default"]["CONFIG"].get("hosts", [])) > 1:
        components["channel_layer"] = health.check_channel_layer()
    for name, check in (("replica", health.check_replica), ("elasticsearch", health.check_elasticsearch)):
        result = check()
        if result is not None:
            components[name] = result
    # A component that is not required (the read replica) degrades the status without failing it.
    ok = all(c["ok"] for c in components.values() if c.get("required", True))
    status = "ok" if ok and all(c["ok"] for c in components.values()) else "degraded"
    return JsonResponse({"status": status, "components": components}, status=200 if ok else 503)


def ratelimited(request: HttpRequest, exception=None):
    message = _("Too many requests. Please wait a moment and try again.")
    if request.path.startswith("/api/") or request.headers.get("accept", "").startswith("application/json"):
        return JsonResponse({"error": {"code": "rate_limited", "message": message}}, status=429)
    return render(request, "errors/429.html", {"message": message}, status=429)


@method_decorator(ratelimit(key="ip", rate=login_rate, method="POST", block=True), name="post")
class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True
    authentication_form = BackoffAuthenticationForm


@method_decorator(ratelimit(key="ip", rate=login_rate, method="POST", block=True), name="post")
class PasswordResetView(auth_views.PasswordResetView):
    """Asks for an e-mail address; the mail (console in the embedded default) carries a one-time link.
    The same answer whether or not an account has that address."""

    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.html"
    subject_template_name = "registration/password_reset_subject.txt"


@method_decorator(ratelimit(key="ip", rate=login_rate, method="POST", block=True), name="post")
class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"


def home(request: HttpRequest):
    """Everyone starts at their role's section (apps.core.shell.landing_url)."""
    if not request.user.is_authenticated:
        return redirect("login")
    from apps.core.shell import landing_url

    url = landing_url(request.user)
    if url != request.path:
        return redirect(url)
    return render(request, "home.html")


def favicon(request: HttpRequest):
    """Browsers ask for /favicon.ico on every page whatever the page links."""
    from django.templatetags.static import static

    return redirect(static("favicon.ico"), permanent=True)

"""The visitor widget: what the loader and the frame need to know about a channel."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.channels.models import Channel, ChannelKind
from apps.core.errors import ApplicationError


class VisitorTracking(models.TextChoices):
    """A web channel's visitor-context setting (config["visitor_tracking"]): whether the widget
    reports the pages a visitor views (apps.visitors)."""

    ON = "on", gettext_lazy("On (unless the browser asks not to be tracked)")
    CONSENT = "consent", gettext_lazy("Only after the visitor consents (the site calls KefuWidget.consent(true))")
    OFF = "off", gettext_lazy("Off")


def tracking_mode(channel: Channel) -> str:
    mode = channel.cfg("visitor_tracking") or VisitorTracking.ON
    return mode if mode in VisitorTracking.values else VisitorTracking.ON


DEFAULT_RATING_TAGS = ["回复及时", "态度友好", "问题已解决", "专业耐心", "等待太久", "没解决问题"]
PRECHAT_FIELDS = {"name", "phone", "email", "subject"}


def widget_channel_get(*, key: str) -> Channel:
    """An enabled web (or app) channel by key; anything else is 404 without saying why."""
    channel = (
        Channel.objects.select_related("tenant", "branch")
        .filter(key=key, kind__in=[ChannelKind.WEB, ChannelKind.APP], is_enabled=True)
        .first()
    )
    if channel is None or not channel.tenant.is_active:
        raise ApplicationError("not_found", _("Unknown channel."), status=404)
    return channel


def working_now(channel: Channel) -> bool:
    from apps.routing.selectors import is_working_time

    return is_working_time(tenant=channel.tenant, branch=channel.branch)


def off_hours_message(channel: Channel) -> str:
    custom = channel.cfg("offline_message")
    if custom:
        return custom
    from apps.routing.selectors import dispatch_settings_get

    custom = dispatch_settings_get(tenant_id=channel.tenant_id).off_hours_message
    return custom or _("We are outside service hours. Please leave a message and we will get back to you.")


def widget_config(channel: Channel) -> dict:
    prechat = [f for f in (channel.config or {}).get("prechat_fields", []) if f in PRECHAT_FIELDS]
    tags = (channel.config or {}).get("rating_tags") or DEFAULT_RATING_TAGS
    return {
        "channel": channel.key,
        "company": channel.tenant.public_info(),
        "greeting": channel.greeting,
        "prechat_fields": prechat,
        "working": working_now(channel),
        "service_hours_text": channel.tenant.service_hours_text,
        "offline_message": off_hours_message(channel),
        "rating_tags": [str(t)[:30] for t in tags][:10],
        "theme_color": (channel.config or {}).get("theme_color") or "#1f6feb",
        "visitor_tracking": tracking_mode(channel),
        # The loader's invitation bubble (apps.visitors): its two buttons.
        "invite_labels": {"reply": _("Reply"), "close": _("No, thanks")},
        "label": _("Online service"),
    }


def frame_ancestors(channel: Channel) -> str:
    """The CSP frame-ancestors source list: only the channel's allowed sites may frame the chat."""
    origins = [o for o in channel.allowed_origins or [] if o]
    if "*" in origins:
        return "*"
    extra = getattr(settings, "WIDGET_EXTRA_FRAME_ANCESTORS", [])
    return " ".join(["'self'", *origins, *extra])


def widget_strings() -> dict:
    """Everything the frame shows, translated on the server (zh-hans first)."""
    return {
        "title": _("Online service"),
        "placeholder": _("Type your message…"),
        "send": _("Send"),
        "start": _("Start chat"),
        "close": _("Close"),
        "image": _("Send an image"),
        "connecting": _("Connecting…"),
        "reconnecting": _("Connection lost. Reconnecting…"),
        "connected": _("Connected"),
        "queued": _("You are number %(position)s in the queue. Estimated wait: about %(minutes)s min."),
        "queued_short": _("You are number %(position)s in the queue."),
        "queued_no_agent": _(
            "You are number %(position)s in the queue. No agent is online right now: you can leave a message "
            "and we will get back to you."
        ),
        "no_agent": _("No agent is online right now. Leave a message and we will get back to you as soon as we can."),
        "leave_button": _("Leave a message"),
        "assigned": _("An agent is now serving you."),
        "closed": _("This conversation has ended."),
        "new_chat": _("Start a new conversation"),
        "typing": _("The agent is typing…"),
        "sending": _("Sending…"),
        "failed": _("Not sent. Tap to retry."),
        "prechat_title": _("Before we start, please tell us:"),
        "name": _("Your name"),
        "phone": _("Phone"),
        "email": _("Email"),
        "subject": _("Your question"),
        "required": _("Please fill in this field."),
        "rating_title": _("How was our service?"),
        "rating_comment": _("Anything else you want to tell us? (optional)"),
        "rating_submit": _("Submit rating"),
        "rating_thanks": _("Thank you for your feedback!"),
        "rating_pick": _("Please choose a score."),
        "stars": [_("Very dissatisfied"), _("Dissatisfied"), _("OK"), _("Satisfied"), _("Very satisfied")],
        "leave_title": _("Leave us a message"),
        "leave_contact": _("Phone or email"),
        "leave_content": _("Your message"),
        "leave_submit": _("Send message"),
        "leave_thanks": _("Thank you. We will get back to you as soon as possible."),
        "suggestions": _("You may be asking:"),
        "error": _("Something went wrong. Please try again."),
        "refused": _("This site may not open the chat."),
        "you": _("You"),
        "agent": _("Agent"),
        "bot": _("Smart assistant"),
        "system": _("System"),
        "file": _("File"),
        "recalled": _("Message recalled"),
    }

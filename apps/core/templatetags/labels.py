"""{% load labels %}: stored codes as words (apps.core.labels)."""

from django import template

from apps.core import labels

register = template.Library()

register.filter("event_label", labels.event_kind)
register.filter("reason_label", labels.reason)
register.filter("conv_status", labels.conversation_status)
register.filter("agent_status", labels.agent_status)

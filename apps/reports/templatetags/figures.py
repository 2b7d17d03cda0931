"""How figures are shown, the same on every page: durations as h:mm:ss, rates as 12.5 %."""

from django import template

from apps.reports import metrics

register = template.Library()


@register.filter
def hms(seconds):
    return metrics.hms(seconds)


@register.filter
def pct(value):
    return metrics.pct(value)


@register.filter
def count(value):
    return metrics.count(value)


@register.simple_tag
def figure(row, key, kind):
    return metrics.display(row.get(key), kind)

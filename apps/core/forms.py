"""Form pieces shared by the back-office screens."""

from __future__ import annotations

import json

from django import forms
from django.utils.translation import gettext_lazy as _

BLANK_ROWS = 3


def typed(text: str):
    """What a person types, as the value it means: true/false/是/否, whole numbers, else text."""
    text = text.strip()
    lowered = text.lower()
    if lowered in ("true", "是"):
        return True
    if lowered in ("false", "否"):
        return False
    if text.lstrip("-").isdigit() and len(text) < 16:
        return int(text)
    return text


def shown(value) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


class KeyValueWidget(forms.Widget):
    """A dict edited as rows of (name, value) inputs, with a few empty rows to add more; no script
    needed. Rows are posted as <name>_key_<i> / <name>_value_<i>."""

    template_name = "core/widgets/key_value.html"

    def __init__(self, attrs=None, key_label=None, value_label=None):
        super().__init__(attrs)
        self.key_label = key_label or _("Name")
        self.value_label = value_label or _("Value")

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        if isinstance(value, str):
            try:
                value = json.loads(value or "{}")
            except ValueError:
                value = {}
        pairs = [(str(k), shown(v)) for k, v in (value or {}).items()] if isinstance(value, dict) else []
        pairs += [("", "")] * BLANK_ROWS
        context["widget"].update(
            rows=[(i, k, v) for i, (k, v) in enumerate(pairs)],
            key_label=self.key_label,
            value_label=self.value_label,
        )
        return context

    def value_from_datadict(self, data, files, name):
        out = {}
        i = 0
        while f"{name}_key_{i}" in data or f"{name}_value_{i}" in data:
            key = (data.get(f"{name}_key_{i}") or "").strip()
            if key:
                out[key] = typed(data.get(f"{name}_value_{i}") or "")
            i += 1
        return out

    def value_omitted_from_data(self, data, files, name):
        return f"{name}_key_0" not in data


class KeyValueField(forms.JSONField):
    widget = KeyValueWidget

    def prepare_value(self, value):
        return value if isinstance(value, dict) else super().prepare_value(value)

    def to_python(self, value):
        if isinstance(value, dict):
            return value
        return super().to_python(value)

    def bound_data(self, data, initial):
        return data if isinstance(data, dict) else super().bound_data(data, initial)

    def has_changed(self, initial, data):
        return (initial or {}) != (data or {})

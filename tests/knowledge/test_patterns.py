"""Tenant-supplied patterns run on RE2 (linear time) or are refused at save with a clear error."""

from __future__ import annotations

import time

import pytest
from django.utils import translation

from apps.core.errors import ApplicationError
from apps.knowledge.admin import BotSettingsForm
from apps.knowledge.capture import (
    DEFAULT_WAYBILL_PATTERNS,
    LEGACY_DEFAULT_PATTERNS,
    compile_patterns,
    extract_slots,
    validate_patterns,
)
from apps.knowledge.models import BotSettings

CATASTROPHIC = "(a+)+$"


def test_a_catastrophic_pattern_runs_in_linear_time_on_the_longest_message():
    patterns = compile_patterns(CATASTROPHIC)
    assert len(patterns) == 1 and type(patterns[0]).__module__.startswith("re2")
    text = "a" * 4999 + "!"
    started = time.perf_counter()
    for _ in range(10):
        assert extract_slots(text, waybill_patterns=patterns) == {}
    # Python's backtracking engine needs longer than the age of the universe here; RE2 takes
    # microseconds. The bound is far above RE2's cost (no flakiness) and far below re's.
    assert time.perf_counter() - started < 1.0


def test_default_and_legacy_patterns_still_find_waybills():
    text = "运单号SF1234567890123，另一个 JD0012345678901 和 773012345678901，电话13812345678"
    expected = {"waybill": ["SF1234567890123", "JD0012345678901", "773012345678901"], "phone": ["13812345678"]}
    assert extract_slots(text, waybill_patterns=compile_patterns("\n".join(DEFAULT_WAYBILL_PATTERNS))) == expected
    assert extract_slots(text, waybill_patterns=compile_patterns("\n".join(LEGACY_DEFAULT_PATTERNS))) == expected
    # Digits glued to a longer number are not a waybill.
    assert extract_slots("1234567890123456789", waybill_patterns=compile_patterns("")) == {}


@pytest.mark.parametrize(
    "pattern,word",
    [(r"(?<![A-Z])SF\d{12}", "Lookaround"), (r"(\d)\1{11}", "Backreferences"), ("[0-9" + "x" * 10, "")],
)
def test_patterns_re2_cannot_run_are_refused_at_save(pattern, word):
    with translation.override("en"), pytest.raises(ApplicationError) as exc:
        validate_patterns(pattern)
    assert exc.value.code == "invalid_pattern" and word in str(exc.value.message)
    # A stored line that cannot run is skipped, the others still work.
    assert len(compile_patterns(f"{pattern}\nSF\\d{{12}}")) == 1


def test_admin_form_shows_the_error_in_the_users_language(org_a):
    data = {
        "tenant": org_a.tenant.pk,
        "waybill_patterns": r"(?<!\d)\d{12}",
        "provider": "local",
        "provider_url": "",
    }
    with translation.override("zh-hans"):
        form = BotSettingsForm(data=data, instance=BotSettings(tenant=org_a.tenant))
        assert not form.is_valid()
        assert "不支持" in form.errors["waybill_patterns"][0]
    with translation.override("en"):
        form = BotSettingsForm(data={**data, "provider_url": "http://169.254.169.254/latest"})
        form.is_valid()
        assert "public internet" in form.errors["provider_url"][0]


@pytest.mark.django_db
def test_a_tenant_with_a_catastrophic_pattern_does_not_slow_its_bot(kit):
    """The whole bot path on a 5,000-character message with `(a+)+$` as the tenant's pattern."""
    kit.settings(waybill_patterns=CATASTROPHIC)
    conversation = kit.start()
    answered = len(kit.bot_messages(conversation))
    started = time.perf_counter()
    kit.say(conversation, "a" * 4999 + "!")
    assert time.perf_counter() - started < 5.0  # minutes per extra character on a backtracking engine
    assert len(kit.bot_messages(conversation)) > answered  # the bot did run and answer

"""F55: slots captured from what visitors write (phone, waybill number, name, address)."""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache

import re2
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)

PHONE = re.compile(r"(?<!\d)(1[3-9]\d{9})(?!\d)")
NAME = re.compile(
    r"(?:我叫|我的名字是|名字是|名字叫|姓名[是为]?|联系人[是为]?|收件人[是为]?)[:：\s]*([\u4e00-\u9fff]{2,4})"
)
NAME_STOP = set("的了吧呢啊呀哦，。")
ADDRESS = re.compile(
    r"(?:地址[是为]?|住在|寄到|送到|收货地址[是为]?|派送到)[:：\s]*([\u4e00-\u9fffA-Za-z0-9\-#]{4,60})"
)
ADDRESS_MARK = re.compile(r"[省市区县镇乡村路街道巷弄号栋幢室楼]")

# Tenant patterns run on RE2 (linear time whatever the pattern: no backtracking, so `(a+)+$` on a
# 5,000-character message costs microseconds). RE2 has no lookaround: `\b` marks the edges.
DEFAULT_WAYBILL_PATTERNS = [
    r"\b(?:SF|JD|YT|ZT|KY|AN)\d{10,15}\b",
    r"\b\d{12,15}\b",
]
# The defaults before patterns ran on RE2 (still stored in older tenants' settings).
LEGACY_DEFAULT_PATTERNS = {
    r"(?<![A-Za-z0-9])(?:SF|JD|YT|ZT|KY|AN)\d{10,15}(?![0-9])": DEFAULT_WAYBILL_PATTERNS[0],
    r"(?<![0-9A-Za-z])\d{12,15}(?![0-9])": DEFAULT_WAYBILL_PATTERNS[1],
}
MAX_PATTERN_LENGTH = 500
MAX_PATTERNS = 20
PATTERN_MAX_MEM = 4 << 20  # bytes of automaton per pattern

SLOT_PROMPTS = {
    "phone": "手机号",
    "waybill": "运单号",
    "name": "姓名",
    "address": "详细地址",
}


def _options():
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    options.max_mem = PATTERN_MAX_MEM
    return options


def compile_pattern(line: str):
    """One tenant pattern on RE2. Raises ApplicationError (in the user's language) when RE2 cannot
    run it: the admin form shows the message, and compile_patterns skips such a stored line."""
    from apps.core.errors import ApplicationError

    line = LEGACY_DEFAULT_PATTERNS.get(line, line)
    if len(line) > MAX_PATTERN_LENGTH:
        raise ApplicationError(
            "invalid_pattern", _("A pattern can be at most %(n)d characters.") % {"n": MAX_PATTERN_LENGTH}
        )
    try:
        return re2.compile(line, options=_options())
    except re2.error as exc:
        detail = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        if "(?<" in line or "(?=" in line or "(?!" in line:
            hint = _("Lookaround such as (?<!...) or (?=...) is not supported; use \\b for word edges.")
        else:
            hint = _("Backreferences and possessive quantifiers are not supported.")
        raise ApplicationError(
            "invalid_pattern",
            _("“%(pattern)s” is not a pattern we can run (%(detail)s). %(hint)s")
            % {"pattern": line[:100], "detail": detail, "hint": hint},
        )


def validate_patterns(raw: str | None) -> str:
    """For saving: every line must compile on RE2. Returns the cleaned text."""
    from apps.core.errors import ApplicationError

    lines = [line.strip() for line in (raw or "").splitlines() if line.strip()]
    if len(lines) > MAX_PATTERNS:
        raise ApplicationError("invalid_pattern", _("At most %(n)d patterns.") % {"n": MAX_PATTERNS})
    for line in lines:
        compile_pattern(line)
    return "\n".join(lines)


@lru_cache(maxsize=256)
def _compiled(raw: str) -> tuple:
    lines = [line.strip() for line in raw.splitlines() if line.strip()] or DEFAULT_WAYBILL_PATTERNS
    compiled = []
    for line in lines[:MAX_PATTERNS]:
        try:
            compiled.append(compile_pattern(line))
        except Exception:  # noqa: BLE001 - a stored line RE2 cannot run (saved before the check)
            logger.warning("waybill pattern ignored: %r", line)
    return tuple(compiled)


def compile_patterns(raw: str | None) -> list:
    """The tenant's waybill patterns, compiled once per distinct text."""
    return list(_compiled(raw or ""))


def extract_slots(text: str, *, waybill_patterns: list | None = None) -> dict[str, list[str]]:
    """Every slot value found in the text, in order, without duplicates."""
    text = unicodedata.normalize("NFKC", text or "")
    found: dict[str, list[str]] = {}

    def add(slot: str, value: str) -> None:
        value = value.strip()
        if value and value not in found.setdefault(slot, []):
            found[slot].append(value)

    phones = PHONE.findall(text)
    for p in phones:
        add("phone", p)
    for pattern in waybill_patterns if waybill_patterns is not None else compile_patterns(None):
        for m in pattern.finditer(text):
            value = m.group(0).upper()
            if value not in phones:
                add("waybill", value)
    for m in NAME.finditer(text):
        name = m.group(1)
        while name and name[-1] in NAME_STOP:
            name = name[:-1]
        if len(name) >= 2:
            add("name", name)
    for m in ADDRESS.finditer(text):
        if ADDRESS_MARK.search(m.group(1)):
            add("address", m.group(1))
    return {k: v for k, v in found.items() if v}

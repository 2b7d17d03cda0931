"""F55: slots captured from what visitors write (phone, waybill number, name, address)."""

from __future__ import annotations

import logging
import re
import unicodedata

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

DEFAULT_WAYBILL_PATTERNS = [
    r"(?<![A-Za-z0-9])(?:SF|JD|YT|ZT|KY|AN)\d{10,15}(?![0-9])",
    r"(?<![0-9A-Za-z])\d{12,15}(?![0-9])",
]

SLOT_PROMPTS = {
    "phone": "手机号",
    "waybill": "运单号",
    "name": "姓名",
    "address": "详细地址",
}


def compile_patterns(raw: str | None) -> list[re.Pattern]:
    lines = [line.strip() for line in (raw or "").splitlines() if line.strip()] or DEFAULT_WAYBILL_PATTERNS
    compiled = []
    for line in lines:
        try:
            compiled.append(re.compile(line, re.IGNORECASE))
        except re.error:
            logger.warning("invalid waybill pattern ignored: %r", line)
    return compiled


def extract_slots(text: str, *, waybill_patterns: list[re.Pattern] | None = None) -> dict[str, list[str]]:
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

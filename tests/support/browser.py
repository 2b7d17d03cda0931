"""Debian's chromium driven by Playwright's Python API: the one launcher every browser test uses."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


_FUNCTION = re.compile(r"^\s*(async\s+)?(function\b|\([^)]*\)\s*=>|[\w$]+\s*=>)")


def _csp_safe_wait_for_function() -> None:
    """Our pages forbid eval (Content-Security-Policy without 'unsafe-eval'), and Playwright polls
    a *string expression* with eval inside the page; a function is compiled over the DevTools
    protocol instead. Tests keep writing expressions; they are passed on as functions, so every
    browser test runs the pages under their real policy."""
    from playwright.sync_api import Frame, Page

    for cls in (Page, Frame):
        original = cls.wait_for_function
        if getattr(original, "_csp_safe", False):
            continue

        def wait_for_function(self, expression, *args, _original=original, **kwargs):
            if isinstance(expression, str) and not _FUNCTION.match(expression):
                expression = f"() => ({expression})"
            return _original(self, expression, *args, **kwargs)

        wait_for_function._csp_safe = True
        cls.wait_for_function = wait_for_function


def _require_chromium() -> None:
    """Skip (with the install hint) only on a machine without Debian's chromium; .ci/run installs
    it, so CI always runs the browser tests."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed (apt-get install chromium); .ci/run installs it")


@contextmanager
def chromium() -> Iterator:
    """A launched headless browser. Skips (with the install hint) only where chromium is absent;
    .ci/run installs it, so CI always runs these tests."""
    _require_chromium()
    from playwright.sync_api import sync_playwright

    _csp_safe_wait_for_function()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@asynccontextmanager
async def async_chromium() -> AsyncIterator:
    """The same browser for Playwright's async API: one chromium whose pages a test drives
    concurrently (a long walk over many pages spends most of its time waiting on the network)."""
    _require_chromium()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()

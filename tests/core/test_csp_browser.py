"""A Content-Security-Policy on every page, and the pages still work under it: a real Chromium
opens each one and the browser reports no policy violation and no script error."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import PASSWORD
from tests.support.browser import chromium
from tests.support.live import browser_cookie, live_server_url  # noqa: F401

PAGES_AGENT = ["/workbench/", "/workbench/history/", "/workbench/stats/"]
PAGES_SUPERVISOR = [
    "/supervisor/monitor/",
    "/supervisor/reports/",
    "/supervisor/history/",
    "/supervisor/exports/",
    "/manage/",
    "/manage/accounts/user/",
    "/api/docs/",
]


def _script_policy(header: str) -> str:
    return next(d for d in header.split(";") if d.strip().startswith("script-src"))


def test_every_page_carries_a_policy_without_inline_scripts(org_a):
    anonymous = Client()
    checks = [(anonymous, "/accounts/login/"), (anonymous, "/accounts/password-reset/")]
    agent, supervisor = Client(), Client()
    agent.login(username=org_a.agent_sh.username, password=PASSWORD)
    supervisor.login(username=org_a.sup_east.username, password=PASSWORD)
    checks += [(agent, p) for p in PAGES_AGENT] + [(supervisor, p) for p in PAGES_SUPERVISOR]
    for client, path in checks:
        response = client.get(path)
        assert response.status_code == 200, path
        policy = response["Content-Security-Policy"]
        assert "'unsafe-inline'" not in _script_policy(policy) and "frame-ancestors 'self'" in policy, path
        assert "object-src 'none'" in policy, path


@pytest.mark.browser
def test_pages_work_under_the_policy_in_a_real_browser(live_server_url, org_a):  # noqa: F811
    problems: list[str] = []
    visits = [
        (None, ["/accounts/login/"]),
        (browser_cookie(org_a.agent_sh, live_server_url), PAGES_AGENT),
        (browser_cookie(org_a.sup_east, live_server_url), PAGES_SUPERVISOR),
    ]
    with chromium() as browser:
        for cookie, paths in visits:
            context = browser.new_context()
            if cookie is not None:
                context.add_cookies([cookie])
            page = context.new_page()
            page.on("console", lambda m, p=page: problems.append(f"{p.url}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e, p=page: problems.append(f"{p.url}: {e}"))
            for path in paths:
                page.goto(live_server_url + path, wait_until="networkidle")
            if cookie is None:
                # The language switch (a script, no inline handler) still submits.
                with page.expect_navigation():
                    page.select_option("select[name=language]", "en")
                page.wait_for_selector("text=Forgot your password?")
            context.close()
    violations = [p for p in problems if "Content Security Policy" in p or "Refused" in p]
    assert not violations, violations
    # Swagger UI renders from our own static files.
    assert not [p for p in problems if "/api/" in p], problems

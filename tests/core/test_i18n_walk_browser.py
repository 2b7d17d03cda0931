"""Every staff page, in Chinese and in English, in Chromium against a live daphne, on a demo tenant
with conversations in every state (tests/support/showcase.py):

- no page logs a console error or throws;
- in Chinese, no piece of interface text is English (data such as usernames and branch codes aside);
- in both languages, no stored code is shown raw (`offline`, `created`, `handoff`, `user.create`),
  no object repr (`AgentStatusEvent object (3)`) and no Python dict (`{'text': ...}`).

The pages are the supervisor centre, the workbench, the login and error pages, and every screen of
the management centre: each registered model's list, its add form when offered, and the edit form
of its first row."""

from __future__ import annotations

import asyncio
import os
import re

import pytest
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse

from tests.support.browser import async_chromium
from tests.support.live import live_server_url  # noqa: F401  (fixture)
from tests.support.showcase import build

pytestmark = [pytest.mark.browser]

PASSWORD = "kefu-demo-2026"  # seed_demo's

# Everything a person reads on the page: text nodes, labels in attributes, button values, the title.
PAGE_TEXT = r"""() => {
  const out = [document.title];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const parent = node.parentElement;
    if (!parent || parent.closest('script,style,noscript,code,pre,textarea,[data-i18n-data]')) continue;
    const text = node.textContent.replace(/\s+/g, ' ').trim();
    if (text) out.push(text);
  }
  for (const el of document.querySelectorAll('[placeholder],[title],[aria-label],[alt],input[type=submit],input[type=button]')) {
    if (el.closest('[data-i18n-data]')) continue;
    // Django admin's icons carry hard-coded English alt texts ("True", "Search"): not translatable.
    if (el.matches('img[src*="/static/admin/img/"]')) continue;
    for (const attr of ['placeholder', 'title', 'aria-label', 'alt']) {
      const v = el.getAttribute(attr);
      if (v && v.trim()) out.push(v.trim());
    }
    if (el.matches('input[type=submit],input[type=button]') && el.value) out.push(el.value.trim());
  }
  return out;
}"""

# Words that are the same in Chinese interfaces: formats, acronyms, key names.
SAME_IN_CHINESE = set(
    """CSV XLSX Excel SLA KPI FAQ API JSON URL URLs IP VIP ID IDs Redis WeChat WeCom AppID AppSecret Token
    EncodingAESKey HMAC SHA UTC GMT HTTP HTTPS Webhook Enter Esc Ctrl Shift Alt Tab PIPL OpenAPI Swagger Redoc
    English Elasticsearch MySQL MariaDB""".split()
)
CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef]")
NOT_WORDS = re.compile(
    r"https?://\S+|[\w.+-]+@[\w-]+\.[\w.]+|#[0-9a-fA-F]{3,8}\b|\b\d[\w:./-]*|/[\w./{}<>:-]*|\w+\.(png|csv|xlsx|svg|ico)\b"
)
WORD = re.compile(r"[A-Za-z][A-Za-z']{2,}")


def raw_codes() -> set[str]:
    from apps.accounts.models import AgentStatus
    from apps.conversations.models import ConversationStatus
    from apps.core import labels

    backends = {"database", "elasticsearch"}  # search backends' codes
    return (
        set(labels.EVENT_KINDS)
        | set(labels.REASONS)
        | set(AgentStatus.values)
        | set(ConversationStatus.values)
        | backends
    )


RAW_PATTERNS = [
    re.compile(r"\b[A-Z]\w+ object \(\d+\)"),  # a model's default __str__
    re.compile(r"\{'\w+': "),  # a Python dict
    re.compile(r"^[a-z_]+\.[a-z_]+$"),  # an audit action code (export.create)
    re.compile(r"^[a-z_]+\.[A-Z][A-Za-z]+$"),  # a model label (reports.ExportJob)
]


def problems(texts: list[str], *, chinese: bool, data_words: set[str], codes: set[str]) -> list[str]:
    found = []
    for text in texts:
        if text in codes:
            found.append(f"raw code {text!r}")
            continue
        if any(p.search(text) for p in RAW_PATTERNS):
            found.append(f"repr {text!r}")
            continue
        if chinese and CJK.search(text):  # a code inside a Chinese sentence: 全文搜索（database）
            inside = [w for w in re.findall(r"(?<![\w.])[a-z][a-z_]+(?![\w.])", text) if w in codes]
            if inside:
                found.append(f"raw code in {text[:100]!r}")
            elif re.search(r"[A-Za-z]{2,}(?: [A-Za-z]{2,}){2,}", NOT_WORDS.sub(" ", text)):
                found.append(f"English phrase in {text[:100]!r}")  # "Choose 客服 by selecting them ..."
            continue
        if chinese and text not in data_words:
            words = [w for w in WORD.findall(NOT_WORDS.sub(" ", text)) if w not in SAME_IN_CHINESE]
            words = [w for w in words if w not in data_words and not any(w in d for d in data_words)]
            if words:
                found.append(f"English {text[:100]!r}")
    return sorted(set(found))


def manage_pages(admin_user) -> list[str]:
    """Each registered model's list, add form (when offered) and the edit form of its first row."""
    from apps.core.admin_site import manage_site

    request = RequestFactory().get("/manage/")
    request.user = admin_user
    pages = []
    for model, model_admin in manage_site._registry.items():
        info = f"manage:{model._meta.app_label}_{model._meta.model_name}"
        if not model_admin.has_view_or_change_permission(request):
            continue
        pages.append(reverse(f"{info}_changelist"))
        if model_admin.has_add_permission(request):
            try:
                pages.append(reverse(f"{info}_add"))
            except NoReverseMatch:
                pass
        first = model_admin.get_queryset(request).order_by("pk").first()
        if first is not None:
            pages.append(reverse(f"{info}_change", args=[first.pk]))
    return pages


# The walk runs WALKERS pages at once in one chromium (each page mostly waits for the network to go
# quiet), each browser context walking up to CHUNK pages of one person in one language.
WALKERS = 4
CHUNK = 10
LANGUAGES = ("zh-hans", "en")


async def new_context(browser, base: str, language: str, state: dict | None = None):
    context = await browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 900}, storage_state=state)
    if language == "en":
        await context.add_cookies([{"name": "django_language", "value": "en", "url": base}])
    return context


async def new_page(context, errors: list[str]):
    page = await context.new_page()
    page.set_default_timeout(30_000)
    page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    return page


async def log_in(browser, base: str, *, username: str, language: str, errors: list[str]) -> dict:
    """Sign in through the login form once per person and language; that person's contexts in the
    walk start from the signed-in session (Playwright's storage state: cookies and local storage)."""
    from django.conf import settings

    context = await new_context(browser, base, language)
    page = await new_page(context, errors)
    await page.goto(f"{base}/accounts/login/")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    async with page.expect_navigation(wait_until="load"):
        await page.click("button[type=submit]")
    state = await context.storage_state()
    await context.close()
    assert any(c["name"] == settings.SESSION_COOKIE_NAME for c in state["cookies"]), f"{username} was not signed in"
    return state


async def walk(browser, base: str, *, state: dict | None, pages: list[str], language: str, data_words, codes):
    context = await new_context(browser, base, language, state)
    errors: list[str] = []
    page = await new_page(context, errors)
    report = {}
    for path in pages:
        expect_status = 404 if path.startswith("/no-such-page") else 200
        response = await page.goto(base + path, wait_until="load")
        assert response is not None and response.status == expect_status, (path, response and response.status)
        await page.wait_for_load_state("networkidle")
        if expect_status == 404:  # the browser logs the page's own 404; nothing else may fail
            errors[:] = [e for e in errors if "404 (Not Found)" not in e]
        texts = await page.evaluate(PAGE_TEXT)
        found = problems(texts, chinese=language == "zh-hans", data_words=data_words, codes=codes)
        if found:
            report[path] = found
    await context.close()
    return report, errors


async def walk_all(base: str, runs, *, data_words, codes):
    """Every run's pages in every language; returns ({"<language> <username> <path>": problems}, console errors)."""
    untranslated: dict[str, list[str]] = {}
    console: list[str] = []
    async with async_chromium() as browser:
        limit = asyncio.Semaphore(WALKERS)

        async def person(username: str | None, pages: list[str], language: str) -> None:
            state = None
            if username:
                async with limit:
                    state = await log_in(browser, base, username=username, language=language, errors=console)

            async def chunk(part: list[str]) -> None:
                async with limit:
                    found, errors = await walk(
                        browser, base, state=state, pages=part, language=language, data_words=data_words, codes=codes
                    )
                untranslated.update({f"{language} {username} {path}": f for path, f in found.items()})
                console.extend(errors)

            await asyncio.gather(*(chunk(pages[i : i + CHUNK]) for i in range(0, len(pages), CHUNK)))

        await asyncio.gather(*(person(username, pages, language) for language in LANGUAGES for username, pages in runs))
    return untranslated, console


@pytest.mark.timeout(900)
def test_every_staff_page_is_in_the_users_language_and_logs_no_console_error(live_server_url, transactional_db):  # noqa: F811
    show = build()
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    u = show.users
    closed, customer = show.conversations["closed"], show.customers["li"]
    supervisor_pages = [
        "/supervisor/",
        "/supervisor/monitor/",
        "/supervisor/reports/",
        "/supervisor/history/",
        f"/supervisor/history/?text={'快递'}",
        f"/supervisor/conversations/{closed.pk}/",
        f"/supervisor/conversations/{show.conversations['active'].pk}/",
        "/supervisor/exports/",
        "/supervisor/follow-ups/",
        "/supervisor/customers/",
        f"/supervisor/customers/{customer.pk}/",
        "/supervisor/visitors/",
        "/supervisor/invitations/",
    ]
    agent_pages = [
        "/workbench/",
        "/workbench/history/",
        f"/workbench/history/{closed.pk}/",
        "/workbench/stats/",
        "/no-such-page/",
    ]
    runs = [
        (None, ["/accounts/login/", "/accounts/password-reset/"]),
        (u["agent_sh1"].username, agent_pages),
        (u["sup_east"].username, supervisor_pages),
        (u["admin"].username, ["/manage/", *manage_pages(u["admin"])]),
    ]
    data_words, codes = show.data_words(), raw_codes()
    untranslated, console = asyncio.run(walk_all(live_server_url, runs, data_words=data_words, codes=codes))
    assert console == []
    assert not untranslated, "\n".join(f"{page}: {found}" for page, found in sorted(untranslated.items()))

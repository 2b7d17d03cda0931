"""Learning from agents: missed questions are collected with the agent's reply, matched to the FAQ the
reply repeats, and accepted as a phrasing with one click (service and back office in Chromium)."""

from __future__ import annotations

import pytest

from apps.knowledge.demo import load_faq
from apps.knowledge.models import FaqEntry, MissedQuestion, MissedStatus
from tests.support.live import live_server_url  # noqa: F401  (a pytest fixture)

QUESTION = "海关把我寄去日本的货扣下了咋办"


def _international(tenant_id):
    faq = {f["key"]: f for f in load_faq()}
    return FaqEntry.objects.get(tenant_id=tenant_id, question=faq["international"]["question"])


def _missed_with_agent_reply(kit):
    """A visitor asks something the bot is unsure of, is handed off, and an agent answers with the
    international-shipping FAQ's answer (as agents paste it)."""
    from apps.knowledge.learning import missed_replies_collect

    kit.settings(confidence_threshold=0.99, max_low_confidence=1, slots_before_handoff=[])
    conversation = kit.start()
    kit.say(conversation, QUESTION)
    entry = _international(kit.org.tenant.pk)
    kit.say(conversation, entry.answer, sender_kind="agent", user=kit.org.agent_sh)
    assert missed_replies_collect(tenant_id=kit.org.tenant.pk) == 1
    return MissedQuestion.objects.get(tenant=kit.org.tenant), entry


def test_low_confidence_question_is_collected_with_the_agent_reply_and_its_faq(kit):
    missed, entry = _missed_with_agent_reply(kit)
    assert missed.text == QUESTION and missed.reason == "low_confidence"
    assert missed.reply_text == entry.answer
    assert missed.matched_entry_id == entry.pk and missed.match_score >= 0.9


def test_reply_collection_is_a_beat_job_and_a_second_run_changes_nothing(kit):
    from django.conf import settings

    from apps.knowledge.tasks import missed_replies_collect_task

    jobs = {job["task"] for job in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "apps.knowledge.tasks.missed_replies_collect_task" in jobs
    kit.settings(confidence_threshold=0.99, max_low_confidence=1, slots_before_handoff=[])
    conversation = kit.start()
    kit.say(conversation, QUESTION)
    entry = _international(kit.org.tenant.pk)
    assert missed_replies_collect_task() == 0  # no agent reply yet: the question waits for one
    kit.say(conversation, entry.answer, sender_kind="agent", user=kit.org.agent_sh)
    assert missed_replies_collect_task() == 1
    first = MissedQuestion.objects.filter(tenant=kit.org.tenant).values().get()
    assert first["matched_entry_id"] == entry.pk and first["reply_checked"]
    assert missed_replies_collect_task() == 0  # redelivered or overlapping run
    assert MissedQuestion.objects.filter(tenant=kit.org.tenant).values().get() == first


def test_accepting_adds_the_phrasing_and_the_bot_then_answers_it(kit):
    from apps.knowledge.index import get_index
    from apps.knowledge.learning import missed_question_accept

    missed, entry = _missed_with_agent_reply(kit)
    before = get_index(kit.org.tenant.pk).search(QUESTION, k=1)
    missed_question_accept(actor=kit.org.admin, missed_id=missed.pk, entry_id=entry.pk)
    entry.refresh_from_db()
    assert QUESTION in entry.similar_questions
    after = get_index(kit.org.tenant.pk).search(QUESTION, k=1)[0]
    assert after.entry_id == entry.pk and after.confidence > (before[0].confidence if before else 0)
    assert MissedQuestion.objects.get(pk=missed.pk).status == MissedStatus.ACCEPTED


def test_another_tenant_cannot_review_the_question(kit, kit_b):
    from django.http import Http404

    from apps.knowledge.learning import missed_question_accept

    missed, entry = _missed_with_agent_reply(kit)
    with pytest.raises(Http404):
        missed_question_accept(actor=kit_b.org.admin, missed_id=missed.pk, entry_id=entry.pk)


def test_handoff_word_records_the_question_asked_before_it(kit):
    kit.settings(slots_before_handoff=[], confidence_threshold=0.0)  # the bot answers the question itself
    conversation = kit.start()
    kit.say(conversation, "我的包裹在路上被雨淋湿了")
    kit.say(conversation, "转人工")
    missed = MissedQuestion.objects.get(tenant=kit.org.tenant)
    assert missed.text == "我的包裹在路上被雨淋湿了" and missed.reason == "handoff:requested"


@pytest.mark.browser
def test_back_office_page_clusters_counts_and_accepts_with_one_click(kit, live_server_url):  # noqa: F811
    from tests.conftest import PASSWORD
    from tests.support.browser import chromium

    missed, entry = _missed_with_agent_reply(kit)
    with chromium() as browser:
        page = browser.new_context(locale="zh-CN").new_page()
        page.goto(f"{live_server_url}/manage/")
        page.fill("#id_username", kit.org.admin.username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(f"{live_server_url}/manage/")
        page.goto(f"{live_server_url}/manage/knowledge/missedquestion/")
        cluster = page.locator(f".missed-cluster[data-entry='{entry.pk}']")
        assert entry.question in cluster.locator("h2").inner_text()
        assert "1" in cluster.locator(".missed-count").inner_text()
        row = cluster.locator(f".missed-row[data-id='{missed.pk}']")
        assert row.locator(".missed-text").inner_text() == QUESTION
        row.locator(".missed-accept button").click()
        page.wait_for_selector(".missed-empty")
    entry.refresh_from_db()
    assert QUESTION in entry.similar_questions

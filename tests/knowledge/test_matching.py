"""The matching engine on its own: the labelled set, typos, vocabulary, index freshness."""

from __future__ import annotations

import pytest

from apps.knowledge.demo import load_faq
from apps.knowledge.matching import EntryMeta, Segmenter, build_index

from .conftest import load_questions

TOP1_GOAL = 0.85
TOP3_GOAL = 0.95


@pytest.fixture(scope="module")
def faq_index():
    faq = load_faq()
    entries = [
        (EntryMeta(id=i, question=f["question"]), [f["question"], *f["similar"]], f["answer"])
        for i, f in enumerate(faq)
    ]
    return build_index(version=1, entries=entries), [f["key"] for f in faq]


@pytest.mark.smoke
def test_labelled_questions_meet_accuracy_goal(faq_index):
    index, keys = faq_index
    labelled = [(q, k) for q, k in load_questions() if k]
    assert len(labelled) >= 200 and len(set(keys)) >= 50
    top1 = top3 = 0
    for question, key in labelled:
        got = [keys[m.entry_id] for m in index.search(question, k=3)]
        top1 += got[:1] == [key]
        top3 += key in got
    assert top1 / len(labelled) >= TOP1_GOAL
    assert top3 / len(labelled) >= TOP3_GOAL


@pytest.mark.smoke
def test_test_questions_are_not_copied_into_the_faq_phrasings():
    phrasings = {p for f in load_faq() for p in [f["question"], *f["similar"]]}
    assert not phrasings & {q for q, _k in load_questions()}


@pytest.mark.smoke
def test_out_of_scope_questions_score_below_default_threshold(faq_index):
    from apps.knowledge.models import BotSettings

    threshold = BotSettings._meta.get_field("confidence_threshold").default
    index, _keys = faq_index
    off_topic = [q for q, k in load_questions() if k is None]
    low = [q for q in off_topic if not index.search(q, k=1) or index.search(q, k=1)[0].confidence < threshold]
    assert len(low) == len(off_topic)


@pytest.mark.smoke
@pytest.mark.parametrize(
    "typo,key", [("怎么查询物留信息", "track"), ("运废怎么算", "fee_calc"), ("没收到却显示签手了", "sign_not_received")]
)
def test_homophone_typos_still_match(faq_index, typo, key):
    index, keys = faq_index
    assert keys[index.search(typo, k=1)[0].entry_id] == key


@pytest.mark.smoke
def test_tenant_dictionary_keeps_domain_words_whole_and_synonyms_fold():
    plain = Segmenter()
    tenant = Segmenter(words=["优速达"], synonyms={"优速达": ["优速", "YSD"]})
    assert "优速达" not in plain.words("优速达怎么收费")
    assert "优速达" in tenant.words("优速达怎么收费")
    assert "优速达" in tenant.words("ysd怎么收费")
    assert plain.words("运单号忘了") == plain.words("单号忘了")


@pytest.mark.smoke
def test_scope_filter_and_empty_index():
    entries = [
        (EntryMeta(id=1, question="到付怎么收费", channel_id=7), ["到付怎么收费"], "a"),
        (EntryMeta(id=2, question="到付可以吗"), ["到付可以吗"], "b"),
    ]
    index = build_index(version=1, entries=entries)
    assert [m.entry_id for m in index.search("到付", k=2, allow=lambda m: m.channel_id in (None, 8))] == [2]
    assert build_index(version=1, entries=[]).search("到付") == []
    assert index.search("！！！") == []


@pytest.mark.smoke
def test_index_is_rebuilt_when_an_entry_changes(kit):
    from apps.knowledge.index import get_index
    from apps.knowledge.services import faq_entry_create, faq_entry_update

    tenant_id = kit.org.tenant.pk
    before = get_index(tenant_id)
    assert get_index(tenant_id) is before  # cached while nothing changes
    entry = faq_entry_create(tenant_id=tenant_id, question="冷柜车能租吗", answer="可以租冷柜车", similar_questions=[])
    after = get_index(tenant_id)
    assert after.version > before.version
    assert after.search("冷柜车能租吗", k=1)[0].entry_id == entry.pk
    faq_entry_update(entry=entry, is_enabled=False)
    assert all(m.entry_id != entry.pk for m in get_index(tenant_id).search("冷柜车能租吗", k=3))

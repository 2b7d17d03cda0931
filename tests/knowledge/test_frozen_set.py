"""The frozen evaluation set of issue 20 stays exactly as it was written (never tuned on, never edited)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

FROZEN = Path(__file__).resolve().parents[2] / "bench" / "data" / "frozen"
# The same digests are written in bench/README.md ("Frozen evaluation set").
SHA256 = {
    "faq_international_zh.json": "64dee351980e07fc69ab817638c34694db2216a3191a0c2e1a6c4c0d543f09df",
    "kb_questions_international.json": "7a09152a51f8801a1a9bddc9e8e8c23e2b96faf5a6cf28c777ca8ef1d40c24f8",
}


@pytest.mark.smoke
@pytest.mark.parametrize("name", sorted(SHA256))
def test_frozen_file_is_unchanged(name):
    assert hashlib.sha256((FROZEN / name).read_bytes()).hexdigest() == SHA256[name]


@pytest.mark.smoke
def test_frozen_set_shape_one_question_and_answer_per_faq_every_label_known():
    faq = json.loads((FROZEN / "faq_international_zh.json").read_text(encoding="utf-8"))
    questions = json.loads((FROZEN / "kb_questions_international.json").read_text(encoding="utf-8"))["questions"]
    keys = {f["key"] for f in faq}
    assert len(faq) >= 40 and all(f["question"] and f["answer"] and not f["similar"] for f in faq)
    assert len([q for q, k in questions if k]) >= 150 and any(k is None for _q, k in questions)
    assert {k for _q, k in questions if k} == keys

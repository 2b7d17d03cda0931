"""What the sentence model costs the bot's answer: close calls and time per question, per set.

    .venv/bin/python bench/kb_answer_cost.py

No database: the non-frozen one-question-per-entry sets of bench/kb_accuracy.py, each question
answered through kb_accuracy.ranked (the lexical candidates re-ranked as the bot's answer path does),
first with no entry embedded yet, then again with every entry's vector remembered.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kb_accuracy as bench  # noqa: E402

from apps.knowledge import semantic  # noqa: E402


def main() -> None:
    for name, faq_path, questions_path, with_similar, _may_show in bench.SETS:
        if "FROZEN" in name or name in ("main", "fresh"):  # the frozen set is never run for tuning
            continue
        faq = bench.load_faq(faq_path, with_similar=with_similar)
        index, _keys = bench.faq_index(faq)
        questions = [q for q, _k in bench.load_questions(questions_path)]
        bench.ranked(index, faq, questions[0])  # the model loaded
        semantic.passage_vector.cache_clear()
        semantic.query_vector.cache_clear()
        close = 0
        first: list[float] = []
        for q in questions:
            found = index.search(q, k=2)
            close += len(found) >= 2 and found[1].score >= (1 - semantic.RERANK_GATE) * found[0].score
            started = time.perf_counter()
            bench.ranked(index, faq, q)
            first.append(time.perf_counter() - started)
        semantic.query_vector.cache_clear()
        warm: list[float] = []
        for q in questions:
            started = time.perf_counter()
            bench.ranked(index, faq, q)
            warm.append(time.perf_counter() - started)
        print(
            f"{name}: close calls {close}/{len(questions)}; ms per answer p50/p95: entries not yet embedded "
            f"{np.percentile(first, 50) * 1e3:.0f}/{np.percentile(first, 95) * 1e3:.0f}, "
            f"entries embedded {np.percentile(warm, 50) * 1e3:.0f}/{np.percentile(warm, 95) * 1e3:.0f}"
        )


if __name__ == "__main__":
    main()

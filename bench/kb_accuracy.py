"""Knowledge-base matching accuracy on the labelled logistics question set.

    .venv/bin/python bench/kb_accuracy.py [--misses]

No database needed: builds the matching index straight from the FAQ file the demo tenant loads
(apps/knowledge/data/faq_logistics_zh.json) and asks every labelled question
(bench/data/kb_questions.json, plus the fresh held-out bench/data/kb_questions_fresh.json).
Reports top-1 accuracy, top-3 recall, how the confidence score separates right from wrong
answers, and how many out-of-scope questions stay under the bot's default threshold.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

from apps.knowledge.matching import EntryMeta, build_index  # noqa: E402

FAQ = ROOT / "apps" / "knowledge" / "data" / "faq_logistics_zh.json"
SETS = {
    "main": ROOT / "bench" / "data" / "kb_questions.json",
    "fresh": ROOT / "bench" / "data" / "kb_questions_fresh.json",
}
DEFAULT_THRESHOLD = 0.3  # BotSettings.confidence_threshold default


def evaluate(index, keys, questions, *, show_misses=False, label=""):
    labelled = [(q, k) for q, k in questions if k]
    top1 = top3 = 0
    right, wrong = [], []
    for q, k in labelled:
        matches = index.search(q, k=3)
        got = [keys[m.entry_id] for m in matches]
        conf = matches[0].confidence if matches else 0.0
        if got[:1] == [k]:
            top1 += 1
            right.append(conf)
        else:
            wrong.append(conf)
            if show_misses:
                print(f"  miss [{label}] {q!r} expected {k}, got {got} (conf {conf:.2f})")
        top3 += k in got
    off_topic = [q for q, k in questions if k is None]
    off_conf = [(index.search(q, k=1) or [None])[0] for q in off_topic]
    off_conf = [m.confidence if m else 0.0 for m in off_conf]
    return {
        "questions": len(labelled),
        "top1": top1 / len(labelled),
        "top3": top3 / len(labelled),
        "right_conf": right,
        "wrong_conf": wrong,
        "off_topic": len(off_topic),
        "off_topic_below_threshold": sum(c < DEFAULT_THRESHOLD for c in off_conf),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--misses", action="store_true", help="print every question whose top-1 is wrong")
    args = parser.parse_args()
    faq = json.loads(FAQ.read_text(encoding="utf-8"))
    keys = [f["key"] for f in faq]
    entries = [
        (EntryMeta(id=i, question=f["question"]), [f["question"], *f["similar"]], f["answer"])
        for i, f in enumerate(faq)
    ]
    started = time.perf_counter()
    index = build_index(version=1, entries=entries)
    print(
        f"FAQ entries: {len(faq)}, phrasings: {sum(1 + len(f['similar']) for f in faq)}, "
        f"index built in {time.perf_counter() - started:.2f}s"
    )
    results = {}
    for name, path in SETS.items():
        questions = [tuple(q) for q in json.loads(path.read_text(encoding="utf-8"))["questions"]]
        results[name] = r = evaluate(index, keys, questions, show_misses=args.misses, label=name)
        print(
            f"[{name}] {r['questions']} questions: top-1 {r['top1']:.1%}, top-3 {r['top3']:.1%}; "
            f"out-of-scope under threshold {DEFAULT_THRESHOLD}: {r['off_topic_below_threshold']}/{r['off_topic']}"
        )
        if name == "main":
            labelled = [(q, k) for q, k in questions if k]
            for half, part in (("even rows", labelled[0::2]), ("odd rows", labelled[1::2])):
                h = evaluate(index, keys, part)
                print(f"    {half}: top-1 {h['top1']:.1%}, top-3 {h['top3']:.1%}")
    r = results["main"]
    print("confidence of the top answer (main set):")
    print(
        f"    right answers: median {statistics.median(r['right_conf']):.2f}; "
        f"wrong answers: median {statistics.median(r['wrong_conf']) if r['wrong_conf'] else 0:.2f}"
    )
    print("    threshold | answered directly | of which right | right answers held back")
    for threshold in (0.2, 0.25, 0.3, 0.35, 0.4, 0.5):
        ok = sum(c >= threshold for c in r["right_conf"])
        bad = sum(c >= threshold for c in r["wrong_conf"])
        answered = ok + bad
        print(
            f"    {threshold:>9.2f} | {answered / r['questions']:>17.1%} | "
            f"{(ok / answered if answered else 0):>14.1%} | {1 - ok / len(r['right_conf']):>22.1%}"
        )


if __name__ == "__main__":
    main()

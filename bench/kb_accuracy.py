"""Knowledge-base matching accuracy on every labelled question set, with one command.

    .venv/bin/python bench/kb_accuracy.py [--misses] [--json FILE]

No database needed: builds the matching index straight from each FAQ file and asks every labelled
question. For each set it reports top-1 accuracy, top-3 recall, how many questions the bot would
answer directly at the default confidence threshold and how many of those are right (precision),
and how many out-of-scope questions stay under the threshold.

Sets (see bench/README.md):
- main / fresh: the express FAQ the demo tenant loads (apps/knowledge/data/faq_logistics_zh.json),
  as shipped (6-10 phrasings per entry) and reduced to its standard question only ("q-only");
- frozen: international express & customs (bench/data/frozen), one question + answer per entry,
  written before the engine changed and never tuned on — --misses never prints its questions;
- dev: cold-chain (bench/data/dev), one question + answer per entry, the set the engine is tuned on.
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

from apps.knowledge import semantic  # noqa: E402
from apps.knowledge.matching import EntryMeta, build_index  # noqa: E402

DATA = ROOT / "bench" / "data"
LOGISTICS = ROOT / "apps" / "knowledge" / "data" / "faq_logistics_zh.json"
# (name, FAQ file, questions file, keep similar phrasings, may print misses)
SETS = [
    ("main", LOGISTICS, DATA / "kb_questions.json", True, True),
    ("fresh", LOGISTICS, DATA / "kb_questions_fresh.json", True, True),
    ("main q-only", LOGISTICS, DATA / "kb_questions.json", False, True),
    ("fresh q-only", LOGISTICS, DATA / "kb_questions_fresh.json", False, True),
    (
        "dev cold-chain",
        DATA / "dev" / "faq_coldchain_zh.json",
        DATA / "dev" / "kb_questions_coldchain.json",
        True,
        True,
    ),
    (
        "FROZEN international",
        DATA / "frozen" / "faq_international_zh.json",
        DATA / "frozen" / "kb_questions_international.json",
        True,
        False,
    ),
]
DEFAULT_THRESHOLD = 0.3  # BotSettings.confidence_threshold default


def load_faq(path: Path, *, with_similar: bool = True) -> list[dict]:
    faq = json.loads(path.read_text(encoding="utf-8"))
    if not with_similar:
        faq = [{**f, "similar": []} for f in faq]
    return faq


def faq_index(faq: list[dict], version: int = 1):
    entries = [
        (EntryMeta(id=i, question=f["question"]), [f["question"], *f.get("similar", [])], f["answer"])
        for i, f in enumerate(faq)
    ]
    return build_index(version=version, entries=entries), [f["key"] for f in faq]


def ranked(index, faq: list[dict] | None, question: str, k: int = 3):
    """What the bot's answer path does (apps.knowledge.providers.LocalProvider): the lexical
    candidates, re-ranked by the sentence model on a close call; faq=None: lexical only."""
    if faq is None:
        return index.search(question, k=k)
    candidates = index.search(question, k=max(k, semantic.RERANK_CANDIDATES))
    texts = [f"{f['question']} {f['answer']}" for f in faq]
    return semantic.rerank(question, candidates, score=lambda m: m.score, passage=lambda m: texts[m.entry_id])[:k]


def load_questions(path: Path) -> list[tuple[str, str | None]]:
    return [tuple(q) for q in json.loads(path.read_text(encoding="utf-8"))["questions"]]


def evaluate(index, keys, questions, *, threshold=DEFAULT_THRESHOLD, show_misses=False, label="", faq=None):
    labelled = [(q, k) for q, k in questions if k]
    top1 = top3 = 0
    right, wrong = [], []
    for q, k in labelled:
        matches = ranked(index, faq, q)
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
    off_conf = []
    for q in off_topic:
        m = ranked(index, faq, q, k=1)
        off_conf.append(m[0].confidence if m else 0.0)
        if show_misses and off_conf[-1] >= threshold:
            print(f"  out-of-scope answered [{label}] {q!r} (conf {off_conf[-1]:.2f})")
    direct_right = sum(c >= threshold for c in right)
    direct_wrong = sum(c >= threshold for c in wrong)
    direct_off = sum(c >= threshold for c in off_conf)
    direct = direct_right + direct_wrong + direct_off
    return {
        "questions": len(labelled),
        "top1": top1 / len(labelled),
        "top3": top3 / len(labelled),
        "answered_directly": (direct_right + direct_wrong) / len(labelled),
        "direct_precision": direct_right / direct if direct else 1.0,
        "right_conf": right,
        "wrong_conf": wrong,
        "off_topic": len(off_topic),
        "off_topic_below_threshold": len(off_topic) - direct_off,
    }


def calibration(r: dict) -> list[str]:
    lines = ["    threshold | answered directly | of which right | right answers held back"]
    for threshold in (0.2, 0.25, 0.3, 0.35, 0.4, 0.5):
        ok = sum(c >= threshold for c in r["right_conf"])
        bad = sum(c >= threshold for c in r["wrong_conf"])
        answered = ok + bad
        lines.append(
            f"    {threshold:>9.2f} | {answered / r['questions']:>17.1%} | "
            f"{(ok / answered if answered else 0):>14.1%} | {1 - ok / max(1, len(r['right_conf'])):>22.1%}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--misses", action="store_true", help="print wrong top-1 answers (never of the frozen set)")
    parser.add_argument("--only", help="evaluate only the sets whose name contains this")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--lexical", action="store_true", help="without the sentence model's re-ranking")
    args = parser.parse_args()
    results = {}
    indexes: dict[tuple, tuple] = {}
    print(f"default threshold {DEFAULT_THRESHOLD}")
    print("set                  | questions | top-1  | top-3  | answered directly | precision | out-of-scope below")
    for name, faq_path, questions_path, with_similar, may_show in SETS:
        if args.only and args.only not in name:
            continue
        cache_key = (faq_path, with_similar)
        if cache_key not in indexes:
            faq = load_faq(faq_path, with_similar=with_similar)
            started = time.perf_counter()
            indexes[cache_key] = (*faq_index(faq), time.perf_counter() - started, faq)
        index, keys, _built, faq = indexes[cache_key]
        r = evaluate(
            index,
            keys,
            load_questions(questions_path),
            show_misses=args.misses and may_show,
            label=name,
            faq=None if args.lexical else faq,
        )
        results[name] = r
        print(
            f"{name:<20} | {r['questions']:>9} | {r['top1']:>6.1%} | {r['top3']:>6.1%} | "
            f"{r['answered_directly']:>17.1%} | {r['direct_precision']:>9.1%} | "
            f"{r['off_topic_below_threshold']}/{r['off_topic']}"
        )
    for name in ("main", "FROZEN international"):
        if name in results:
            r = results[name]
            print(f"confidence of the top answer ({name}):")
            print(
                f"    right answers: median {statistics.median(r['right_conf'] or [0]):.2f}; "
                f"wrong answers: median {statistics.median(r['wrong_conf'] or [0]):.2f}"
            )
            print("\n".join(calibration(r)))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {k: {m: v for m, v in r.items() if not m.endswith("_conf")} for k, r in results.items()}, indent=1
            )
        )


if __name__ == "__main__":
    main()

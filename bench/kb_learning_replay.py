"""Learning from agents, replayed: accuracy on unseen questions as accepted phrasings accumulate.

    .venv/bin/python bench/kb_learning_replay.py [--seeds 5]

Every set starts from a one-question-per-entry FAQ (what an imported Easemob FAQ gives). Visitor
questions then arrive one by one in a shuffled order (one order per seed). When the bot's first
answer is wrong or below the default threshold, the question is "missed": an agent answers it with
the right entry's answer text, the reply is matched to an FAQ answer exactly as
apps.knowledge.learning does (KbIndex.match_answer, same REPLY_MATCH_MIN), and an admin accepts the
question as a phrasing of the matched entry. Top-1 on held-out questions, never added, is measured
after 0, 1/4, 1/2, 3/4 and all of the stream, averaged over the seeds. No database: the index is
built directly, as bench/kb_accuracy.py does.

Two kinds of set:
- express: the 229 questions of the main labelled set are the stream, the 58 fresh questions (written
  later, separately) are held out: about four customer questions per entry arrive;
- dev cold-chain and frozen international: each set's own questions, shuffled, the last quarter held
  out and the rest streamed: about three questions per entry, each written to be unlike the others.
"""

from __future__ import annotations

import argparse
import random
import statistics

from kb_accuracy import DATA, DEFAULT_THRESHOLD, LOGISTICS, faq_index, load_faq, load_questions

from apps.knowledge.matching import REPLY_MATCH_MIN

# (name, FAQ file, questions streamed, questions held out; None: the stream's own last quarter)
SETS = [
    ("express: main -> fresh", LOGISTICS, DATA / "kb_questions.json", DATA / "kb_questions_fresh.json"),
    ("dev cold-chain", DATA / "dev" / "faq_coldchain_zh.json", DATA / "dev" / "kb_questions_coldchain.json", None),
    (
        "frozen international",
        DATA / "frozen" / "faq_international_zh.json",
        DATA / "frozen" / "kb_questions_international.json",
        None,
    ),
]
MARKS = (0, 1 / 4, 1 / 2, 3 / 4, 1)


def top1(index, keys, questions) -> float:
    return sum([keys[m.entry_id] for m in index.search(q, k=1)] == [k] for q, k in questions) / len(questions)


def replay(
    faq: list[dict], questions: list[tuple[str, str]], held_out: list[tuple[str, str]] | None, seed: int
) -> tuple[list[float], int]:
    rng = random.Random(seed)
    questions = questions[:]
    rng.shuffle(questions)
    if held_out is None:
        cut = len(questions) * 3 // 4
        stream, held_out = questions[:cut], questions[cut:]
    else:
        stream = questions
    faq = [{**f, "similar": []} for f in faq]
    by_key = {f["key"]: f for f in faq}
    index, keys = faq_index(faq)
    marks = {round(len(stream) * m) for m in MARKS}
    curve, accepted, version = [], 0, 1
    for n, (question, key) in enumerate([*stream, (None, None)]):
        if n in marks:
            curve.append(top1(index, keys, held_out))
        if question is None:
            break
        best = index.search(question, k=1)
        if best and keys[best[0].entry_id] == key and best[0].confidence >= DEFAULT_THRESHOLD:
            continue
        entry_id, score = index.match_answer(by_key[key]["answer"])  # the agent's reply
        if entry_id is None or score < REPLY_MATCH_MIN:
            continue
        faq[entry_id]["similar"].append(question)
        accepted += 1
        version += 1
        index, keys = faq_index(faq, version)
    return curve, accepted


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    print("set                    | streamed | held out | held-out top-1 after 0 | 1/4 | 1/2 | 3/4 | all | accepted")
    for name, faq_path, stream_path, held_path in SETS:
        faq = load_faq(faq_path, with_similar=False)
        questions = [(q, k) for q, k in load_questions(stream_path) if k]
        held_out = [(q, k) for q, k in load_questions(held_path) if k] if held_path else None
        runs = [replay(faq, questions, held_out, seed) for seed in range(args.seeds)]
        curves, accepted = zip(*runs, strict=True)
        mean = [statistics.mean(c[i] for c in curves) for i in range(len(MARKS))]
        streamed = len(questions) if held_out else len(questions) * 3 // 4
        held = len(held_out) if held_out else len(questions) - streamed
        print(
            f"{name:<22} | {streamed:>8} | {held:>8} | {mean[0]:>22.1%} | "
            + " | ".join(f"{m:.1%}" for m in mean[1:])
            + f" | {statistics.mean(accepted):.0f}"
        )


if __name__ == "__main__":
    main()

"""Learning from agents, replayed: accuracy on unseen questions as accepted phrasings accumulate.

    .venv/bin/python bench/kb_learning_replay.py [--seeds 5]

For each one-question-per-entry set, the labelled questions are shuffled; the last quarter is held
out and never added. The first three quarters arrive one by one as visitors would ask them. When
the bot's first answer is wrong or below the default threshold, the question is "missed": an agent
answers it with the right entry's answer text, the reply is matched to an FAQ answer exactly as
apps.knowledge.learning does (KbIndex.match_answer, same REPLY_MATCH_MIN), and an admin accepts
the question as a phrasing of the matched entry. Top-1 on the held-out quarter is measured after
0, 1/3, 2/3 and all of the stream, averaged over the seeds. No database: the index is built
directly, as bench/kb_accuracy.py does.
"""

from __future__ import annotations

import argparse
import random
import statistics

from kb_accuracy import DATA, DEFAULT_THRESHOLD, LOGISTICS, faq_index, load_faq, load_questions

from apps.knowledge.matching import REPLY_MATCH_MIN

SETS = [
    ("express fresh, q-only", LOGISTICS, DATA / "kb_questions_fresh.json"),
    ("dev cold-chain", DATA / "dev" / "faq_coldchain_zh.json", DATA / "dev" / "kb_questions_coldchain.json"),
    (
        "frozen international",
        DATA / "frozen" / "faq_international_zh.json",
        DATA / "frozen" / "kb_questions_international.json",
    ),
]


def top1(index, keys, questions) -> float:
    return sum([keys[m.entry_id] for m in index.search(q, k=1)] == [k] for q, k in questions) / len(questions)


def replay(faq: list[dict], questions: list[tuple[str, str]], seed: int) -> tuple[list[float], int]:
    rng = random.Random(seed)
    questions = questions[:]
    rng.shuffle(questions)
    cut = len(questions) * 3 // 4
    stream, held_out = questions[:cut], questions[cut:]
    faq = [{**f, "similar": []} for f in faq]
    by_key = {f["key"]: f for f in faq}
    index, keys = faq_index(faq)
    marks = {0, len(stream) // 3, 2 * len(stream) // 3, len(stream)}
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
    print("set                    | held-out top-1 after 0 | 1/3 | 2/3 | all of the stream | phrasings accepted")
    for name, faq_path, questions_path in SETS:
        faq = load_faq(faq_path, with_similar=False)
        questions = [(q, k) for q, k in load_questions(questions_path) if k]
        curves, accepted = zip(*(replay(faq, questions, seed) for seed in range(args.seeds)), strict=True)
        mean = [statistics.mean(c[i] for c in curves) for i in range(4)]
        print(
            f"{name:<22} | {mean[0]:>22.1%} | {mean[1]:.1%} | {mean[2]:.1%} | {mean[3]:>17.1%} | "
            f"{statistics.mean(accepted):.0f} of {len(questions) * 3 // 4}"
        )


if __name__ == "__main__":
    main()

"""Tenant patterns cannot stall a task (issue 13): slot capture with catastrophic patterns.

    .venv/bin/python bench/patterns_bench.py [--repeat 20]

A tenant admin may store any waybill pattern (and invitation rules use the same engine). On
Python's backtracking `re`, `(a+)+$` on 'a'*27+'!' took 13 s and doubled with each character.
Here every pattern is compiled by apps.knowledge.capture.compile_pattern (RE2, linear time) and
run through extract_slots - the function the bot's slot capture calls on each visitor message -
together with the built-in phone/name/address patterns, on adversarial messages of up to 5,000
characters (the longest message the protocol accepts). Prints the worst and median time per
message for each (pattern set, message) pair; the goal is every worst case under 100 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

CATASTROPHIC = [
    r"(a+)+$",
    r"(a|aa)+$",
    r"(a|a?)+b",
    r"(\w+\s?)+$",
    r"(.*a){20}",
    r"^(([a-z])+.)+[A-Z]([a-z])+$",
    r"(\d+)*[A-Z]{2}\d{10}",
]
LIMIT = 5000


def messages() -> dict[str, str]:
    return {
        "a*27+!": "a" * 27 + "!",
        "a*4999+!": "a" * (LIMIT - 1) + "!",
        "words+!": ("aaaa " * (LIMIT // 5))[: LIMIT - 1] + "!",
        "digits": "1" * LIMIT,
        "waybill-like": ("SF" + "1" * 9 + " ") * (LIMIT // 12),
        "地址 spaces": "地址" + " " * (LIMIT - 3) + "!",
        "送到 repeated": "送到" * (LIMIT // 2),
        "我叫 repeated": "我叫：" * (LIMIT // 3),
        "mixed chinese": ("我的运单号是SF1234567890，寄到上海市浦东新区张江路88号，电话13800138000。" * 100)[:LIMIT],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    import django

    django.setup()
    from apps.knowledge.capture import DEFAULT_WAYBILL_PATTERNS, compile_patterns, extract_slots

    sets = {
        "defaults": compile_patterns("\n".join(DEFAULT_WAYBILL_PATTERNS)),
        "catastrophic x7": compile_patterns("\n".join(CATASTROPHIC)),
    }
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'patterns':<16} {'message':<16} {'chars':>6} {'median ms':>10} {'worst ms':>9}")
    worst_overall = 0.0
    for set_name, patterns in sets.items():
        for name, text in messages().items():
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                extract_slots(text, waybill_patterns=patterns)
                times.append((time.perf_counter() - start) * 1000)
            worst_overall = max(worst_overall, max(times))
            print(f"{set_name:<16} {name:<16} {len(text):>6} {statistics.median(times):>10.2f} {max(times):>9.2f}")
    print(f"worst case: {worst_overall:.2f} ms (goal < 100 ms)")


if __name__ == "__main__":
    main()

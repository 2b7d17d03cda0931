"""Chinese FAQ matching: segmentation, synonyms, BM25, char n-grams, pinyin, confidence.

Pure Python + numpy, no Django imports: the index is built from plain rows, so the benchmark
and the tests can drive it directly.

Every phrasing of an entry (the standard question and each similar question) is one BM25
document. A text becomes three kinds of tokens:

- words: jieba segmentation after a longest-match pass over the tenant's dictionary and
  synonyms (so 快运, 到付, 单号 stay whole without touching jieba's global dictionary, which
  other tenants share), synonyms folded to their canonical word;
- ``c:`` character bigrams, the fallback when segmentation disagrees (typos, unknown words);
- ``p:`` toneless pinyin bigrams, so a homophone typo (签手 for 签收, 快地 for 快递) still meets.

rank_bm25 gives the BM25 model (idf with its epsilon floor, document lengths, k1, b); the
scores are then precomputed per posting so a query is a handful of numpy scatter-adds over an
inverted index instead of a loop over every document, which keeps 10,000 entries well under
the 50 ms suggestion budget. An entry's score is the best score of its phrasings.

Confidence is the idf-weighted share of the query's tokens found in the best phrasing (and of
the phrasing's tokens found in the query), combined as an F-measure that weights the query
side more; see bench/README.md for how it behaves on the labelled set.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import jieba
import numpy as np
from pypinyin import Style, lazy_pinyin
from rank_bm25 import BM25Okapi

jieba.setLogLevel(logging.WARNING)

# Domain words of Chinese express freight, kept whole for every tenant (tenants add their own).
DEFAULT_WORDS = [
    "快运",
    "快递",
    "快件",
    "到付",
    "寄付",
    "签收",
    "单号",
    "运单号",
    "运单",
    "寄件",
    "取件",
    "上门取件",
    "保价",
    "代收货款",
    "派送",
    "派件",
    "揽收",
    "揽件",
    "物流",
    "时效",
    "运费",
    "首重",
    "续重",
    "体积重",
    "泡货",
    "冷链",
    "改地址",
    "退回",
    "拒收",
    "快递员",
    "网点",
    "营业部",
    "理赔",
    "破损",
    "丢件",
    "催件",
    "自提",
    "驿站",
    "快递柜",
    "发票",
    "月结",
    "偏远地区",
    "港澳台",
    "国际件",
    "违禁品",
    "包装",
    "纸箱",
    "电子面单",
    "代签",
    "转寄",
    "退件",
    "大件",
    "整车",
    "零担",
    "送货上门",
    "上楼",
    "预约",
    "人工客服",
    "转人工",
    "投诉",
    "客服电话",
    "会员",
    "积分",
    "优惠券",
    "发货",
    "收件人",
    "寄件人",
    "生鲜",
    "易碎品",
    "木架",
    "保险",
    "中转",
    "滞留",
    "派送中",
    "已签收",
    "开发票",
    "电子发票",
    "专票",
    "普票",
    "身份证",
    "实名",
    "实名制",
    "营业时间",
    "周末",
    "节假日",
    "催一下",
]

# canonical word -> phrasings read as that word (tenants add and override their own groups).
DEFAULT_SYNONYMS: dict[str, list[str]] = {
    "快递": ["快件", "包裹", "货物", "东西", "件儿"],
    "单号": ["运单号", "快递单号", "运单", "订单号", "单子号", "物流单号"],
    "运费": ["邮费", "快递费", "运价", "资费", "寄费"],
    "寄件": ["寄快递", "发快递", "寄东西", "发件", "邮寄", "寄个"],
    "多久": ["多长时间", "几天", "多少天", "要多久", "多久能", "啥时候", "什么时候"],
    "查询": ["查", "查一下", "查看", "看一下", "查查"],
    "揽收": ["揽件", "收件"],
    "取件": ["上门取件", "上门收件", "来取"],
    "签收": ["签了", "签字", "已签收"],
    "改地址": ["修改地址", "更改地址", "换地址", "地址改", "改收货地址"],
    "丢件": ["丢失", "弄丢", "丢了", "找不到", "不见了"],
    "破损": ["坏了", "摔坏", "损坏", "压坏", "碎了", "破了"],
    "理赔": ["赔偿", "赔钱", "索赔", "赔付"],
    "快递员": ["小哥", "派送员", "配送员", "快递小哥", "送货员", "司机"],
    "怎么": ["如何", "怎样", "咋", "怎么样", "怎么办"],
    "可以": ["能不能", "可不可以", "能否", "能", "行不行"],
    "电话": ["手机号", "号码", "联系方式"],
    "网点": ["营业点", "营业部", "门店", "服务点"],
    "多少钱": ["价格", "收费", "几块钱", "怎么收费", "费用"],
    "计算": ["算", "计费", "核算"],
    "延误": ["延迟", "晚到", "超时", "晚了", "迟到", "耽误"],
    "退回": ["退回去", "退回来", "寄回", "返回", "退还", "原路退回"],
    "节假日": [
        "放假",
        "假期",
        "过年",
        "春节",
        "国庆",
        "五一",
        "十一",
        "周末",
        "星期天",
        "星期六",
        "周日",
        "周六",
        "法定假日",
        "假日",
    ],
    "活体动物": ["宠物", "猫", "狗", "猫狗", "活物", "活体"],
    "化妆品": ["护肤品", "面霜", "口红", "乳液"],
    "生鲜": ["海鲜", "冷冻", "冻品", "螃蟹", "大闸蟹", "水果", "鲜肉", "冷链"],
    "大件": ["家具", "家电", "沙发", "床", "冰箱", "重货", "大件物品", "搬家"],
    "发票": ["专票", "普票", "开票", "电子发票", "增值税发票"],
    "上班": ["营业", "有人", "在线", "值班", "上班时间"],
    "重量": ["斤", "公斤", "kg", "千克"],
    "禁寄": ["违禁", "不能寄", "禁止寄", "禁止寄递"],
    "管制刀具": ["刀", "刀具", "菜刀", "水果刀", "匕首"],
    "易燃易爆": ["打火机", "火柴", "鞭炮", "烟花", "汽油", "酒精", "易燃", "易爆"],
    "首饰": ["项链", "金项链", "戒指", "手镯", "黄金", "珠宝", "金饰"],
    "食品": ["腊肉", "特产", "零食", "吃的", "土特产", "月饼"],
    "国外": ["日本", "美国", "韩国", "英国", "澳洲", "澳大利亚", "加拿大", "新加坡", "海外", "国际"],
    "港澳台": ["香港", "澳门", "台湾"],
    "酒": ["白酒", "红酒", "啤酒", "黄酒"],
    "纸箱": ["纸盒", "箱子", "盒子", "包装箱"],
    "少件": ["少了", "缺少", "缺件", "少东西", "漏发"],
    "优惠券": ["优惠", "折扣", "打折", "红包", "代金券"],
    # Ordinary place names read as one token: the question's intent (price, time ...) then decides.
    # Remote regions (新疆, 西藏 ...) stay themselves: they change the answer.
    "地名": [
        "北京",
        "上海",
        "天津",
        "重庆",
        "广州",
        "深圳",
        "杭州",
        "南京",
        "苏州",
        "成都",
        "武汉",
        "西安",
        "郑州",
        "长沙",
        "合肥",
        "济南",
        "青岛",
        "沈阳",
        "大连",
        "厦门",
        "福州",
        "昆明",
        "南昌",
        "宁波",
        "无锡",
        "东莞",
        "佛山",
        "哈尔滨",
        "长春",
        "石家庄",
        "太原",
        "南宁",
        "贵阳",
        "海口",
        "兰州",
        "江苏",
        "浙江",
        "广东",
        "山东",
        "河南",
        "河北",
        "湖北",
        "湖南",
        "四川",
        "福建",
        "安徽",
        "江西",
        "辽宁",
        "吉林",
        "黑龙江",
        "山西",
        "陕西",
        "广西",
        "云南",
        "贵州",
        "海南",
        "甘肃",
        "外地",
        "外省",
        "老家",
        "省外",
    ],
}

STOPWORDS = frozenset(
    "的 了 吗 呢 啊 吧 呀 哦 嗯 么 哈 我 我的 你 你们 您 请问 请 一下 你好 您好 在 是 这个 那个 就 还 也 都 和 跟 "
    "给 麻烦 谢谢 想 要 有 个 下 能帮 帮 帮我 一个 这 那 啦 嘛 哎 诶 吗? 呗".split()
)

_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)
_CJK = re.compile(r"[\u4e00-\u9fff]")

WORD_WEIGHT = 1.0
CHAR_WEIGHT = 0.45
PINYIN_WEIGHT = 0.35
ANSWER_SHARE = 0.35


def _argmax_reduceat(values: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Offset of the maximum inside each [start, end) segment."""
    maxima = np.maximum.reduceat(values, starts)
    seg = np.repeat(np.arange(len(starts)), ends - starts)
    is_max = values == maxima[seg]
    # first index per segment where the maximum occurs
    idx = np.flatnonzero(is_max)
    first = np.full(len(starts), -1, dtype=np.int64)
    seg_of = seg[idx]
    first[seg_of[::-1]] = idx[::-1]
    return first - starts


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").lower()
    return _PUNCT.sub(" ", text).strip()


@lru_cache(maxsize=20000)
def _char_pinyin(ch: str) -> str:
    return lazy_pinyin(ch, style=Style.NORMAL)[0] if _CJK.match(ch) else ch


_jieba_ready = False
_jieba_lock = threading.Lock()


def _ensure_jieba() -> None:
    global _jieba_ready
    if _jieba_ready:
        return
    with _jieba_lock:
        if not _jieba_ready:
            for w in DEFAULT_WORDS:
                jieba.add_word(w, freq=20000)
            jieba.initialize()
            _jieba_ready = True


_segmenters: dict[tuple, Segmenter] = {}


def segmenter_for(words: Iterable[str] = (), synonyms: dict[str, Iterable[str]] | None = None) -> Segmenter:
    """One Segmenter (and its token cache) per distinct vocabulary, reused across index rebuilds."""
    signature = (tuple(sorted(set(words))), tuple(sorted((k, tuple(v)) for k, v in (synonyms or {}).items())))
    segmenter = _segmenters.get(signature)
    if segmenter is None:
        if len(_segmenters) > 64:
            _segmenters.clear()
        segmenter = _segmenters[signature] = Segmenter(words, synonyms)
    return segmenter


class Segmenter:
    """jieba plus a longest-match pass over the tenant's own words, then synonym folding."""

    def __init__(self, words: Iterable[str] = (), synonyms: dict[str, Iterable[str]] | None = None):
        _ensure_jieba()
        canonical: dict[str, str] = {}
        merged: dict[str, list[str]] = {k: list(v) for k, v in DEFAULT_SYNONYMS.items()}
        for k, v in (synonyms or {}).items():
            merged.setdefault(k, []).extend(v)
        for head, syns in merged.items():
            head_n = normalize(head).replace(" ", "")
            for s in syns:
                s_n = normalize(s).replace(" ", "")
                if s_n and s_n != head_n:
                    canonical[s_n] = head_n
        self.canonical = canonical
        phrases = {normalize(w).replace(" ", "") for w in words} | set(canonical) | set(canonical.values())
        # Single characters stay with jieba: a one-character synonym must not split words apart.
        self.phrases = {p for p in phrases if len(p) >= 2}
        self.max_len = max((len(p) for p in self.phrases), default=1)

    def _protect(self, chunk: str) -> list[str]:
        """Split a chunk into known phrases (kept) and the gaps between them (for jieba)."""
        out: list[str] = []
        gap_start = 0
        i = 0
        n = len(chunk)
        while i < n:
            hit = 0
            for length in range(min(self.max_len, n - i), 1, -1):
                if chunk[i : i + length] in self.phrases:
                    hit = length
                    break
            if hit:
                if gap_start < i:
                    out.extend(jieba.lcut_for_search(chunk[gap_start:i], HMM=True))
                out.append(chunk[i : i + hit])
                i += hit
                gap_start = i
            else:
                i += 1
        if gap_start < n:
            out.extend(jieba.lcut_for_search(chunk[gap_start:n], HMM=True))
        return out

    # Tokenising is most of an index build: remember texts already seen, so rebuilding after one
    # edit (same vocabulary, same segmenter) only tokenises what changed.
    CACHE_LIMIT = 400_000

    def _cached(self, kind: str, text: str, fn) -> list[str]:
        cache = self.__dict__.setdefault("_cache", {})
        key = (kind, text)
        hit = cache.get(key)
        if hit is None:
            if len(cache) >= self.CACHE_LIMIT:
                cache.clear()
            hit = cache[key] = fn(text)
        return hit

    def words(self, text: str) -> list[str]:
        return list(self._cached("w", text, self._words))

    def tokens(self, text: str) -> list[str]:
        return list(self._cached("t", text, self._tokens))

    def _words(self, text: str) -> list[str]:
        result: list[str] = []
        for chunk in normalize(text).split():
            for w in self._protect(chunk):
                w = w.strip()
                if not w or w in STOPWORDS:
                    continue
                result.append(self.canonical.get(w, w))
        return result

    def _tokens(self, text: str) -> list[str]:
        words = self.words(text)
        compact = "".join(normalize(text).split())
        chars = [c for c in compact if c not in STOPWORDS]
        bigrams = ["c:" + chars[i] + chars[i + 1] for i in range(len(chars) - 1)]
        cjk = [c for c in chars if _CJK.match(c)]
        pins = [_char_pinyin(c) for c in cjk]
        pin_bigrams = ["p:" + pins[i] + "_" + pins[i + 1] for i in range(len(pins) - 1)]
        if len(chars) == 1:
            bigrams = ["c:" + chars[0]]
        return words + bigrams + pin_bigrams


def _type_weight(token: str) -> float:
    if token.startswith("c:"):
        return CHAR_WEIGHT
    if token.startswith("p:"):
        return PINYIN_WEIGHT
    return WORD_WEIGHT


@dataclass
class EntryMeta:
    id: int
    question: str
    branch_path: str | None = None
    channel_id: int | None = None
    valid_from: object = None
    valid_to: object = None
    category: str = ""


@dataclass
class Match:
    entry_id: int
    question: str
    matched_phrasing: str
    score: float
    confidence: float
    category: str = ""


@dataclass
class KbIndex:
    version: int
    segmenter: Segmenter
    entries: list[EntryMeta]
    doc_entry: np.ndarray  # doc index -> entry index
    doc_text: list[str]
    doc_tokens: list[frozenset]
    doc_weight: np.ndarray  # sum of idf*type weight of a doc's distinct tokens
    postings: dict[str, tuple[np.ndarray, np.ndarray]]
    answer_postings: dict[str, tuple[np.ndarray, np.ndarray]]
    doc_starts: np.ndarray  # first doc of each entry that has docs (docs of an entry are contiguous)
    doc_ends: np.ndarray
    idf: dict[str, float]
    max_idf: float
    build_seconds: float = 0.0
    _scope_masks: dict = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.entries)

    def _token_idf(self, token: str) -> float:
        return self.idf.get(token, self.max_idf)

    def _scores(self, postings: dict, q_tokens: set, n: int) -> np.ndarray | None:
        scores = np.zeros(n, dtype=np.float32)
        hit = False
        for t in q_tokens:
            posting = postings.get(t)
            if posting is not None:
                scores[posting[0]] += posting[1]
                hit = True
        return scores if hit else None

    def search(self, text: str, *, k: int = 3, allow: Callable[[EntryMeta], bool] | None = None) -> list[Match]:
        if not self.entries or not len(self.doc_text):
            return []
        q_tokens = set(self.segmenter.tokens(text))
        if not q_tokens:
            return []
        doc_scores = self._scores(self.postings, q_tokens, len(self.doc_text))
        answer_scores = self._scores(self.answer_postings, q_tokens, len(self.entries))
        if doc_scores is None and answer_scores is None:
            return []
        # An entry scores as its best phrasing, plus a share of how well its answer fits.
        entry_scores = np.zeros(len(self.entries), dtype=np.float32)
        best_doc = np.full(len(self.entries), -1, dtype=np.int64)
        if doc_scores is not None:
            entry_scores[self.doc_entry[self.doc_starts]] = np.maximum.reduceat(doc_scores, self.doc_starts)
            best = self.doc_starts + _argmax_reduceat(doc_scores, self.doc_starts, self.doc_ends)
            best_doc[self.doc_entry[self.doc_starts]] = best
        if answer_scores is not None:
            entry_scores += ANSWER_SHARE * answer_scores
        q_weight = sum(_type_weight(t) * self._token_idf(t) for t in q_tokens)
        nonzero = int(np.count_nonzero(entry_scores))
        want = min(nonzero, max(k * 4, 16))
        results: list[Match] = []
        while want > 0:
            if want >= len(entry_scores):
                order = np.argsort(-entry_scores)
            else:
                top = np.argpartition(-entry_scores, want - 1)[:want]
                order = top[np.argsort(-entry_scores[top])]
            results = []
            for e_idx in order[:want]:
                score = float(entry_scores[e_idx])
                if score <= 0:
                    break
                meta = self.entries[int(e_idx)]
                if allow is not None and not allow(meta):
                    continue
                d = int(best_doc[e_idx])
                results.append(
                    Match(
                        entry_id=meta.id,
                        question=meta.question,
                        matched_phrasing=self.doc_text[d] if d >= 0 else meta.question,
                        score=score,
                        confidence=self._confidence(q_tokens, q_weight, d) if d >= 0 else 0.0,
                        category=meta.category,
                    )
                )
                if len(results) >= k:
                    break
            if len(results) >= k or want >= nonzero:
                break
            want = min(nonzero, want * 4)
        return results

    def _confidence(self, q_tokens: set, q_weight: float, doc: int) -> float:
        shared = q_tokens & self.doc_tokens[doc]
        shared_weight = sum(_type_weight(t) * self._token_idf(t) for t in shared)
        recall = shared_weight / q_weight if q_weight else 0.0  # how much of the question is explained
        precision = shared_weight / float(self.doc_weight[doc]) if self.doc_weight[doc] else 0.0
        if recall <= 0 or precision <= 0:
            return 0.0
        beta2 = 4.0  # F2: the question side counts more (FAQ phrasings carry extra words)
        f = (1 + beta2) * precision * recall / (beta2 * precision + recall)
        return round(min(1.0, max(0.0, f)), 4)


def _postings(
    corpus: list[list[str]], idf_source: list[list[str]] | None = None
) -> tuple[dict, np.ndarray, list[frozenset], dict]:
    """BM25 (rank_bm25's model) precomputed per posting: token -> (doc ids, score contributions).

    idf_source: the documents idf is counted over, when they differ from the scored ones.
    """
    bm25 = BM25Okapi(corpus)
    # Lucene's idf, log(1 + (N - n + 0.5) / (n + 0.5)), instead of rank_bm25's Okapi idf: that one goes
    # negative for a word in more than half the documents, which breaks small knowledge bases.
    source = idf_source if idf_source is not None else corpus
    df: dict[str, int] = {}
    for doc in source:
        for token in set(doc):
            df[token] = df.get(token, 0) + 1
    n_docs = len(source)
    bm25.idf = {t: math.log(1 + (n_docs - n + 0.5) / (n + 0.5)) for t, n in df.items()}
    k1, b, avgdl = bm25.k1, bm25.b, bm25.avgdl
    # Vectorised over all (document, token) pairs: a 10,000-entry base has millions of them.
    vocab: dict[str, int] = {}
    tok_ids: list[int] = []
    tfs: list[int] = []
    counts: list[int] = []
    doc_tokens: list[frozenset] = []
    for freqs in bm25.doc_freqs:
        for token in freqs:
            tok_ids.append(vocab.setdefault(token, len(vocab)))
        tfs.extend(freqs.values())
        counts.append(len(freqs))
        doc_tokens.append(frozenset(freqs))
    tokens = list(vocab)
    idf_of = np.asarray([bm25.idf.get(t, 0.0) for t in tokens], dtype=np.float64)
    weight_of = np.asarray([_type_weight(t) for t in tokens], dtype=np.float64) * idf_of
    docs = np.repeat(np.arange(len(corpus), dtype=np.int32), counts)
    tok = np.asarray(tok_ids, dtype=np.int64)
    tf = np.asarray(tfs, dtype=np.float64)
    dl = np.asarray(bm25.doc_len, dtype=np.float64)[docs]
    contrib = weight_of[tok] * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
    doc_weight = np.bincount(docs, weights=weight_of[tok], minlength=len(corpus))
    order = np.argsort(tok, kind="stable")
    tok_sorted, docs_sorted, contrib_sorted = tok[order], docs[order], contrib[order].astype(np.float32)
    bounds = [0, *(np.flatnonzero(np.diff(tok_sorted)) + 1).tolist(), len(tok_sorted)]
    postings = {
        tokens[int(tok_sorted[start])]: (docs_sorted[start:end], contrib_sorted[start:end])
        for start, end in zip(bounds[:-1], bounds[1:], strict=True)
        if end > start
    }
    return postings, doc_weight, doc_tokens, dict(bm25.idf)


def build_index(
    *,
    version: int,
    entries: list[tuple[EntryMeta, list[str], str]],
    words: Iterable[str] = (),
    synonyms: dict[str, Iterable[str]] | None = None,
) -> KbIndex:
    """entries: (meta, phrasings with the standard question first, answer text)."""
    import time

    started = time.perf_counter()
    segmenter = segmenter_for(words, synonyms)
    metas: list[EntryMeta] = []
    doc_entry: list[int] = []
    doc_text: list[str] = []
    corpus: list[list[str]] = []
    answers: list[list[str]] = []
    starts: list[int] = []
    ends: list[int] = []
    for meta, phrasings, answer in entries:
        e_idx = len(metas)
        metas.append(meta)
        answers.append(segmenter.words(answer or "") or ["\x00"])
        first = len(corpus)
        seen: set[str] = set()
        for p in phrasings:
            p = (p or "").strip()
            if not p or p in seen:
                continue
            seen.add(p)
            toks = segmenter.tokens(p)
            if not toks:
                continue
            doc_entry.append(e_idx)
            doc_text.append(p)
            corpus.append(toks)
        if len(corpus) > first:
            starts.append(first)
            ends.append(len(corpus))
    empty = np.zeros(0, dtype=np.int64)
    if not corpus:
        return KbIndex(
            version=version,
            segmenter=segmenter,
            entries=metas,
            doc_entry=np.zeros(0, dtype=np.int32),
            doc_text=[],
            doc_tokens=[],
            doc_weight=np.zeros(0),
            postings={},
            answer_postings={},
            doc_starts=empty,
            doc_ends=empty,
            idf={},
            max_idf=1.0,
            build_seconds=time.perf_counter() - started,
        )
    # idf is counted over entries, not phrasings: a word repeated in ten phrasings of one entry is
    # no more common than a word in one phrasing each of ten entries would suggest otherwise.
    entry_docs: list[list[str]] = [[] for _ in metas]
    for d, toks in enumerate(corpus):
        entry_docs[doc_entry[d]].extend(toks)
    postings, doc_weight, doc_tokens, idf = _postings(corpus, [sorted(set(t)) or ["\x00"] for t in entry_docs])
    # Answers use words only: their bigrams would mostly add noise from long texts.
    answer_postings = _postings(answers)[0]
    return KbIndex(
        version=version,
        segmenter=segmenter,
        entries=metas,
        doc_entry=np.asarray(doc_entry, dtype=np.int32),
        doc_text=doc_text,
        doc_tokens=doc_tokens,
        doc_weight=doc_weight,
        postings=postings,
        answer_postings=answer_postings,
        doc_starts=np.asarray(starts, dtype=np.int64),
        doc_ends=np.asarray(ends, dtype=np.int64),
        idf=idf,
        max_idf=max(idf.values()) if idf else 1.0,
        build_seconds=time.perf_counter() - started,
    )

"""Chinese FAQ matching: segmentation, synonyms, BM25, char n-grams, pinyin, confidence.

Pure Python + numpy, no Django imports: the index is built from plain rows, so the benchmark
and the tests can drive it directly.

Every phrasing of an entry (the standard question and each similar question) is one BM25
document, and the entry's answer is one more (scored at ANSWER_SHARE). A text is first rewritten
from colloquial forms to standard ones (apps.knowledge.lexicon), then becomes four kinds of tokens:

- words: jieba segmentation (rjieba, the Rust port: same dictionary and algorithm, ~30x faster)
  after a longest-match pass over the tenant's dictionary and synonyms (so 快运, 到付, 单号 stay
  whole without touching the global dictionary, which other tenants share), synonyms folded to
  their canonical word;
- ``c:`` character bigrams, the fallback when segmentation disagrees (typos, unknown words);
- ``p:`` toneless pinyin bigrams, so a homophone typo (签手 for 签收, 清官 for 清关) still meets;
- ``u:`` single content characters, lightly weighted (蟹 in 大闸蟹 and 活蟹).

A question is expanded toward the knowledge base's own words: Cilin synonyms, related words and
words of the same small class (同义词词林), and the words whose pinyin initials a typed
abbreviation spells (qg -> 清关), each with a weight below the visitor's own words.

BM25 scores are precomputed per posting so a query is a handful of numpy scatter-adds over an
inverted index instead of a loop over every document, which keeps 10,000 entries well under
the 50 ms suggestion budget. An entry's score is the best score of its phrasings plus its answer's.

Confidence is the idf-weighted share of the query's tokens found in the best phrasing (or, at half
weight, in the answer), and of the phrasing's tokens found in the query, combined as an F-measure
that weights the query side more, scaled down when the runner-up is close; see bench/README.md.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import rjieba
from pypinyin import Style, lazy_pinyin

from apps.knowledge.lexicon import (
    cilin_class_members,
    cilin_codes,
    initials,
    question_kinds,
    rewrite_colloquial,
)

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
    "生鲜": ["海鲜", "冷冻", "冻品", "冻货", "螃蟹", "大闸蟹", "水果", "鲜肉", "冷链"],
    # Words of perishable goods and cold chain (冷链): spoiled, thawed, rural reach, cold boxes, ice cream.
    "变质": ["烂了", "腐烂", "发臭", "臭了", "坏掉", "发霉"],
    "化冻": ["化了", "融化", "化掉", "软了", "解冻"],
    "乡镇": ["乡下", "村里", "农村", "镇上", "县城", "县里"],
    "保温箱": ["泡沫箱", "保温袋", "泡沫盒", "冷藏箱"],
    "冰淇淋": ["冰激凌", "雪糕", "冰棍"],
    "冷藏车": ["冷链车", "冷柜车", "冷冻车"],
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
# Single characters carry meaning in Chinese (蟹 in 大闸蟹 and 活蟹, 肉 in 猪肉 and 肉类): a light token.
UNIGRAM_WEIGHT = 0.7
FUNCTION_CHARS = frozenset(
    "的了吗呢啊吧呀哦嗯么哈我你您们他她它是在有个这那就还也都和跟给能会要可以想把被让怎什么吗不没"
)
ANSWER_SHARE = 0.7
# Query expansion: a Cilin synonym of a query word, split over the word's synonym groups, and a
# knowledge-base word whose pinyin initials a typed abbreviation spells, split over the candidates.
SYNONYM_WEIGHT = 0.5  # same Cilin "=" group: a synonym
RELATED_WEIGHT = 0.3  # same Cilin "#" group: a word of the same kind (猪肉/牛肉)
CLASS_WEIGHT = 0.2  # same small Cilin class (玫瑰/鲜花, 恒温/温度)
ANSWER_CONFIDENCE = 0.5
# The top answer's confidence is scaled down by up to MARGIN_PENALTY when its score is less than
# MARGIN_FULL (as a share of its own score) above the runner-up's.
MARGIN_PENALTY = 0.3
# Single characters help ranking but say little about whether the question was understood.
CONFIDENCE_SKIP = ("u:", "i:")
MARGIN_FULL = 0.4  # a question word found only in the answer explains this much of itself
ABBREVIATION_WEIGHT = 0.8
# An agent's reply counts as "the answer of entry X" when X's answer covers this share of its words.
REPLY_MATCH_MIN = 0.3
# Token kinds that are not words: character bigrams, pinyin bigrams, single characters, question kinds.
FEATURE_KINDS = ("c:", "p:", "u:", "i:")
INTENT_WEIGHT = 1.5
_LATIN = re.compile(r"^[a-z]{2,4}$")


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


def _best_first(scores: np.ndarray, want: int) -> list[int]:
    """Indices of the `want` highest scores, highest first."""
    if want >= len(scores):
        order = np.argsort(-scores)
    else:
        top = np.argpartition(-scores, want - 1)[:want]
        order = top[np.argsort(-scores[top])]
    return [int(i) for i in order[:want]]


def _certainty(entry_scores: np.ndarray, nonzero: int) -> float:
    """How far the best entry stands above the runner-up: a near tie is not a confident answer."""
    if nonzero >= 2:
        top2 = np.partition(entry_scores, len(entry_scores) - 2)[-2:]
        gap = float((top2[1] - top2[0]) / top2[1]) if top2[1] > 0 else 0.0
    else:
        gap = 1.0
    return 1.0 - MARGIN_PENALTY * max(0.0, 1.0 - gap / MARGIN_FULL)


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
                rjieba.add_word(w, 20000, None)
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
        # first character -> the lengths of the phrases starting with it, longest first: most
        # positions of a text start no phrase at all and are passed over with one lookup.
        lengths: dict[str, set[int]] = {}
        for p in self.phrases:
            lengths.setdefault(p[0], set()).add(len(p))
        self._lengths = {c: tuple(sorted(ls, reverse=True)) for c, ls in lengths.items()}

    def _protect(self, chunk: str) -> list[str]:
        """Split a chunk into known phrases (kept) and the gaps between them (for jieba)."""
        out: list[str] = []
        gap_start = 0
        i = 0
        n = len(chunk)
        phrases, lengths = self.phrases, self._lengths
        while i < n:
            hit = 0
            for length in lengths.get(chunk[i], ()):
                if i + length <= n and chunk[i : i + length] in phrases:
                    hit = length
                    break
            if hit:
                if gap_start < i:
                    out.extend(rjieba.cut_for_search(chunk[gap_start:i], True))
                out.append(chunk[i : i + hit])
                i += hit
                gap_start = i
            else:
                i += 1
        if gap_start < n:
            out.extend(rjieba.cut_for_search(chunk[gap_start:n], True))
        return out

    # Tokenising is most of an index build: remember texts already seen, so rebuilding after one
    # edit (same vocabulary, same segmenter) only tokenises what changed.
    CACHE_LIMIT = 400_000

    def _cached(self, kind: str, text: str, fn) -> tuple[str, ...]:
        cache = self.__dict__.setdefault("_cache", {})
        key = (kind, text)
        hit = cache.get(key)
        if hit is None:
            if len(cache) >= self.CACHE_LIMIT:
                cache.clear()
            hit = cache[key] = tuple(fn(text))
        return hit

    # Tuples, shared with the cache: callers cannot change what the next caller gets, and an index
    # build does not copy millions of tokens.
    def words(self, text: str) -> tuple[str, ...]:
        return self._cached("w", text, self._words)

    def tokens(self, text: str) -> tuple[str, ...]:
        return self._cached("t", text, self._tokens)

    def _words(self, text: str) -> list[str]:
        result: list[str] = []
        for chunk in rewrite_colloquial(normalize(text)).split():
            for w in self._protect(chunk):
                w = w.strip()
                if not w or w in STOPWORDS:
                    continue
                result.append(self.canonical.get(w, w))
        return result

    def _tokens(self, text: str) -> list[str]:
        words = list(self.words(text))
        compact = "".join(rewrite_colloquial(normalize(text)).split())
        chars = [c for c in compact if c not in STOPWORDS]
        bigrams = ["c:" + chars[i] + chars[i + 1] for i in range(len(chars) - 1)]
        cjk = [c for c in chars if _CJK.match(c)]
        pins = [_char_pinyin(c) for c in cjk]
        pin_bigrams = ["p:" + pins[i] + "_" + pins[i + 1] for i in range(len(pins) - 1)]
        if len(chars) == 1:
            bigrams = ["c:" + chars[0]]
        unigrams = ["u:" + c for c in cjk if c not in FUNCTION_CHARS] if UNIGRAM_WEIGHT else []
        return words + bigrams + pin_bigrams + unigrams + question_kinds(compact)


def _type_weight(token: str) -> float:
    if token.startswith("i:"):
        return INTENT_WEIGHT
    if token.startswith("c:"):
        return CHAR_WEIGHT
    if token.startswith("u:"):
        return UNIGRAM_WEIGHT
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
    doc_tokens: _TokenSets | list[frozenset]
    doc_weight: np.ndarray  # sum of idf*type weight of a doc's distinct tokens
    postings: dict[str, tuple[np.ndarray, np.ndarray]]
    answer_postings: dict[str, tuple[np.ndarray, np.ndarray]]
    doc_starts: np.ndarray  # first doc of each entry that has docs (docs of an entry are contiguous)
    doc_ends: np.ndarray
    idf: dict[str, float]
    max_idf: float
    answer_tokens: _TokenSets | list[frozenset] = field(default_factory=list)  # per entry
    abbreviations: dict[str, tuple[str, ...]] = field(default_factory=dict)  # pinyin initials -> words
    related: dict[str, tuple[tuple[str, float], ...]] = field(default_factory=dict)  # Cilin neighbours
    answer_idf: dict[str, float] = field(default_factory=dict)
    build_seconds: float = 0.0
    _scope_masks: dict = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.entries)

    def _token_idf(self, token: str) -> float:
        return self.idf.get(token, self.max_idf)

    def _known(self, token: str) -> bool:
        return token in self.postings or token in self.answer_postings

    def query_weights(self, text: str) -> dict[str, float]:
        """The question's tokens (weight 1) and their expansions toward this knowledge base's words."""
        tokens = self.segmenter.tokens(text)
        weights = dict.fromkeys(tokens, 1.0)
        for token in tokens:
            if token[:2] in FEATURE_KINDS:
                continue
            if _LATIN.match(token) and not self._known(token):
                words = self.abbreviations.get(token, ())
                for w in words:
                    if w not in weights:
                        weights[w] = ABBREVIATION_WEIGHT / len(words)
                continue
            for w, weight in self.related.get(token, ()):
                if weights.get(w, 0.0) < weight:
                    weights[w] = weight
        return weights

    def _scores(self, postings: dict, weights: dict[str, float], n: int) -> np.ndarray | None:
        scores = np.zeros(n, dtype=np.float32)
        hit = False
        for t, w in weights.items():
            posting = postings.get(t)
            if posting is not None:
                scores[posting[0]] += posting[1] * w if w != 1.0 else posting[1]
                hit = True
        return scores if hit else None

    def search(self, text: str, *, k: int = 3, allow: Callable[[EntryMeta], bool] | None = None) -> list[Match]:
        if not self.entries or not len(self.doc_text):
            return []
        weights = self.query_weights(text)
        if not weights:
            return []
        scored = self._entry_scores(weights)
        if scored is None:
            return []
        entry_scores, best_doc = scored
        nonzero = int(np.count_nonzero(entry_scores))
        q_weight = self._query_weight(weights)
        certainty = _certainty(entry_scores, nonzero)

        def match(e_idx: int) -> Match:
            meta = self.entries[e_idx]
            d = int(best_doc[e_idx])
            confidence = certainty * self._confidence(weights, q_weight, d, e_idx) if d >= 0 else 0.0
            return Match(
                entry_id=meta.id,
                question=meta.question,
                matched_phrasing=self.doc_text[d] if d >= 0 else meta.question,
                score=float(entry_scores[e_idx]),
                confidence=round(confidence, 4),
                category=meta.category,
            )

        return [match(e) for e in self._top_entries(entry_scores, nonzero, k, allow)]

    def _entry_scores(self, weights: dict[str, float]) -> tuple[np.ndarray, np.ndarray] | None:
        """Each entry's score (its best phrasing plus a share of how well its answer fits) and the
        index of that best phrasing (-1: the entry matched through its answer alone)."""
        doc_scores = self._scores(self.postings, weights, len(self.doc_text))
        answer_scores = self._scores(self.answer_postings, weights, len(self.entries))
        if doc_scores is None and answer_scores is None:
            return None
        entry_scores = np.zeros(len(self.entries), dtype=np.float32)
        best_doc = np.full(len(self.entries), -1, dtype=np.int64)
        if doc_scores is not None:
            entry_scores[self.doc_entry[self.doc_starts]] = np.maximum.reduceat(doc_scores, self.doc_starts)
            best = self.doc_starts + _argmax_reduceat(doc_scores, self.doc_starts, self.doc_ends)
            best_doc[self.doc_entry[self.doc_starts]] = best
        if answer_scores is not None:
            entry_scores += ANSWER_SHARE * answer_scores
        return entry_scores, best_doc

    def _query_weight(self, weights: dict[str, float]) -> float:
        """The weight a confidence's recall is measured against: the question's own tokens and the
        expansions this knowledge base knows, single characters left out."""
        return sum(
            w * _type_weight(t) * self._token_idf(t)
            for t, w in weights.items()
            if (w == 1.0 or self._known(t)) and t[:2] not in CONFIDENCE_SKIP
        )

    def _top_entries(
        self, entry_scores: np.ndarray, nonzero: int, k: int, allow: Callable[[EntryMeta], bool] | None
    ) -> list[int]:
        """The k best entries with a positive score that `allow` lets through, best first. Looks at
        a few times k candidates and widens the window only when `allow` refused too many."""
        want = min(nonzero, max(k * 4, 16))
        chosen: list[int] = []
        while want > 0:
            chosen = []
            for e_idx in _best_first(entry_scores, want):
                if entry_scores[e_idx] <= 0:
                    break
                if allow is None or allow(self.entries[e_idx]):
                    chosen.append(e_idx)
                    if len(chosen) >= k:
                        break
            if len(chosen) >= k or want >= nonzero:
                break
            want = min(nonzero, want * 4)
        return chosen

    def match_answer(self, text: str) -> tuple[int | None, float]:
        """The entry whose answer an agent's reply says again, and the share of the reply's weight
        (words and character bigrams) that answer covers, 0..1."""
        tokens = {t for t in self.segmenter.tokens(text) if t[:2] not in ("p:", "u:")}
        scores = self._scores(self.answer_postings, dict.fromkeys(tokens, 1.0), len(self.entries))
        if scores is None or not self.answer_tokens:
            return None, 0.0
        best = int(np.argmax(scores))
        total = sum(_type_weight(t) * self._answer_idf(t) for t in tokens)
        shared = sum(_type_weight(t) * self._answer_idf(t) for t in tokens & self.answer_tokens[best])
        return self.entries[best].id, round(shared / total, 4) if total else 0.0

    def _answer_idf(self, token: str) -> float:
        return self.answer_idf.get(token, self.max_idf)

    def _confidence(self, weights: dict[str, float], q_weight: float, doc: int, entry: int) -> float:
        doc_tokens = self.doc_tokens[doc]
        answer_tokens = self.answer_tokens[entry] if self.answer_tokens else frozenset()
        shared_weight = in_doc = 0.0
        for t, w in weights.items():
            if t[:2] in CONFIDENCE_SKIP:
                continue
            tw = w * _type_weight(t) * self._token_idf(t)
            if t in doc_tokens:
                shared_weight += tw
                in_doc += _type_weight(t) * self._token_idf(t)
            elif t in answer_tokens:
                shared_weight += ANSWER_CONFIDENCE * tw
        recall = shared_weight / q_weight if q_weight else 0.0  # how much of the question is explained
        precision = in_doc / float(self.doc_weight[doc]) if self.doc_weight[doc] else 0.0
        if recall <= 0 or precision <= 0:
            return 0.0
        beta2 = 4.0  # F2: the question side counts more (FAQ phrasings carry extra words)
        f = (1 + beta2) * precision * recall / (beta2 * precision + recall)
        return round(min(1.0, max(0.0, f)), 4)


class _TokenSets:
    """The distinct tokens of each document, made on first use (confidence needs a handful per query;
    making all of them would be a million-set job at every build of a large knowledge base)."""

    def __init__(self, corpus: list[Sequence[str]]):
        self._corpus = corpus
        self._sets: dict[int, frozenset] = {}

    def __len__(self) -> int:
        return len(self._corpus)

    def __getitem__(self, doc: int) -> frozenset:
        found = self._sets.get(doc)
        if found is None:
            found = self._sets[doc] = frozenset(self._corpus[doc])
        return found


BM25_K1 = 1.5
BM25_B = 0.75


def _postings(
    corpus: list[Sequence[str]], idf_source: list[Sequence[str]] | None = None
) -> tuple[dict, np.ndarray, _TokenSets, dict]:
    """BM25 (Okapi, k1=1.5, b=0.75) precomputed per posting: token -> (doc ids, score contributions).

    idf_source: the documents idf is counted over, when they differ from the scored ones. Vectorised
    over all (document, token) pairs with numpy: a 10,000-entry base has millions of them.
    """
    # One pass in C over every token: the vocabulary in first-seen order, then each token's id.
    chain = itertools.chain.from_iterable
    sources = (corpus,) if idf_source is None else (corpus, idf_source)
    tokens = list(dict.fromkeys(chain(chain(sources))))
    vocab = {t: i for i, t in enumerate(tokens)}
    width = max(1, len(tokens))

    def pairs(rows: list[Sequence[str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        flat = np.fromiter(map(vocab.__getitem__, chain(rows)), dtype=np.int64, count=int(lengths.sum()))
        keys = np.repeat(np.arange(len(rows), dtype=np.int64), lengths) * width + flat
        unique, counts = np.unique(keys, return_counts=True)
        return unique // width, unique % width, counts

    # Lucene's idf, log(1 + (N - n + 0.5) / (n + 0.5)), instead of Okapi's: that one goes negative for
    # a word in more than half the documents, which breaks small knowledge bases.
    source = corpus if idf_source is None else idf_source
    _src_docs, src_tok, _src_tf = pairs(source)
    df = np.bincount(src_tok, minlength=len(tokens)).astype(np.float64)
    n_docs = len(source)
    idf_of = np.where(df > 0, np.log(1 + (n_docs - df + 0.5) / (df + 0.5)), 0.0)
    docs, tok, tf_counts = pairs(corpus)
    tf = tf_counts.astype(np.float64)
    doc_len = np.fromiter(map(len, corpus), dtype=np.float64, count=len(corpus))
    avgdl = float(doc_len.mean()) if len(doc_len) else 1.0
    weight_of = np.fromiter(map(_type_weight, tokens), dtype=np.float64, count=len(tokens)) * idf_of
    dl = doc_len[docs]
    contrib = weight_of[tok] * tf * (BM25_K1 + 1) / (tf + BM25_K1 * (1 - BM25_B + BM25_B * dl / avgdl))
    # The weight a confidence is measured against leaves out the token kinds confidence ignores.
    counted = np.fromiter((t[:2] not in CONFIDENCE_SKIP for t in tokens), dtype=np.float64, count=len(tokens))
    doc_weight = np.bincount(docs, weights=(counted * weight_of)[tok], minlength=len(corpus))
    order = np.argsort(tok, kind="stable")
    tok_sorted, docs_sorted = tok[order], docs[order].astype(np.int32)
    contrib_sorted = contrib[order].astype(np.float32)
    bounds = [0, *(np.flatnonzero(np.diff(tok_sorted)) + 1).tolist(), len(tok_sorted)]
    postings = {
        tokens[int(tok_sorted[start])]: (docs_sorted[start:end], contrib_sorted[start:end])
        for start, end in zip(bounds[:-1], bounds[1:], strict=True)
        if end > start
    }
    idf = {t: float(v) for t, v, n in zip(tokens, idf_of, df, strict=True) if n > 0}
    return postings, doc_weight, _TokenSets(corpus), idf


def _related_words(vocabulary: set[str], segmenter: Segmenter) -> dict[str, tuple[tuple[str, float], ...]]:
    """Cilin neighbours of every word Cilin knows, restricted to the words of this knowledge base.

    Keyed by the (canonical) query word: a question word meets the knowledge base's synonyms (weight
    SYNONYM_WEIGHT), words of the same kind (RELATED_WEIGHT) and of the same small class
    (CLASS_WEIGHT), each split over the word's senses so a polysemous word spreads thin."""
    codes = cilin_codes()
    by_leaf: dict[str, set[str]] = {}
    by_class: dict[str, set[str]] = {}
    for word in vocabulary:
        for code in codes.get(word, ()):
            by_leaf.setdefault(code, set()).add(word)
            by_class.setdefault(code[:5], set()).add(word)
    related: dict[str, tuple[tuple[str, float], ...]] = {}
    # Only words filed in a class this knowledge base touches can have a neighbour in it (a few
    # thousand of Cilin's 77,000 words): the rest are skipped without looking at their codes.
    members = cilin_class_members()
    candidates = {w for cls in by_class for w in members.get(cls, ())}
    for word, word_codes in codes.items():
        if word not in candidates or (len(word) < 2 and word not in vocabulary):
            continue
        key = segmenter.canonical.get(word, word)
        senses = len(word_codes)
        found: dict[str, float] = {}
        for code in word_codes:
            leaf_weight = SYNONYM_WEIGHT if code.endswith("=") else RELATED_WEIGHT
            # sorted: the expansion's order decides the order of float additions at query time, and a
            # set's order changes with every process's string hashing.
            for target, weight in (
                *((w, leaf_weight) for w in sorted(by_leaf.get(code, ()))),
                *((w, CLASS_WEIGHT) for w in sorted(by_class.get(code[:5], ()))),
            ):
                if target != key and found.get(target, 0.0) < weight / senses:
                    found[target] = weight / senses
        if found:
            related[key] = tuple(found.items())
    return related


@dataclass
class _Docs:
    """The phrasings of a knowledge base as BM25 documents, grouped by entry."""

    metas: list[EntryMeta] = field(default_factory=list)
    doc_entry: list[int] = field(default_factory=list)
    doc_text: list[str] = field(default_factory=list)
    corpus: list[Sequence[str]] = field(default_factory=list)
    answers: list[Sequence[str]] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)

    def add(self, segmenter: Segmenter, meta: EntryMeta, phrasings: list[str], answer: str) -> None:
        e_idx = len(self.metas)
        self.metas.append(meta)
        self.answers.append(segmenter.tokens(answer or "") or ("\x00",))
        first = len(self.corpus)
        for p in dict.fromkeys(p.strip() for p in phrasings if p and p.strip()):
            toks = segmenter.tokens(p)
            if toks:
                self.doc_entry.append(e_idx)
                self.doc_text.append(p)
                self.corpus.append(toks)
        if len(self.corpus) > first:
            self.starts.append(first)
            self.ends.append(len(self.corpus))

    def entry_docs(self) -> list[Sequence[str]]:
        """Each entry's distinct phrasing tokens: idf is counted over entries, not phrasings (a word
        repeated in ten phrasings of one entry is no more common for it)."""
        merged: list[set[str]] = [set() for _ in self.metas]
        for d, doc in enumerate(self.corpus):
            merged[self.doc_entry[d]].update(doc)
        return [sorted(tokens) or ["\x00"] for tokens in merged]


def _abbreviations(vocabulary: set[str]) -> dict[str, tuple[str, ...]]:
    """Pinyin initials -> the knowledge base's words they spell (qg -> 清关), when at most four do."""
    found: dict[str, list[str]] = {}
    for word in vocabulary:
        key = initials(word)
        if key:
            found.setdefault(key, []).append(word)
    return {k: tuple(sorted(v)) for k, v in found.items() if len(v) <= 4}


def build_index(
    *,
    version: int,
    entries: list[tuple[EntryMeta, list[str], str]],
    words: Iterable[str] = (),
    synonyms: dict[str, Iterable[str]] | None = None,
) -> KbIndex:
    """entries: (meta, phrasings with the standard question first, answer text)."""
    started = time.perf_counter()
    segmenter = segmenter_for(words, synonyms)
    docs = _Docs()
    for meta, phrasings, answer in entries:
        docs.add(segmenter, meta, phrasings, answer)
    if not docs.corpus:
        empty = np.zeros(0, dtype=np.int64)
        return KbIndex(
            version=version,
            segmenter=segmenter,
            entries=docs.metas,
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
    postings, doc_weight, doc_tokens, idf = _postings(docs.corpus, docs.entry_docs())
    answer_postings, _weights, answer_tokens, answer_idf = _postings(docs.answers)
    vocabulary = {t for t in (*postings, *answer_postings) if t[:2] not in FEATURE_KINDS}
    return KbIndex(
        version=version,
        segmenter=segmenter,
        entries=docs.metas,
        doc_entry=np.asarray(docs.doc_entry, dtype=np.int32),
        doc_text=docs.doc_text,
        doc_tokens=doc_tokens,
        doc_weight=doc_weight,
        postings=postings,
        answer_postings=answer_postings,
        doc_starts=np.asarray(docs.starts, dtype=np.int64),
        doc_ends=np.asarray(docs.ends, dtype=np.int64),
        idf=idf,
        max_idf=max(idf.values()) if idf else 1.0,
        answer_tokens=answer_tokens,
        abbreviations=_abbreviations(vocabulary),
        related=_related_words(vocabulary, segmenter),
        answer_idf=answer_idf,
        build_seconds=time.perf_counter() - started,
    )

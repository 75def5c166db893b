"""Search tokens: jieba's search mode, lower-cased, without punctuation and stopwords.

Questions and passages are tokenised by the same ``tokenize`` (the keyword index, the query
object and the answer step all call it), so a word counts the same on both sides.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

# Function words and question words that carry no topic. Kept short on purpose: BM25's IDF
# already discounts common words; these are the ones that would otherwise match everything.
FUNCTION_WORDS = frozenset(
    "的 了 和 与 及 或 是 在 对 为 把 被 给 有 等 其 之 以 于 由 从 向 将 就 都 也 还 又 并 而 "
    "吗 呢 吧 啊 呀 么 嘛 哪 哪些 什么 怎么 怎样 如何 多少 几 是否 能否 可以 能 会 要 需要 想 请问 "
    "请 我 我们 你 你们 他 她 它 这 那 这个 那个 哪个 一下 一个 有没有 没有 是不是 吗？".split()
)
# Words nearly every passage of this corpus contains (who policies are for, where they apply,
# what they are), so they tell no passage from another.
POLICY_WORDS = frozenset("企业 公司 昆山 昆山市 苏州 苏州市 政策 规定".split())
STOPWORDS = FUNCTION_WORDS | POLICY_WORDS

_TOKEN_OK = re.compile(r"[\w\u4e00-\u9fff]")


@lru_cache(maxsize=1)
def segmenter():
    """The jieba module, initialised once (its dictionary loads on first use)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def tokenize(text: str, *, drop_stopwords: bool = True) -> list[str]:
    """Search-mode jieba tokens (long words plus their parts), lower-cased, no punctuation."""
    tokens = []
    for token in segmenter().cut_for_search(text.lower()):
        token = token.strip()
        if not token or not _TOKEN_OK.search(token):
            continue
        if drop_stopwords and token in STOPWORDS:
            continue
        tokens.append(token)
    return tokens


@lru_cache(maxsize=4096)
def tagged(text: str) -> tuple[tuple[str, str], ...]:
    """(word, part of speech) pairs of a text (jieba's tags: n noun, ns place name, v verb…), cached."""
    import jieba.posseg as pseg

    segmenter()
    return tuple((token.word, token.flag) for token in pseg.cut(text))


def words(text: str) -> list[str]:
    """jieba's plain segmentation (each word once, not its parts), without punctuation."""
    return [w for w in segmenter().lcut(text) if w.strip() and _TOKEN_OK.search(w)]

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

# Policy words jieba's general dictionary does not know: without them 智改数转 falls apart into
# 智 / 改数 / 转 and 首次升规有 stays one unknown word, on the question's side and the passage's.
POLICY_TERMS = (
    "智改数转 小升规 升规 规上 规模以上 专精特新 小巨人 瞪羚 独角兽 高企 高新技术企业 创新联合体 标准地 标准厂房 "
    "履约保证金 加计扣除 首台套 免申即享 一窗通办 一网通办 一件事 拿地即开工 四证同发 政策明白卡 昆如意 "
    "分期供地 弹性年期 先租后让 工业上楼 亩均 亩均税收 容积率 技改 贴息 奖补 人才安居 安家补贴 姑苏领军"
).split()

# Kunshan's own towns that the sample library never names: places every Kunshan policy covers,
# never a typo for a word the library has (周市 was read as 州市 of 苏州市) and never a place the
# library lacks. (巴城, which the library names, is left to jieba as its passages were indexed.)
HOME_PLACES = frozenset("周市 陆家 张浦 千灯 周庄 锦溪 淀山湖 花桥".split())

# Everyday words jieba's statistics lose in questions: 要额外交什么材料 came out as 要额 / 外交.
EVERYDAY_WORDS = "额外 另外 申报书 搬去 搬走 搬离 迁走".split()


@lru_cache(maxsize=1)
def segmenter():
    """The jieba module, initialised once (its dictionary loads on first use) with POLICY_TERMS,
    HOME_PLACES and EVERYDAY_WORDS."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    for term in POLICY_TERMS:
        jieba.add_word(term, freq=max(jieba.suggest_freq(term), 2000), tag="nz")
    for place in HOME_PLACES:
        jieba.add_word(place, freq=max(jieba.suggest_freq(place), 2000), tag="ns")
    for word in EVERYDAY_WORDS:
        # (strong enough to win over 外交 in 另外交啥)
        jieba.add_word(word, freq=max(jieba.suggest_freq(word), 50000))
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


def dictionary_tag(word: str) -> str | None:
    """The part of speech jieba's dictionary gives a word; None for a word it only guesses."""
    import jieba.posseg as pseg

    segmenter()
    return pseg.dt.word_tag_tab.get(word)


def words(text: str) -> list[str]:
    """jieba's plain segmentation (each word once, not its parts), without punctuation."""
    return [w for w in segmenter().lcut(text) if w.strip() and _TOKEN_OK.search(w)]

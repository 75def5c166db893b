"""Text normalisation shared by documents and queries.

Documents and questions go through the same ``normalize`` so that a question typed in
simplified characters with full-width digits finds a document written in traditional
characters with ASCII digits. The pieces (``fold_width``, ``tidy_spaces``…) are also used one
by one by the ingest pipeline's document cleaning.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"

# A pinyin gloss after a character: 節(jié) -> 節. Lower-case Latin letters with optional tone
# marks, directly after a CJK character, in ASCII or full-width brackets.
_PINYIN_GLOSS = re.compile(
    rf"(?<=[{CJK}])[(（]([a-zāáǎàēéěèīíǐìōóǒòūúǔùüǖǘǚǜńň]{{1,6}})[)）]"
)

_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{CJK}])[ \t\u00a0\u3000]+(?=[{CJK}])")
_SPACE_CJK_DIGIT = re.compile(rf"(?<=[{CJK}])[ \t\u00a0\u3000]+(?=[0-9])|(?<=[0-9.%])[ \t\u00a0\u3000]+(?=[{CJK}])")
_SPACE_CJK_PUNCT = re.compile(r"[ \t\u00a0\u3000]*([，。、；：！？“”‘’（）《》〔〕【】])[ \t\u00a0\u3000]*")
_ASCII_PUNCT_NEAR_CJK = re.compile(rf"(?<=[{CJK}”）])([,;:?!])|([,;:?!])(?=[{CJK}“（])")
_FULL_PUNCT = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！"}
_MULTI_SPACE = re.compile(r"[ \t\u00a0]{2,}")

_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF10, 0xFF1A)}  # ０-９
_FULLWIDTH.update({cp: cp - 0xFEE0 for cp in range(0xFF21, 0xFF3B)})  # Ａ-Ｚ
_FULLWIDTH.update({cp: cp - 0xFEE0 for cp in range(0xFF41, 0xFF5B)})  # ａ-ｚ
_FULLWIDTH.update({0xFF05: ord("%"), 0xFF0E: ord(".")})


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return _t2s().convert(text)


def fold_width(text: str) -> str:
    """Full-width digits and Latin letters to ASCII; Chinese punctuation is kept."""
    return text.translate(_FULLWIDTH)


def strip_pinyin(text: str) -> str:
    return _PINYIN_GLOSS.sub("", text)


def tidy_spaces(text: str) -> str:
    """Remove the spaces PDF and web extraction insert between CJK characters and digits."""
    text = _SPACE_CJK_DIGIT.sub("", text)
    text = _SPACE_CJK_PUNCT.sub(r"\1", text)
    return _MULTI_SPACE.sub(" ", text)


def widen_punctuation(text: str) -> str:
    """ASCII commas, colons etc. inside Chinese prose become their full-width forms."""
    return _ASCII_PUNCT_NEAR_CJK.sub(lambda m: _FULL_PUNCT[m.group(1) or m.group(2)], text)


def join_cjk_spaces(text: str) -> str:
    """Drop spaces between two CJK characters (PDF justification artefacts)."""
    return _SPACE_BETWEEN_CJK.sub("", text)


# Old or loose spellings people still type, written the way policies write them (到帐 → 到账).
_SPELLINGS = re.compile(r"(到|转|对公|银行)帐|帐(户|号|上)")


def normalize(text: str) -> str:
    """Normalise a query or a short string: simplified characters, ASCII digits, tidy spaces,
    today's spelling of 账 (到帐 → 到账)."""
    text = unicodedata.normalize("NFC", text)
    text = fold_width(to_simplified(text))
    text = _SPELLINGS.sub(lambda m: m.group(0).replace("帐", "账"), text)
    return tidy_spaces(strip_pinyin(text)).strip()


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked with an ellipsis when cut."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"

"""Clause marks: how Chinese policy documents number their parts.

第三条 (an article), 一、 (a section), （一） (a sub-section), 1. or 1、 (a numbered item). Chunking
finds headings with them; the facts extractor and the answer step strip them from labels and
sentences.
"""

from __future__ import annotations

import re

CN_NUM = "一二三四五六七八九十百零〇两"  # the characters of a number written in Chinese

ARTICLE = rf"第[{CN_NUM}\d]+条"
SECTION = r"[一二三四五六七八九十]{1,3}、"
SUBSECTION = r"[（(][一二三四五六七八九十]{1,3}[)）]"
ITEM = r"\d{1,2}[.、．](?!\d)"  # 1. and 1、 but not the 1.5 of an amount

# Any clause mark at the start of a line or label: 第三条, （一） or （1）, 一、, 1.
CLAUSE_MARK = re.compile(rf"^(?:{ARTICLE}|[（(][一二三四五六七八九十\d]{{1,3}}[)）]|{SECTION}|{ITEM})")

_MARK_AND_SPACE = re.compile(CLAUSE_MARK.pattern + r"\s*")
_ARTICLE_MARK = re.compile(rf"^{ARTICLE}")


def without_mark(label: str) -> str:
    """The label without its leading clause mark: 二、配套支持 → 配套支持."""
    return _MARK_AND_SPACE.sub("", label, count=1).strip()


def is_article(heading: str) -> bool:
    """The heading is an article (第三条), as opposed to a named section (二、配套支持)."""
    return bool(_ARTICLE_MARK.match(heading))


# 第四条 研发费用补助。…: an article that opens by naming the benefit it gives
_NAMES_BENEFIT = re.compile(rf"^\s*{ARTICLE}\s*[^，,。；;：:]{{2,12}}(?:奖励|补贴|补助|资助|奖补|贴息|扶持)。")


def names_benefit(article_text: str) -> bool:
    """Does an article open by naming the benefit it gives (第三条 首次入库奖励。)? Then a policy's
    articles are its kinds of benefit, each in one article."""
    return bool(_NAMES_BENEFIT.match(article_text))

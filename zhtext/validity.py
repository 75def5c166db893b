"""Dates as policies write them, the validity periods they state, and whether one is in force.

A policy says when it was issued (发布日期：…, or a date standing alone under the signature),
when it takes effect (自2024年1月1日起施行, 自印发之日起施行) and when it ends (有效期至…,
有效期3年). ``in_force`` is the one rule every layer uses to call a document expired.
"""

from __future__ import annotations

import datetime as dt
import re

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}

DATE = r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日"
DATE_RE = re.compile(DATE)
ISO_DATE_RE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_EXPIRES_AT = re.compile(r"有效期(?:至|到|截至)\s*" + DATE)
_EFFECTIVE_FROM = re.compile(r"自\s*" + DATE + r"\s*起(?:施行|实施|执行|生效)")
_ON_ISSUE = re.compile(r"自\s*(?:印发|发布|公布)之日\s*起(?:施行|实施|执行|生效)")
_VALID_YEARS = re.compile(
    r"自\s*(?:" + DATE + r"|(印发|发布|公布)之日)\s*起(?:施行|实施|执行|生效)[，,]?\s*有效期\s*([一二两三四五六七八九十\d]+)\s*年"
)
_PUBLISHED_LABEL = re.compile(r"(?:发布|印发|成文|发文)(?:日期|时间)\s*[:：]\s*(?:" + DATE + r"|(\d{4})-(\d{1,2})-(\d{1,2}))")


def cn_date(day: dt.date | str) -> str:
    """A date as Chinese prose writes it: 2026年3月1日 (``day`` a date or an ISO date string)."""
    if isinstance(day, str):
        day = dt.date.fromisoformat(day[:10])
    return f"{day.year}年{day.month}月{day.day}日"


def in_force(expires: dt.date | str | None, on: dt.date) -> bool:
    """Is a document whose validity ends on ``expires`` (inclusive; None or "" = no end date)
    still in force on ``on``? ``expires`` may be a date or an ISO date string."""
    if not expires:
        return True
    if isinstance(expires, str):
        expires = dt.date.fromisoformat(expires[:10])
    elif isinstance(expires, dt.datetime):
        expires = expires.date()
    return expires >= on


def validity_sentence(title: str, on: dt.date, *, effective_from: dt.date | None = None,
                      published: dt.date | None = None, expires: dt.date | None = None, doc_number: str = "") -> str:
    """What a reader asking 这个办法哪天开始执行、管到哪年 wants in one sentence:
    《…》（昆政发〔2021〕4号）自2021年2月25日起施行，有效期至2023年12月31日，已到期失效。"""
    said = f"《{title}》" + (f"（{doc_number}）" if doc_number else "")
    if effective_from:
        said += f"自{cn_date(effective_from)}起施行"
    elif published:
        said += f"于{cn_date(published)}印发"
    if expires:
        said += ("，" if effective_from or published else "") + f"有效期至{cn_date(expires)}"
        said += "，目前仍在有效期内" if in_force(expires, on) else "，已到期失效"
    elif effective_from or published:
        said += "，政策库未标注有效期截止日期"
    else:
        return ""
    return said + "。"


def issuer_sentence(title: str, issuer: str, *, doc_number: str = "", published: dt.date | None = None,
                    number_asked: bool = False) -> str:
    """Who issued a policy, for 那个通知是哪个部门发的、文号多少:
    《…》的文号为昆工信发〔2026〕3号，由昆山市工业和信息化局于2026年1月29日印发。 A 文号 asked for
    that the record lacks is said to be unknown rather than passed over."""
    if not issuer and not doc_number:
        return ""
    said = f"《{title}》" + (f"的文号为{doc_number}" if doc_number else "")
    if issuer:
        said += ("，" if doc_number else "") + f"由{issuer}" + (f"于{cn_date(published)}" if published else "") + "印发"
    if number_asked and not doc_number:
        said += "，政策库未标注其文号"
    return said + "。"


def parse_cn_number(token: str) -> int:
    """A small number in digits or Chinese numerals (三, 十二, 二十) as an int."""
    if token.isdigit():
        return int(token)
    if token == "十":
        return 10
    if token.startswith("十"):
        return 10 + _CN_DIGITS.get(token[1:], 0)
    if "十" in token:
        tens, _, ones = token.partition("十")
        return _CN_DIGITS[tens] * 10 + (_CN_DIGITS.get(ones, 0) if ones else 0)
    return _CN_DIGITS.get(token, 0)


def to_date(y: str, m: str, d: str) -> dt.date | None:
    """The date of matched year, month and day groups; None when there is no such day."""
    try:
        return dt.date(int(y), int(m), int(d))
    except ValueError:
        return None


def _add_years(day: dt.date, years: int) -> dt.date:
    """The last day of a validity period of ``years`` starting on ``day``."""
    try:
        end = day.replace(year=day.year + years)
    except ValueError:  # 29 February: the period ends on 28 February
        return day.replace(year=day.year + years, day=28)
    return end - dt.timedelta(days=1)


def infer_dates(text: str) -> dict[str, dt.date]:
    """What a policy's text says about its dates: ``published``, ``effective_from``, ``expires``."""
    found: dict[str, dt.date | None] = {}
    if match := _PUBLISHED_LABEL.search(text):
        g = match.groups()
        found["published"] = to_date(*(g[0:3] if g[0] else g[3:6]))
    else:
        # A date standing alone on a line is the signing date of a government document.
        for line in text.split("\n"):
            line = line.strip()
            if match := DATE_RE.fullmatch(line):
                found["published"] = to_date(*match.groups())
    if match := _EFFECTIVE_FROM.search(text):
        found["effective_from"] = to_date(*match.groups())
    elif _ON_ISSUE.search(text) and found.get("published"):
        found["effective_from"] = found["published"]
    if match := _EXPIRES_AT.search(text):
        found["expires"] = to_date(*match.groups())
    elif match := _VALID_YEARS.search(text):
        y, m, d, on_issue, years = match.groups()
        start = to_date(y, m, d) if y else found.get("published")
        if start:
            found.setdefault("effective_from", start)
            found["expires"] = _add_years(start, parse_cn_number(years))
    return {k: v for k, v in found.items() if v is not None}

"""文号: the issuing code, year and serial number a government document is known by.

Written in many bracket styles (昆政发〔2021〕4号, 苏府[2020]120号, 昆政办发（2026）6号);
always stored and shown with 〔〕.
"""

from __future__ import annotations

import re

DOC_NUMBER = re.compile(r"([\u4e00-\u9fff]{1,12})\s*[〔\[［【(（]\s*(\d{4})\s*[〕\]］】)）]\s*(\d{1,4})\s*号")
_LABEL = re.compile(r"^(?:文号|发文字号|索引号)")
# The tail of an issuing code (昆政发, 昆政办发, 苏府办发): the tokeniser cuts 政发 out of 昆政发〔2021〕4号,
# which makes it look like a word of the library's text; it is never a word a question means.
ISSUER_TAIL = re.compile(r"^[\u4e00-\u9fff]?(?:政|府|委|办)(?:办)?发$")
# Words before the issuing code that are not part of it: "根据苏府" -> "苏府".
_LEAD_WORDS = re.compile(r"^.*?(?:根据|依据|按照|印发|转发|的|即)")


def find_doc_number(text: str) -> str | None:
    """The document's own 文号: one standing on its own line near the top (or labelled).

    A 文号 quoted in the body (根据苏府〔2020〕120号…) is another document's number.
    """
    for line in text.split("\n")[:12]:
        line = line.strip()
        candidate = DOC_NUMBER.search(line)
        if candidate and (len(line) - len(candidate.group(0)) <= 6 or _LABEL.match(line)):
            return _written(candidate)
    return None


def find_doc_number_anywhere(text: str) -> str | None:
    """Any 文号 in a text (e.g. a question that quotes one), normalised to 〔〕."""
    match = DOC_NUMBER.search(text)
    return _written(match) if match else None


def _written(match: re.Match) -> str:
    prefix, year, number = match.groups()
    prefix = _LEAD_WORDS.sub("", prefix) or prefix
    return f"{prefix}〔{year}〕{number}号"

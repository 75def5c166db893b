"""Turn a chat answer into WeChat text messages: plain text, sources as short lines, ≤ 2,048 bytes each.

Sources are listed once per document, labelled with every number the answer uses for it
("[1][2] 来源：《title》文号"), so each mark in the text has a line to look up. A long answer is
split into several messages, and each message carries the source lines of the marks it contains:
any message alone (the passive reply, when the later ones cannot be sent) still says where its
facts come from.
"""

from __future__ import annotations

import re
from typing import Any, Callable
from urllib.parse import quote

from zhtext.sentences import CLOSERS, split_sentences

MAX_MESSAGE_BYTES = 2048  # WeChat and WeCom text messages (passive replies and the send APIs)

# A message is cut after a sentence together with what belongs to it: citation marks and closing
# quotes or brackets written after the stop ("…奖励。[1]", "…为准。）"), so no part starts "[1]".
_CLOSERS = CLOSERS + "》]\"'"
_MARK = re.compile(r"\[(\d+)\]")
_MARKDOWN = re.compile(r"\*\*|__|^#{1,6}\s+|`", re.MULTILINE)


def clean(answer: str) -> str:
    """Markdown emphasis and headings removed (WeChat shows text as typed)."""
    return _MARKDOWN.sub("", answer).strip()


def marks(text: str) -> set[int]:
    """The citation numbers used in ``text``."""
    return {int(n) for n in _MARK.findall(text)}


def source_lines(citations: list[dict[str, Any]], base_url: str, numbers: set[int] | None = None) -> list[str]:
    """One "[n][m] 来源：《title》文号" line (and a document link) per document.

    ``numbers``: only the documents cited with one of these numbers (None: every document).
    """
    documents: dict[Any, list[dict[str, Any]]] = {}
    for c in citations:
        documents.setdefault(c.get("doc_id") or id(c), []).append(c)
    lines: list[str] = []
    for doc_id, group in documents.items():
        numbers_here = [c["n"] for c in group if c.get("n")]
        if numbers is not None and not numbers & set(numbers_here):
            continue
        first = group[0]
        source = f"来源：《{first.get('title', '')}》{first.get('doc_number') or ''}"
        label = "".join(f"[{n}]" for n in sorted(dict.fromkeys(numbers_here)))
        lines.append(f"{label} {source}" if label else source)
        if base_url and first.get("doc_id"):
            lines.append(f"{base_url.rstrip('/')}/documents/{quote(str(first['doc_id']), safe='')}")
    return lines


def _with_sources(text: str, lines: list[str]) -> str:
    return f"{text}\n\n" + "\n".join(lines) if lines else text


def format_answer(answer: str, citations: list[dict[str, Any]], base_url: str) -> str:
    """The answer as one plain text: the text, then the source lines of every cited document."""
    return _with_sources(clean(answer), source_lines(citations, base_url))


def format_messages(answer: str, citations: list[dict[str, Any]], base_url: str,
                    limit: int = MAX_MESSAGE_BYTES) -> list[str]:
    """The answer as WeChat messages of at most ``limit`` bytes, each with its own source lines.

    A short answer is ``[format_answer(...)]``. A long one is split at sentence ends; each part is
    its share of the text followed by the source lines of the marks in that share (documents no
    mark refers to are listed in the last part). The parts' texts join back to the whole text.
    """
    whole = format_answer(answer, citations, base_url)
    if _utf8_len(whole) <= limit:
        return [whole] if whole else []
    text = clean(answer)

    def sized(chunk: str) -> int:
        return _utf8_len(_with_sources(chunk, source_lines(citations, base_url, marks(chunk))))

    chunks = _pack(text, limit, sized)
    cited_numbers = marks(text)
    cited_docs = {c.get("doc_id") for c in citations if c.get("n") in cited_numbers}
    unreferenced = [c for c in citations if c.get("doc_id") not in cited_docs]
    parts = []
    for i, chunk in enumerate(chunks):
        lines = source_lines(citations, base_url, marks(chunk))
        if i == len(chunks) - 1 and unreferenced:
            lines += source_lines(unreferenced, base_url)
        part = _with_sources(chunk, lines)
        parts.extend([part] if _utf8_len(part) <= limit else split_message(part, limit))
    return parts


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _sentences(text: str) -> list[str]:
    """``text`` cut after each sentence end, citation marks kept; the pieces join back to it."""
    return split_sentences(text, closers=_CLOSERS, marks=True)


def _pack(text: str, limit: int, sized: Callable[[str], int]) -> list[str]:
    """``text`` in pieces whose ``sized`` is at most ``limit``, cut at sentence ends; the pieces join
    back to ``text``. ``sized`` may count more than the piece (its source lines): a sentence too
    long even alone is cut at characters, leaving room for that extra."""
    pieces: list[str] = []
    current = ""
    for sentence in _sentences(text):
        if sized(current + sentence) <= limit:
            current += sentence
            continue
        if current:
            pieces.append(current)
            current = ""
        if sized(sentence) <= limit:
            current = sentence
            continue
        room = limit - (sized(sentence) - _utf8_len(sentence))
        if room < limit // 2:  # absurdly many sources: text first, sources as their own message
            pieces.extend(_cut_at_chars(sentence, limit))
            continue
        *full, current = _cut_at_chars(sentence, room)
        pieces.extend(full)
    if current:
        pieces.append(current)
    return pieces


def _cut_at_chars(text: str, limit: int) -> list[str]:
    """Cut an over-long sentence at character boundaries (a multibyte character is never split)."""
    pieces, current, size = [], [], 0
    for char in text:
        width = _utf8_len(char)
        if size + width > limit and current:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    if current:
        pieces.append("".join(current))
    return pieces


def split_message(text: str, limit: int = MAX_MESSAGE_BYTES) -> list[str]:
    """Split at sentence ends (see ``_sentences``) into parts of at most ``limit`` UTF-8 bytes.

    ``"".join(parts) == text``: nothing is dropped or added, so the parts join back to the whole.
    """
    if _utf8_len(text) <= limit:
        return [text] if text else []
    return _pack(text, limit, _utf8_len)

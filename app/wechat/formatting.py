"""Turn a chat answer into WeChat text messages: plain text, sources as short lines, ≤ 2,048 bytes each."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

MAX_MESSAGE_BYTES = 2048  # WeChat and WeCom text messages (passive replies and the send APIs)

_SENTENCE_END = re.compile(r"(?<=[。！？；!?;\n])")
_MARKDOWN = re.compile(r"\*\*|__|^#{1,6}\s+|`", re.MULTILINE)


def format_answer(answer: str, citations: list[dict[str, Any]], base_url: str) -> str:
    """The answer as plain text, then one "来源：《title》文号" line and a document link per cited document."""
    text = _MARKDOWN.sub("", answer).strip()
    lines: list[str] = []
    seen: set[str] = set()
    for c in citations:
        if c.get("doc_id") in seen:
            continue
        seen.add(c.get("doc_id"))
        source = f"来源：《{c.get('title', '')}》{c.get('doc_number') or ''}"
        lines.append(f"[{c['n']}] {source}" if c.get("n") else source)
        if base_url and c.get("doc_id"):
            lines.append(f"{base_url.rstrip('/')}/documents/{quote(str(c['doc_id']), safe='')}")
    return f"{text}\n\n" + "\n".join(lines) if lines else text


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


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
    """Split at sentence ends (。！？；and line breaks) into parts of at most ``limit`` UTF-8 bytes.

    ``"".join(parts) == text``: nothing is dropped or added, so the parts join back to the whole.
    """
    if _utf8_len(text) <= limit:
        return [text] if text else []
    parts: list[str] = []
    current = ""
    for sentence in (s for s in _SENTENCE_END.split(text) if s):
        if _utf8_len(current) + _utf8_len(sentence) <= limit:
            current += sentence
            continue
        if current:
            parts.append(current)
            current = ""
        if _utf8_len(sentence) <= limit:
            current = sentence
        else:
            *full, current = _cut_at_chars(sentence, limit)
            parts.extend(full)
    if current:
        parts.append(current)
    return parts

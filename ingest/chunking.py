"""Structure-aware chunking for Chinese policy documents.

A policy is split along its own structure first (Markdown headings, 第X章, 一、, （一）,
第X条, Q&A pairs), so that a chunk is one article or one clause with its heading path as
context; a section that is still too long is split between list items and then between
sentences (。！？；), never inside a number or a 文号.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from zhtext.clauses import ARTICLE, CN_NUM, ITEM, SECTION, SUBSECTION
from zhtext.docnumbers import DOC_NUMBER
from zhtext.normalize import shorten
from zhtext.sentences import split_sentences

# Markdown headings rank 1-6 and 编/章/节 rank 10-12 everywhere. The clause markers below
# have no fixed order across documents (一、 may hold 第X条, or 第X条 may hold （一）), so
# their rank is the order in which a document first uses them.
_FIXED: list[tuple[int, re.Pattern[str]]] = [
    (10, re.compile(rf"^第[{CN_NUM}\d]+编")),
    (11, re.compile(rf"^第[{CN_NUM}\d]+章")),
    (12, re.compile(rf"^第[{CN_NUM}\d]+节")),
]
_CLAUSES: dict[str, re.Pattern[str]] = {
    "section": re.compile("^" + SECTION),
    "subsection": re.compile("^" + SUBSECTION),
    "article": re.compile("^" + ARTICLE),
    "question": re.compile(r"^(?:问|Q\d*)[:：]"),
}
# Cleaning drops the space in "### （一）…", so a Markdown heading may start right after the #s.
_MD_HEADING = re.compile(r"^(#{1,6})\s*([^#\s].*?)\s*#*$")
_ITEM = re.compile(rf"^(?:{ITEM}|[（(]\d{{1,2}}[)）]|[①②③④⑤⑥⑦⑧⑨⑩]|[-*•·]\s)")
# A heading is context for every chunk under it (stored with each chunk and embedded with it), so a
# label and the whole context are capped: one 40,000-character heading must not ride on 161 chunks.
MAX_LABEL_CHARS = 80
MAX_CONTEXT_CHARS = 300


@dataclass
class Chunk:
    index: int
    text: str
    heading_path: list[str] = field(default_factory=list)

    @property
    def article(self) -> str:
        return self.heading_path[-1] if self.heading_path else ""

    @property
    def path_text(self) -> str:
        return shorten(" > ".join(self.heading_path), MAX_CONTEXT_CHARS)


@dataclass
class _Section:
    path: list[str]
    lines: list[str]
    heading_only: bool = False

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _label(line: str, kind: str) -> str:
    """A short label for the heading path: the heading itself, not the clause it opens."""
    if kind == "article":
        return _CLAUSES["article"].match(line).group(0)[:MAX_LABEL_CHARS]
    if kind == "question":
        return line[:40]
    head = re.split(r"[。；：:，,]", line, maxsplit=1)[0]
    return head[:40]


def detect_heading(line: str, order: list[str] | None = None) -> tuple[int, str] | None:
    """(rank, label) when the line opens a heading or clause; ``order`` records clause kinds seen."""
    if match := _MD_HEADING.match(line):
        return len(match.group(1)), shorten(match.group(2).strip(), MAX_LABEL_CHARS)
    for rank, pattern in _FIXED:
        if pattern.match(line):
            return rank, _label(line, "")
    for kind, pattern in _CLAUSES.items():
        if pattern.match(line):
            if order is None:
                order = []
            if kind not in order:
                order.append(kind)
            return 20 + order.index(kind), _label(line, kind)
    return None


def split_sections(text: str, title: str = "") -> list[_Section]:
    sections: list[_Section] = []
    stack: list[tuple[int, str]] = []
    current = _Section(path=[], lines=[])
    order: list[str] = []
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            continue
        heading = detect_heading(line, order)
        if heading is None:
            current.lines.append(line)
            current.heading_only = False
            continue
        rank, label = heading
        if current.lines:
            sections.append(current)
        while stack and stack[-1][0] >= rank:
            stack.pop()
        if label == shorten(title.strip(), MAX_LABEL_CHARS):
            # The document's own title as a Markdown heading is context, not a section.
            current = _Section(path=[lab for _, lab in stack], lines=[])
            continue
        stack.append((rank, label))
        display = _MD_HEADING.sub(r"\2", line)
        # A clause that introduces a list (第五条 …如下：) is the parent of short items that follow.
        bare = rank < 10 or (len(display) <= 40 and not display.endswith(("。", "；", ";", "：", ":")))
        current = _Section(path=[lab for _, lab in stack], lines=[display], heading_only=bare)
    if current.lines:
        sections.append(current)
    return sections


def _protected_spans(text: str) -> list[tuple[int, int]]:
    """Sorted, merged spans of numbers and 文号 (a 文号's prefix may overlap the amount before it)."""
    spans = [m.span() for m in DOC_NUMBER.finditer(text)]
    spans += [m.span() for m in re.finditer(r"\d[\d.,，%％]*(?:万|亿|千|百)?(?:元|亩|平方米|家|个|项|年|月|日|天|人|%)?", text)]
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _hard_split(sentence: str, limit: int) -> list[str]:
    """Split an over-long sentence at commas, else at a position outside numbers and 文号."""
    parts: list[str] = []
    rest = sentence
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("，"), window.rfind("、"), window.rfind(","))
        if cut < limit // 3:
            cut = limit
            for start, end in _protected_spans(rest):
                if start < cut < end:
                    cut = start if start > 0 else end
                    break
        else:
            cut += 1
        parts.append(rest[:cut])
        rest = rest[cut:]
    if rest:
        parts.append(rest)
    return parts


def _sentences(text: str, limit: int) -> list[str]:
    out: list[str] = []
    for sentence in split_sentences(text):
        if not sentence.strip():
            continue
        out.extend(_hard_split(sentence, limit) if len(sentence) > limit else [sentence])
    return out


def _units(section: _Section, limit: int) -> list[tuple[str, str]]:
    """Paragraph-sized pieces of a section as (separator, text): list items and paragraphs,
    split into sentences when a paragraph alone is too long."""
    units: list[tuple[str, str]] = []
    for line in section.lines:
        if len(line) <= limit:
            units.append(("\n", line))
            continue
        for i, sentence in enumerate(_sentences(line, limit)):
            units.append(("\n" if i == 0 else "", sentence.strip("\n")))
    return [u for u in units if u[1].strip()]


def _pack(units: list[tuple[str, str]], limit: int, minimum: int) -> list[str]:
    pieces: list[str] = []
    for sep, unit in units:
        if pieces and len(pieces[-1]) + len(sep) + len(unit) <= limit:
            pieces[-1] += sep + unit
        else:
            pieces.append(unit)
    if len(pieces) > 1 and len(pieces[-1]) < minimum and len(pieces[-2]) + len(pieces[-1]) <= limit:
        tail = pieces.pop()
        pieces[-1] += tail
    return pieces


def _merge_sections(sections: list[_Section], limit: int, minimum: int) -> list[_Section]:
    """Carry bare headings into their first subsection and fold short clauses into their parent.

    A list of short items (（一）返还申请书；（二）…) belongs with the article that
    introduces it: the merged chunk is cited by the parent's label. A clause long enough to
    stand alone keeps its own chunk, so a citation still names exactly one article.
    """
    out: list[_Section] = []
    carry: _Section | None = None
    for section in sections:
        if carry is not None:
            if section.path[: len(carry.path)] == carry.path:
                section = _Section(path=section.path, lines=carry.lines + section.lines,
                                   heading_only=section.heading_only)
            else:
                out.append(carry)
            carry = None
        if section.heading_only:
            carry = section
            continue
        prev = out[-1] if out else None
        if prev is not None and len(section.text) < minimum and len(prev.text) + len(section.text) < limit:
            if prev.path == section.path[:-1]:
                prev.lines.extend(section.lines)
                continue
        out.append(section)
    if carry is not None:
        out.append(carry)
    return out


def chunk_document(text: str, *, title: str = "", max_chars: int = 400, min_chars: int = 60) -> list[Chunk]:
    """Split a cleaned document into chunks that follow its headings and articles."""
    sections = _merge_sections(split_sections(text, title), max_chars, min_chars)
    chunks: list[Chunk] = []
    for section in sections:
        for piece in _pack(_units(section, max_chars), max_chars, min_chars):
            chunks.append(Chunk(index=len(chunks), text=piece.strip(), heading_path=list(section.path)))
    return chunks


def embedding_text(chunk: Chunk, title: str) -> str:
    """What gets embedded: the document title and heading path give a clause its context."""
    context = " > ".join([title, *chunk.heading_path]) if title else chunk.path_text
    context = shorten(context, MAX_CONTEXT_CHARS)
    return f"{context}\n{chunk.text}" if context else chunk.text

"""What every answer backend shares: numbered context, citations, the footer and the refusal."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Generator, Protocol, TypeVar

from app.services.retrieval import RetrievedChunk
from zhtext.clauses import ARTICLE
from zhtext.validity import cn_date

R = TypeVar("R")
T = TypeVar("T")

CITATION_MARK = re.compile(r"\[(\d{1,2})\]")


@dataclass
class Citation:
    n: int
    doc_id: str
    title: str
    doc_number: str | None
    article: str
    source: str
    url: str | None
    snippet: str
    expires: str | None
    expired: bool
    sample: bool = False
    chunk_id: str = ""
    heading_path: str = ""

    @classmethod
    def from_chunk(cls, n: int, chunk: RetrievedChunk, today: dt.date) -> "Citation":
        m = chunk.meta
        return cls(
            n=n, doc_id=m.get("doc_id", ""), title=m.get("title", ""), doc_number=m.get("doc_number") or None,
            article=article_label(m.get("article", ""), m.get("heading_path", ""), m.get("title", "")), source=m.get("source", ""), url=m.get("url") or None,
            snippet=chunk.text[:300], expires=m.get("expires") or None, expired=chunk.expired(today),
            sample=bool(m.get("sample")), chunk_id=chunk.id, heading_path=m.get("heading_path", ""),
        )

    def to_dict(self) -> dict:
        return asdict(self)

    def reference(self) -> str:
        """《title》（文号） 第X条 — how a citation reads in a sentence."""
        ref = f"《{self.title}》"
        if self.doc_number:
            ref += f"（{self.doc_number}）"
        if self.article:
            ref += self.article if re.match(r"^第.+条$", self.article) else f"「{self.article}」"
        return ref


_CLAUSE_MARK = re.compile(r"^(?:[（(][一二三四五六七八九十\d]{1,3}[)）]|[一二三四五六七八九十]{1,3}、|\d{1,2}[.、．])")
_ARTICLE = re.compile("^" + ARTICLE)
_SAMPLE_MARK = re.compile(r"[（(]示例[）)]")


def article_label(article: str, heading_path: str = "", title: str = "") -> str:
    """A short label: 第三条（五） rather than the whole clause a chunk starts with; none for a
    document's opening passage, whose heading is the document's own title."""
    if title and len(article) >= 6 and article[:10] in title:
        return ""
    if len(article) <= 14:
        return article
    if heading_path and article == heading_path.split(">")[-1].strip():
        # A section's own title (二、与企业相关的常见“一件事”), not a clause a chunk starts with.
        short = _SAMPLE_MARK.sub("", article).strip()
        if len(short) <= 24:
            return short
    mark = _CLAUSE_MARK.match(article)
    parents = [p.strip() for p in heading_path.split(">")][1:-1]
    parent = next((p for p in reversed(parents) if _ARTICLE.match(p) or len(p) <= 14), "")
    if mark:
        return f"{parent}{mark.group(0)}" if parent else mark.group(0)
    return parent or article[:14] + "…"


@dataclass
class AnswerContext:
    question: str            # what the user typed
    standalone: str          # the question with the conversation's subject filled in
    chunks: list[RetrievedChunk]
    today: dt.date = field(default_factory=dt.date.today)
    query: Any = None        # app.services.query.Query (what is asked, what is named)
    notes: list[str] = field(default_factory=list)  # said before the answer (validity, language)
    history: list[tuple[str, str]] = field(default_factory=list)  # earlier (question, answer) turns

    def citations(self) -> list[Citation]:
        return [Citation.from_chunk(i + 1, c, self.today) for i, c in enumerate(self.chunks)]


@dataclass
class Answer:
    text: str
    citations: list[Citation]
    grounded: bool
    fallback: bool = False
    refusal_reason: str | None = None


Generation = Generator[str, None, Answer]
"""Pieces of an answer's text that may be shown at once, then (as the generator's return value) the
finished Answer, whose text starts with the pieces joined; the rest (the footer) is the caller's to send."""


class Answerer(Protocol):
    """An answer backend. Backends are shared by every request: they keep no per-answer state."""

    name: str
    rewrites: bool  # True when ``rewrite`` can turn a follow-up into a standalone question

    def available(self) -> bool:
        """False while the backend is known to be down (a question then goes straight to the fallback)."""
        ...

    def answer(self, ctx: AnswerContext) -> Answer: ...

    def stream(self, ctx: AnswerContext) -> Generation: ...

    def rewrite(self, history: str, question: str) -> str:
        """The follow-up ``question`` as a standalone question; called only when ``rewrites`` is True."""
        ...


def whole(answer: Answer) -> Generation:
    """A blocking answer as a generation that shows nothing before it is finished."""
    return answer
    yield  # a generator function: nothing is shown


def relay(generation: Generator[str, None, R], wrap: Callable[[str], T]) -> Generator[T, None, R]:
    """Each piece passed on as ``wrap(piece)`` (which may raise to stop the generation), then
    returns what the generation returned."""
    while True:
        try:
            piece = next(generation)
        except StopIteration as stop:
            return stop.value
        try:
            wrapped = wrap(piece)
        except BaseException:
            generation.close()
            raise
        yield wrapped


def drain(generation: Generator[Any, None, R]) -> R:
    """What a generation returns (an Answer), its pieces discarded."""
    while True:
        try:
            next(generation)
        except StopIteration as stop:
            return stop.value


def compose_footer(citations: list[Citation]) -> str:
    """One line: validity of each cited document, a sample-data note, the official-text disclaimer.

    An expired document is not repeated here: the answer itself says so (with its successor).
    """
    parts: list[str] = []
    validity = []
    seen: set[str] = set()
    for c in citations:
        if c.doc_id in seen:
            continue
        seen.add(c.doc_id)
        if c.expired and c.expires:
            validity.append(f"《{c.title}》已于{cn_date(c.expires)}到期失效")
        elif c.expires:
            validity.append(f"《{c.title}》有效期至{cn_date(c.expires)}")
    if validity:
        parts.append("；".join(validity) + "。")
    if any(c.sample for c in citations):
        parts.append("注：部分引用为示例整理数据，仅作演示，不代表正式政策。")
    parts.append("以上内容依据政策库整理，具体以官方发布的政策原文为准。")
    return "".join(parts)


def keep_known_citations(text: str, valid: set[int]) -> str:
    """Drop citation marks that point at no numbered context passage (invented by a model)."""
    return CITATION_MARK.sub(lambda m: m.group(0) if int(m.group(1)) in valid else "", text)


def cited_numbers(text: str) -> list[int]:
    return list(dict.fromkeys(int(n) for n in CITATION_MARK.findall(text)))

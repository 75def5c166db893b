"""Tables of the curation feature (registered in app.schema.MODEL_MODULES)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.components.orm import Base


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive datetimes; every stored time is UTC."""
    return value.replace(tzinfo=dt.timezone.utc) if value is not None and value.tzinfo is None else value


# Corrected-answer states: served, switched off by staff, or back in review because a cited
# document was replaced, deleted or expired.
ANSWER_ACTIVE, ANSWER_DISABLED, ANSWER_REVIEW = "active", "disabled", "review"


class CuratedAnswerRow(Base):
    """A corrected answer (标注回复) written by staff for a question and its close paraphrases."""

    __tablename__ = "curated_answers"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    # [{doc_id, article, content_hash, title, doc_number, url, source, expires, sample, snippet, chunk_id}]
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    embedding: Mapped[list[float]] = mapped_column(JSON, default=list)  # of the question, query embedder
    status: Mapped[str] = mapped_column(String(16), default=ANSWER_ACTIVE, index=True)
    review_reason: Mapped[str] = mapped_column(Text, default="")
    origin: Mapped[str | None] = mapped_column(String(200))  # e.g. unanswered / message:<id>
    hits: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(64))
    updated_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now, index=True)


# Review-gate states of a held version.
REVIEW_PENDING, REVIEW_APPROVED, REVIEW_REJECTED, REVIEW_SUPERSEDED = "pending", "approved", "rejected", "superseded"


class PublishReviewRow(Base):
    """A document version indexed but held from answers until a reviewer decides (待审核)."""

    __tablename__ = "publish_reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    doc_id: Mapped[str] = mapped_column(String(128), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(500), default="")
    path: Mapped[str | None] = mapped_column(String(2000))
    source: Mapped[str] = mapped_column(String(500), default="")
    overrides: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=REVIEW_PENDING, index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    submitted_by: Mapped[str] = mapped_column(String(64), default="")
    decided_by: Mapped[str | None] = mapped_column(String(64))
    job_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class VersionTextRow(Base):
    """The cleaned text of each indexed version (the registry keeps only the latest one), for diffs."""

    __tablename__ = "document_version_texts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    doc_id: Mapped[str] = mapped_column(String(128), index=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)

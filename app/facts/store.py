"""Policy items stored with the document version they were extracted from, and staff review.

Items are re-extracted whenever a version is indexed; a staff decision (accept, edit, reject)
is kept for as long as the same version is served, so re-indexing the same file never loses it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

from sqlalchemy import JSON, DateTime, String, Text, delete, select
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from app.components.orm import Base
from app.facts.extract import PolicyItem

PENDING, ACCEPTED, EDITED, REJECTED = "pending", "accepted", "edited", "rejected"
REVIEW_STATES = (PENDING, ACCEPTED, EDITED, REJECTED)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class PolicyItemRow(Base):
    __tablename__ = "policy_items"

    item_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    doc_id: Mapped[str] = mapped_column(String(128), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    article: Mapped[str] = mapped_column(String(200))
    extracted: Mapped[dict[str, Any]] = mapped_column(JSON)
    review: Mapped[str] = mapped_column(String(16), default=PENDING)
    edited: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reviewer: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)

    def item(self) -> PolicyItem:
        """What the service uses: the staff edit when there is one, else the extraction."""
        return PolicyItem.from_dict({**self.extracted, **(self.edited or {})})

    def to_dict(self) -> dict[str, Any]:
        return {"item": self.item().to_dict(), "extracted": self.extracted, "review": self.review,
                "reviewer": self.reviewer, "note": self.note,
                "reviewed_at": self.reviewed_at.isoformat() if self.reviewed_at else None}


class PolicyFacts:
    def __init__(self, session_factory: sessionmaker):
        self._sessions = session_factory

    def replace_version(self, doc_id: str, content_hash: str, items: Iterable[PolicyItem]) -> int:
        """Store a version's items; rows of the same version keep their staff review."""
        items = list(items)
        with self._sessions.begin() as session:
            existing = {r.item_id: r for r in session.scalars(select(PolicyItemRow).where(PolicyItemRow.doc_id == doc_id))}
            keep = {i.item_id for i in items}
            for item_id, row in existing.items():
                if item_id not in keep:
                    session.delete(row)
            for item in items:
                row = existing.get(item.item_id)
                if row is None:
                    session.add(PolicyItemRow(item_id=item.item_id, doc_id=doc_id, content_hash=content_hash,
                                              article=item.article[:200], extracted=item.to_dict()))
                else:
                    row.extracted = item.to_dict()
        return len(items)

    def remove(self, doc_id: str) -> None:
        with self._sessions.begin() as session:
            session.execute(delete(PolicyItemRow).where(PolicyItemRow.doc_id == doc_id))

    def rows(self, doc_id: str | None = None, review: str | None = None) -> list[PolicyItemRow]:
        with self._sessions() as session:
            query = select(PolicyItemRow).order_by(PolicyItemRow.doc_id, PolicyItemRow.created_at, PolicyItemRow.article)
            if doc_id:
                query = query.where(PolicyItemRow.doc_id == doc_id)
            if review:
                query = query.where(PolicyItemRow.review == review)
            return list(session.scalars(query))

    def get(self, item_id: str) -> PolicyItemRow | None:
        with self._sessions() as session:
            return session.get(PolicyItemRow, item_id)

    def live_items(self, served: dict[str, Any]) -> list[PolicyItem]:
        """Items of the versions being served (staff-rejected ones left out)."""
        out = []
        for row in self.rows():
            version = served.get(row.doc_id)
            if version is None or version.content_hash != row.content_hash or row.review == REJECTED:
                continue
            out.append(row.item())
        return out

    def set_review(self, item_id: str, review: str, reviewer: str, *, edited: dict[str, Any] | None = None,
                   note: str | None = None) -> PolicyItemRow | None:
        with self._sessions.begin() as session:
            row = session.get(PolicyItemRow, item_id)
            if row is None:
                return None
            row.review, row.reviewer, row.note, row.reviewed_at = review, reviewer, note, _now()
            if review == EDITED:
                allowed = {"programme", "benefit", "amount_text", "amount_max_wan", "ratio", "window", "department",
                           "materials", "conditions"}
                row.edited = {k: v for k, v in (edited or {}).items() if k in allowed}
            elif review in (ACCEPTED, PENDING):
                row.edited = None
            return row

    def coverage(self, served: dict[str, Any]) -> dict[str, float]:
        rows = [r for r in self.rows() if r.doc_id in served and served[r.doc_id].content_hash == r.content_hash]
        docs = {r.doc_id for r in rows}
        reviewed = sum(1 for r in rows if r.review != PENDING)
        return {"documents": len(served), "documents_with_items": len(docs),
                "share_documents_with_items": round(len(docs) / len(served), 3) if served else 0.0,
                "items": len(rows), "share_items_reviewed": round(reviewed / len(rows), 3) if rows else 0.0}

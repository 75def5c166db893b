"""Audit log: who did what to which document and version, and when."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from app.components.database import Base


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class AuditRow(Base):
    __tablename__ = "admin_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32), index=True)
    doc_id: Mapped[str | None] = mapped_column(String(128), index=True)
    version: Mapped[int | None] = mapped_column(Integer)
    job_id: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AuditLog:
    def __init__(self, session_factory: sessionmaker):
        self._sessions = session_factory  # the table is created by database.create_schema

    def record(self, actor: str, role: str, action: str, *, doc_id: str | None = None, version: int | None = None,
               job_id: str | None = None, detail: dict[str, Any] | None = None) -> None:
        with self._sessions.begin() as session:
            session.add(AuditRow(actor=actor, role=role, action=action, doc_id=doc_id, version=version,
                                 job_id=job_id, detail=detail or None))

    def entries(self, *, doc_id: str | None = None, actor: str | None = None, action: str | None = None,
                limit: int = 200) -> list[AuditRow]:
        with self._sessions() as session:
            query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
            for column, value in ((AuditRow.doc_id, doc_id), (AuditRow.actor, actor), (AuditRow.action, action)):
                if value:
                    query = query.where(column == value)
            return list(session.scalars(query))

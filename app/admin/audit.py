"""Audit log: who did what to which document and version, and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from app.admin.models import AuditRow

__all__ = ["AuditLog", "AuditRow"]


class AuditLog:
    def __init__(self, session_factory: sessionmaker):
        self._sessions = session_factory  # the table is created by database.upgrade_schema

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

"""A document's version history with a text diff between any two versions, and rollback.

Rollback indexes an older version's stored original again through the admin job path (as an
upload does); it becomes a new version number with the old content. The version is pre-approved,
so the review gate lets it through: it restores content that was already published.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from app.admin.audit import AuditLog
from app.admin.auth import Principal
from app.admin.jobs import JobRow, JobRunner, job_item
from app.components.registry import DocumentRow, DocumentStatus, DocumentVersionRow
from app.curation.models import (REVIEW_APPROVED, REVIEW_PENDING, REVIEW_REJECTED, REVIEW_SUPERSEDED,
                                 PublishReviewRow, VersionTextRow, now)
from app.curation.review import ReviewGate
from app.errors import DocumentConflict, DocumentNotFound, InvalidAdminRequest, KunruyiError

# One vocabulary for staff (issue 16): 在用 / 处理中 / 已替换 / 已删除 / 待审核 (and 已退回).
STATUS_LABELS = {"active": "在用", "indexing": "处理中", "superseded": "已替换", "deleted": "已删除",
                 "pending": "待审核", "rejected": "已退回"}
MAX_DIFF_LINES = 4000


class Versions:
    def __init__(self, sessions: sessionmaker, jobs: JobRunner, gate: ReviewGate, audit: AuditLog):
        self._sessions = sessions
        self.jobs = jobs
        self.ingest = jobs.ingest
        self.registry = jobs.ingest.registry
        self.files = jobs.files
        self.gate = gate
        self.audit = audit

    def _document(self, doc_id: str) -> DocumentRow:
        row = self.registry.get(doc_id)
        if row is None:
            raise DocumentNotFound(f"未找到文档 {doc_id}")
        return row

    def history(self, doc_id: str) -> list[dict[str, Any]]:
        row = self._document(doc_id)
        reviews = {r.content_hash: r for r in self.gate.reviews(doc_id)}
        with self._sessions() as session:
            texts = set(session.scalars(select(VersionTextRow.content_hash).where(VersionTextRow.doc_id == doc_id)))
        out = []
        for v in self.registry.versions(doc_id):
            status = v.status
            review = reviews.get(v.content_hash)
            if status == DocumentStatus.INDEXING and review is not None and review.status == REVIEW_PENDING:
                status = "pending"
            if review is not None and review.status == REVIEW_REJECTED and status != DocumentStatus.ACTIVE:
                status = "rejected"
            if status == DocumentStatus.INDEXING and review is not None and review.status == REVIEW_SUPERSEDED:
                status = "superseded"  # a newer upload replaced it while it waited for review
            if row.status != DocumentStatus.DELETED and v.content_hash == row.active_hash and v.status == "active":
                status = "active"
            meta = v.meta or {}
            out.append({"version": v.version, "status": status, "status_label": STATUS_LABELS.get(status, status),
                        "source": meta.get("source", ""), "title": meta.get("title", ""),
                        "chunk_count": v.chunk_count, "created_at": v.created_at,
                        "serving": row.status != DocumentStatus.DELETED and v.content_hash == row.active_hash,
                        "diffable": v.content_hash in texts or self._original(doc_id, v) is not None,
                        "reason": review.reason if review is not None and review.status == REVIEW_REJECTED else "",
                        "reviewed_by": review.decided_by if review is not None else None})
        return out

    def _version(self, doc_id: str, version: int) -> DocumentVersionRow:
        for v in self.registry.versions(doc_id):
            if v.version == version:
                return v
        raise DocumentNotFound(f"文档 {doc_id} 没有版本 v{version}")

    def _original(self, doc_id: str, v: DocumentVersionRow) -> Path | None:
        """The stored original of a version, when no other version shares its file (a corpus file
        edited in place holds only its newest content)."""
        path = (v.meta or {}).get("path")
        if not path:
            return None
        shared = [o for o in self.registry.versions(doc_id) if (o.meta or {}).get("path") == path
                  and o.content_hash != v.content_hash]
        if shared and max(o.version for o in shared) > v.version:
            return None
        local = self.files.local_path(path)
        return local if local.is_file() else None

    def text(self, doc_id: str, version: int) -> str:
        v = self._version(doc_id, version)
        with self._sessions() as session:
            text = session.scalars(select(VersionTextRow.text).where(VersionTextRow.doc_id == doc_id,
                                                                     VersionTextRow.content_hash == v.content_hash)).first()
        if text is not None:
            return text
        row = self._document(doc_id)
        if row.content_hash == v.content_hash and row.text:
            return row.text
        path = self._original(doc_id, v)
        if path is None:
            raise DocumentConflict(f"v{version} 的原文件已不在服务器上（或已被新版本覆盖），无法比较")
        try:
            text = self.ingest.prepare_file(path, overrides=dict(row.overrides or {})).text
        except KunruyiError as exc:
            raise DocumentConflict(f"v{version} 的原文件无法解析：{exc.message}") from exc
        self.gate.keep_text(doc_id, v.content_hash, text)
        return text

    def diff(self, doc_id: str, old: int, new: int) -> dict[str, Any]:
        a, b = self.text(doc_id, old).splitlines(), self.text(doc_id, new).splitlines()
        lines = []
        added = removed = 0
        for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(2):
            lines.append({"op": "@", "text": f"第 {group[0][1] + 1} 行（v{old}） / 第 {group[0][3] + 1} 行（v{new}）"})
            for tag, i1, i2, j1, j2 in group:
                if tag == "equal":
                    lines += [{"op": " ", "text": t} for t in a[i1:i2]]
                    continue
                if tag in ("replace", "delete"):
                    lines += [{"op": "-", "text": t} for t in a[i1:i2]]
                    removed += i2 - i1
                if tag in ("replace", "insert"):
                    lines += [{"op": "+", "text": t} for t in b[j1:j2]]
                    added += j2 - j1
        return {"doc_id": doc_id, "from": old, "to": new, "added": added, "removed": removed,
                "same": not added and not removed, "lines": lines[:MAX_DIFF_LINES],
                "truncated": len(lines) > MAX_DIFF_LINES}

    def rollback(self, doc_id: str, version: int, principal: Principal) -> JobRow:
        row = self._document(doc_id)
        if row.status == DocumentStatus.DELETED:
            raise DocumentConflict("文档已删除，无法回退；请重新上传")
        v = self._version(doc_id, version)
        if v.content_hash == row.active_hash:
            raise InvalidAdminRequest(f"v{version} 就是当前在用的版本")
        path = self._original(doc_id, v)
        if path is None:
            raise DocumentConflict(f"v{version} 的原文件已不在服务器上（或已被新版本覆盖），无法回退")
        meta = v.meta or {}
        overrides = dict(row.overrides or {})
        if meta.get("source"):
            overrides["source"] = meta["source"]
        try:
            doc = self.ingest.prepare_file(path, overrides=overrides)
        except KunruyiError as exc:
            raise DocumentConflict(f"v{version} 的原文件无法解析：{exc.message}") from exc
        with self._sessions.begin() as session:  # restores published content: no second review
            session.add(PublishReviewRow(doc_id=doc_id, version=version, content_hash=doc.content_hash,
                                         title=doc.meta.title, path=str(path), source=meta.get("source", ""),
                                         overrides=overrides or None, chunk_count=len(doc.chunks),
                                         status=REVIEW_APPROVED, reason=f"回退到 v{version}",
                                         submitted_by=principal.name, decided_by=principal.name, decided_at=now()))
        job = self.jobs.submit("replace", [job_item(name=meta.get("source") or path.name, doc_id=doc_id, path=path,
                                                    overrides=overrides)], principal)
        self.audit.record(principal.name, principal.role, "rollback", doc_id=doc_id, version=row.version,
                          job_id=job.id, detail={"to_version": version, "file": meta.get("source", "")})
        return job

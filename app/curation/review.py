"""Review before publishing (KUNRUYI_REVIEW_BEFORE_PUBLISH, off by default) and version texts.

The gate is the ``before_activate`` hook of the admin job path (app/admin/jobs.py → IngestService.index):
it runs once a new version's chunks are written and before the registry activates it. With the
setting on, a version that is neither the one already served nor approved raises ``ActivationHeld``:
the job item ends as 待审核, the registry keeps serving the previous version (``active_hash``), and
the waiting version's chunks are never served. A ``reviewer`` (not the person who submitted it)
approves — the stored original is indexed again through the same job path, and this time the hook
lets it through — or rejects with a reason (its chunks are dropped; a new document is removed).
``python -m ingest`` on the server does not pass through the gate (operators are trusted).

The hook also keeps each indexed version's cleaned text, so any two versions can be compared.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from app.admin.audit import AuditLog
from app.admin.auth import Principal
from app.admin.jobs import PROCESS_OWNER, RUNNING, ActivationHeld, JobRow, JobRunner, job_item
from app.components.registry import DocumentRow, DocumentStatus, DocumentVersionRow
from app.curation.models import (REVIEW_APPROVED, REVIEW_PENDING, REVIEW_REJECTED, REVIEW_SUPERSEDED,
                                 PublishReviewRow, VersionTextRow, now)
from app.errors import AdminForbidden, DocumentConflict, InvalidAdminRequest, RecordNotFound
from zhtext.chunk_ids import chunk_prefix

log = logging.getLogger(__name__)

HELD_MESSAGE = "已建立索引，待审核：审核员通过后才会用于回答"
META_FIELDS = ("title", "doc_number", "issuer", "published", "effective_from", "expires", "category", "url",
               "source", "sample")


class ReviewGate:
    def __init__(self, settings, sessions: sessionmaker, jobs: JobRunner, audit: AuditLog):
        self.settings = settings
        self._sessions = sessions
        self.jobs = jobs
        self.ingest = jobs.ingest
        self.registry = jobs.ingest.registry
        self.audit = audit

    @property
    def enabled(self) -> bool:
        return bool(self.settings.review_before_publish)

    # -- the hook -----------------------------------------------------------------------------

    def before_activate(self, doc) -> None:
        """Runs in the job worker after the new chunks are written, before they are served."""
        doc_id, content_hash = doc.meta.doc_id, doc.content_hash
        self.keep_text(doc_id, content_hash, doc.text)
        if not self.enabled:
            return
        row = self.registry.get(doc_id)
        if row is None or row.active_hash == content_hash:
            return  # re-indexing the version already served
        with self._sessions.begin() as session:
            decided = session.scalars(select(PublishReviewRow).where(
                PublishReviewRow.doc_id == doc_id, PublishReviewRow.content_hash == content_hash,
                PublishReviewRow.status == REVIEW_APPROVED)).first()
            if decided is not None:
                return
            job = session.scalars(select(JobRow).where(JobRow.owner == PROCESS_OWNER, JobRow.status == RUNNING)
                                  .order_by(JobRow.started_at.desc())).first()
            session.execute(update(PublishReviewRow).where(PublishReviewRow.doc_id == doc_id,
                                                           PublishReviewRow.status == REVIEW_PENDING)
                            .values(status=REVIEW_SUPERSEDED, decided_at=now()))
            session.add(PublishReviewRow(
                doc_id=doc_id, version=row.version, content_hash=content_hash, title=doc.meta.title,
                path=row.path, source=row.source, overrides=dict(doc.overrides or {}) or None,
                chunk_count=len(doc.chunks), status=REVIEW_PENDING,
                submitted_by=job.created_by if job else "", job_id=job.id if job else None))
        log.info("version held for review doc_id=%s version=%s", doc_id, row.version)
        raise ActivationHeld(HELD_MESSAGE)

    def keep_text(self, doc_id: str, content_hash: str, text: str) -> None:
        with self._sessions.begin() as session:
            exists = session.scalars(select(VersionTextRow.id).where(VersionTextRow.doc_id == doc_id,
                                                                     VersionTextRow.content_hash == content_hash)).first()
            if exists is None:
                session.add(VersionTextRow(doc_id=doc_id, content_hash=content_hash, text=text))

    # -- reading ------------------------------------------------------------------------------

    def pending(self) -> list[PublishReviewRow]:
        with self._sessions() as session:
            return list(session.scalars(select(PublishReviewRow).where(PublishReviewRow.status == REVIEW_PENDING)
                                        .order_by(PublishReviewRow.created_at.desc())))

    def reviews(self, doc_id: str) -> list[PublishReviewRow]:
        with self._sessions() as session:
            return list(session.scalars(select(PublishReviewRow).where(PublishReviewRow.doc_id == doc_id)
                                        .order_by(PublishReviewRow.id)))

    def waiting(self, doc_id: str) -> PublishReviewRow:
        with self._sessions() as session:
            row = session.scalars(select(PublishReviewRow).where(PublishReviewRow.doc_id == doc_id,
                                                                 PublishReviewRow.status == REVIEW_PENDING)
                                  .order_by(PublishReviewRow.id.desc())).first()
        if row is None:
            raise RecordNotFound("该文档没有待审核的版本")
        return row

    # -- deciding -----------------------------------------------------------------------------

    def _check_reviewer(self, review: PublishReviewRow, principal: Principal) -> None:
        if principal.role != "reviewer":
            raise AdminForbidden("只有审核员（reviewer）可以审核待发布的版本")
        if review.submitted_by and review.submitted_by == principal.name:
            raise AdminForbidden("不能审核自己提交的版本，请由另一位审核员审核")

    def approve(self, doc_id: str, principal: Principal) -> JobRow:
        """Index the stored original again through the job path; the hook now lets it go live."""
        review = self.waiting(doc_id)
        self._check_reviewer(review, principal)
        if not review.path:
            raise DocumentConflict("待审核版本的原文件不存在，无法发布")
        with self._sessions.begin() as session:
            row = session.get(PublishReviewRow, review.id, with_for_update=True)
            row.status, row.decided_by, row.decided_at = REVIEW_APPROVED, principal.name, now()
        job = self.jobs.submit("replace", [job_item(name=review.source or doc_id, doc_id=doc_id, path=review.path,
                                                    overrides=dict(review.overrides or {}))], principal)
        self.audit.record(principal.name, principal.role, "review_approve", doc_id=doc_id, version=review.version,
                          job_id=job.id, detail={"title": review.title, "submitted_by": review.submitted_by})
        return job

    def reject(self, doc_id: str, reason: str, principal: Principal) -> PublishReviewRow:
        """The waiting version leaves: its chunks are dropped and the registry row shows the served
        version again (a new document that was never served is removed)."""
        reason = (reason or "").strip()
        if not reason:
            raise InvalidAdminRequest("请填写退回原因")
        review = self.waiting(doc_id)
        self._check_reviewer(review, principal)
        with self.jobs.corpus_lock:
            row = self.registry.get(doc_id)
            if row is not None and row.content_hash == review.content_hash:
                if row.active_hash:
                    self._restore_served(doc_id)
                    prefix = chunk_prefix(doc_id, review.content_hash)
                    self.ingest.store.delete([i for i in self.ingest.store.ids_where({"doc_id": doc_id})
                                              if i.startswith(prefix)])
                else:
                    self.ingest.remove(doc_id)
            with self._sessions.begin() as session:
                session.execute(update(DocumentVersionRow).where(DocumentVersionRow.doc_id == doc_id,
                                                                 DocumentVersionRow.content_hash == review.content_hash,
                                                                 DocumentVersionRow.status == DocumentStatus.INDEXING)
                                .values(status="rejected"))
                stored = session.get(PublishReviewRow, review.id, with_for_update=True)
                stored.status, stored.reason = REVIEW_REJECTED, reason
                stored.decided_by, stored.decided_at = principal.name, now()
                session.flush()
                session.expunge(stored)
        self.audit.record(principal.name, principal.role, "review_reject", doc_id=doc_id, version=review.version,
                          detail={"title": review.title, "reason": reason, "submitted_by": review.submitted_by})
        return stored

    def _restore_served(self, doc_id: str) -> None:
        """Point the registry row back at the version it serves (metadata, file, status)."""
        with self._sessions.begin() as session:
            row = session.get(DocumentRow, doc_id, with_for_update=True)
            served = session.scalars(select(DocumentVersionRow).where(
                DocumentVersionRow.doc_id == doc_id, DocumentVersionRow.content_hash == row.active_hash)
                .order_by(DocumentVersionRow.version.desc())).first()
            meta = dict(served.meta or {}) if served else {}
            for key in META_FIELDS:
                if key in meta:
                    value = meta[key]
                    if key in ("published", "effective_from", "expires") and isinstance(value, str):
                        value = dt.date.fromisoformat(value)
                    setattr(row, key, value)
            if meta.get("path"):
                row.path = meta["path"]
            row.content_hash, row.status = row.active_hash, DocumentStatus.ACTIVE
            if served is not None:
                row.chunk_count = served.chunk_count

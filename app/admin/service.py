"""Everything the staff console needs, built once by the composition root (app.main.Services.build)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import sessionmaker

from app.admin.audit import AuditLog
from app.admin.auth import TokenChecker
from app.admin.documents import AdminDocuments
from app.admin.insight import InsightService
from app.admin.jobs import JobRunner, JobStore
from app.admin.uploads import UploadChecker
from app.components.conversations import ConversationStore
from app.components.embeddings import Embedder
from app.settings import Settings

if TYPE_CHECKING:
    from ingest.pipeline import IngestService


@dataclass
class AdminServices:
    tokens: TokenChecker  # the app's one staff-token checker (the admin router and the upload body cap)
    audit: AuditLog
    jobs: JobRunner
    documents: AdminDocuments
    insight: InsightService
    conversations: ConversationStore

    @classmethod
    def build(cls, settings: Settings, *, sessions: sessionmaker, ingest: "IngestService", embedder: Embedder,
              conversations: ConversationStore) -> "AdminServices":
        audit = AuditLog(sessions)
        jobs = JobRunner(JobStore(sessions), ingest, audit)
        jobs.recover()  # jobs a dead process left running become "interrupted" (retryable)
        return cls(tokens=TokenChecker(settings.admin_tokens), audit=audit, jobs=jobs,
                   documents=AdminDocuments(ingest, UploadChecker(settings), jobs, audit),
                   insight=InsightService(sessions, embedder), conversations=conversations)

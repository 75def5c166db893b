"""Everything the staff console needs, built once with the app's services."""

from __future__ import annotations

from dataclasses import dataclass

from app.admin.audit import AuditLog
from app.admin.auth import TokenChecker
from app.admin.documents import AdminDocuments
from app.admin.insight import InsightService
from app.admin.jobs import JobRunner, JobStore
from app.admin.uploads import UploadChecker
from app.components.conversations import ConversationStore
from app.settings import Settings
from ingest.pipeline import IngestService


@dataclass
class AdminServices:
    tokens: TokenChecker
    audit: AuditLog
    jobs: JobRunner
    documents: AdminDocuments
    insight: InsightService
    conversations: ConversationStore

    @classmethod
    def build(cls, settings: Settings, ingest: IngestService, conversations: ConversationStore) -> "AdminServices":
        sessions = ingest.registry.session_factory
        audit = AuditLog(sessions)
        jobs = JobRunner(JobStore(sessions), ingest, audit)
        jobs.recover()  # jobs a dead process left running become "interrupted" (retryable)
        return cls(tokens=TokenChecker(settings.admin_tokens), audit=audit, jobs=jobs,
                   documents=AdminDocuments(ingest, UploadChecker(settings), jobs, audit),
                   insight=InsightService(sessions, ingest.embedder), conversations=conversations)

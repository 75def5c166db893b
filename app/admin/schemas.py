"""Request and response models of the admin API (they make its OpenAPI documentation)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.admin.jobs import JobRow
from app.api.inputs import CleanText
from app.components.doc_files import FIELD_LIMITS, DocumentIdentity
from app.components.registry import DocumentRow, DocumentVersionRow
from zhtext.validity import in_force

Category = Literal["subsidy", "land", "procedure", "talent", "service", "other"]


class Me(BaseModel):
    name: str = Field(description="Token name (shown in the audit log)")
    role: Literal["editor", "viewer", "reviewer"]
    upload_max_mb: float = Field(description="Largest accepted upload per file (MB)")


class JobItemPublic(BaseModel):
    name: str = Field(description="File name as uploaded (or the document's source)")
    doc_id: str
    status: Literal["queued", "indexing", "done", "failed"]
    message: str = Field(description="Progress or error, in Chinese")
    chunks: int = 0
    version: int | None = None


class JobPublic(BaseModel):
    id: str
    kind: Literal["upload", "replace", "metadata", "reindex"]
    status: Literal["queued", "running", "done", "failed", "interrupted"]
    total: int
    done: int = Field(description="Items finished (indexed or failed)")
    message: str
    created_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    items: list[JobItemPublic]

    @classmethod
    def from_row(cls, row: JobRow) -> "JobPublic":
        return cls(id=row.id, kind=row.kind, status=row.status, total=row.total, done=row.done, message=row.message,
                   created_by=row.created_by, created_at=row.created_at, started_at=row.started_at,
                   finished_at=row.finished_at,
                   items=[JobItemPublic(**{k: item.get(k) for k in JobItemPublic.model_fields}) for item in row.items])


class DocumentAdmin(DocumentIdentity):
    expired: bool
    category: str
    url: str | None = None
    source: str = Field(description="Original file name")
    sample: bool
    format: str
    status: Literal["indexing", "active", "deleted"]
    serving: bool = Field(description="A version of this document answers questions now")
    version: int
    chunk_count: int
    updated_at: dt.datetime | None = None
    overrides: dict[str, Any] = Field(default_factory=dict, description="Metadata set by staff")

    @classmethod
    def from_row(cls, row: DocumentRow, today: dt.date | None = None) -> "DocumentAdmin":
        today = today or dt.date.today()
        return cls(doc_id=row.doc_id, title=row.title, doc_number=row.doc_number, issuer=row.issuer,
                   published=row.published, effective_from=row.effective_from, expires=row.expires,
                   expired=not in_force(row.expires, today), category=row.category, url=row.url,
                   source=row.source, sample=row.sample, format=row.format, status=row.status,
                   serving=bool(row.active_hash) and row.status != "deleted", version=row.version,
                   chunk_count=row.chunk_count, updated_at=row.updated_at, overrides=row.overrides or {})


class VersionPublic(BaseModel):
    version: int
    status: str = Field(description="indexing | active | superseded | deleted")
    content_hash: str
    chunk_count: int
    created_at: dt.datetime
    title: str = ""
    source: str = ""

    @classmethod
    def from_row(cls, row: DocumentVersionRow) -> "VersionPublic":
        meta = row.meta or {}
        return cls(version=row.version, status=row.status, content_hash=row.content_hash[:16],
                   chunk_count=row.chunk_count, created_at=row.created_at, title=meta.get("title", ""),
                   source=meta.get("source", ""))


class ChunkPublic(BaseModel):
    id: str
    index: int | None = None
    article: str = ""
    heading_path: str = ""
    text: str
    serving: bool = Field(description="Part of the version that answers questions")


class DocumentDetail(DocumentAdmin):
    versions: list[VersionPublic]
    chunks: list[ChunkPublic]


class MetadataUpdate(BaseModel):
    """Fields to change; a field sent as null goes back to what the file itself says."""

    # The same caps as every other way metadata comes in (app.components.doc_files.FIELD_LIMITS).
    title: CleanText | None = Field(None, max_length=FIELD_LIMITS["title"][1])
    doc_number: CleanText | None = Field(None, max_length=FIELD_LIMITS["doc_number"][1], description="文号")
    issuer: CleanText | None = Field(None, max_length=FIELD_LIMITS["issuer"][1])
    published: dt.date | None = None
    effective_from: dt.date | None = None
    expires: dt.date | None = Field(None, description="有效期至; a past date marks the policy expired")
    category: Category | None = None
    url: CleanText | None = Field(None, max_length=FIELD_LIMITS["url"][1], description="Official link (http/https)")
    sample: bool | None = None


class AuditPublic(BaseModel):
    id: int
    at: dt.datetime
    actor: str
    role: str
    action: str
    doc_id: str | None = None
    version: int | None = None
    job_id: str | None = None
    detail: dict[str, Any] | None = None


class QuestionGroupPublic(BaseModel):
    question: str = Field(description="Most recent wording")
    count: int
    examples: list[str]
    reasons: dict[str, int]
    last_at: dt.datetime
    conversation_ids: list[str]


class RatedDownPublic(BaseModel):
    feedback_id: int
    created_at: dt.datetime
    comment: str
    conversation_id: str
    message_id: str
    question: str
    answer: str
    grounded: bool | None = None
    citations: list[dict[str, Any]]


class HandoffPublic(BaseModel):
    id: int
    conversation_id: str
    name: str | None = None
    phone: str | None = None
    company: str | None = None
    note: str | None = None
    status: Literal["new", "contacted", "closed"]
    created_at: dt.datetime
    updated_at: dt.datetime | None = None


class HandoffUpdate(BaseModel):
    status: Literal["new", "contacted", "closed"]


class DailyCounts(BaseModel):
    day: dt.date
    questions: int
    refusals: int
    rated_down: int
    handoffs: int

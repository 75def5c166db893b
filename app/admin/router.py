"""Staff console: the admin API under /api/admin (token-protected as a whole) and the /admin page."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse, StreamingResponse

from app.admin.assets import asset_route
from app.admin.auth import PrincipalDep, require_admin
from app.admin.documents import DocumentFilter
from app.admin.insight import MAX_EXPORT_DAYS, CST
from app.admin.schemas import (
    AuditPublic,
    ChunkPublic,
    DailyCounts,
    DocumentAdmin,
    DocumentDetail,
    HandoffPublic,
    HandoffUpdate,
    JobPublic,
    Me,
    MetadataUpdate,
    QuestionGroupPublic,
    RatedDownPublic,
    VersionPublic,
)
from app.admin.service import AdminServices
from app.api.deps import SettingsDep
from app.errors import InvalidAdminRequest, RecordNotFound, UploadRefused

STATIC = Path(__file__).resolve().parent / "static"
PAGE_ASSETS = {
    "console.js": "text/javascript; charset=utf-8",
    "admin.js": "text/javascript; charset=utf-8",
    "admin.css": "text/css; charset=utf-8",
}


def get_admin(request: Request) -> AdminServices:
    return request.app.state.services.admin


AdminDep = Annotated[AdminServices, Depends(get_admin)]
OptionalText = Annotated[str | None, Form()]
# Every console list is paged: ?limit=&offset= (newest first); X-Total-Count says how many there are.
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="Rows to skip (paging)")]
TOTAL_HEADER = "X-Total-Count"


def _page(rows: list, limit: int, offset: int, response: Response) -> list:
    """One page of a list already in memory, with its total in the X-Total-Count header."""
    response.headers[TOTAL_HEADER] = str(len(rows))
    return rows[offset:offset + limit]

api = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[Depends(require_admin)])
pages = APIRouter(include_in_schema=False)


# --- who am I ----------------------------------------------------------------------------------

@api.get("/me", response_model=Me)
def me(principal: PrincipalDep, settings: SettingsDep) -> Me:
    """The signed-in staff member and role (used by the console to check a token), and the upload cap."""
    return Me(name=principal.name, role=principal.role, upload_max_mb=settings.upload_max_mb)


# --- documents ---------------------------------------------------------------------------------

@api.get("/documents", response_model=list[DocumentAdmin])
def list_documents(admin: AdminDep, response: Response,
                   limit: int = Query(500, ge=1, le=5000), offset: Offset = 0,
                   category: str | None = Query(None, description="subsidy | land | procedure | talent | service | other"),
                   status: str | None = Query(None, description="indexing | active | deleted (deleted ones only when asked)"),
                   expired: bool | None = Query(None, description="true: expired only; false: current only"),
                   q: str | None = Query(None, max_length=200, description="Search in title, 文号, issuer, doc_id, file name"),
                   ) -> list[DocumentAdmin]:
    """Documents in the registry with filters (paged)."""
    rows = admin.documents.find(DocumentFilter(category=category, status=status, expired=expired, q=q))
    return [DocumentAdmin.from_row(row) for row in _page(rows, limit, offset, response)]


@api.post("/documents", response_model=JobPublic, status_code=202)
def upload_documents(
    admin: AdminDep, principal: PrincipalDep,
    files: Annotated[list[UploadFile], File(description="PDF, DOCX, HTML, Markdown or text files")],
    title: OptionalText = None, doc_number: OptionalText = None, issuer: OptionalText = None,
    published: OptionalText = None, effective_from: OptionalText = None, expires: OptionalText = None,
    category: OptionalText = None, url: OptionalText = None, doc_id: OptionalText = None,
    sample: OptionalText = None,
    metadata: Annotated[str | None, Form(description="JSON list with one metadata object per file "
                                                     "(overrides the single fields)")] = None,
) -> JobPublic:
    """Upload one or many files with optional metadata. Every file is checked (size, type by content,
    DOCX bombs, encrypted PDFs, file names) and parsed before anything is stored; then one background
    job indexes them. Poll `GET /api/admin/jobs/{id}` for progress."""
    common = {k: v for k, v in {"title": title, "doc_number": doc_number, "issuer": issuer, "published": published,
                                "effective_from": effective_from, "expires": expires, "category": category,
                                "url": url, "doc_id": doc_id, "sample": sample}.items() if v is not None}
    per_file = _metadata_list(metadata, len(files))
    loaded = [(f.filename, admin.documents.checker.read(f.file, f.filename)) for f in files]
    job = admin.documents.upload(loaded, [common | extra for extra in per_file], principal)
    return JobPublic.from_row(job)


def _metadata_list(raw: str | None, count: int) -> list[dict[str, Any]]:
    if not raw:
        return [{} for _ in range(count)]
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UploadRefused("metadata 不是有效的 JSON") from exc
    if isinstance(parsed, dict):
        parsed = [parsed]
    if not isinstance(parsed, list) or len(parsed) != count or not all(isinstance(m, dict) for m in parsed):
        raise UploadRefused(f"metadata 应为 JSON 列表，每个文件一项（共 {count} 项）")
    return parsed


@api.get("/documents/{doc_id}", response_model=DocumentDetail)
def document_detail(doc_id: str, admin: AdminDep) -> DocumentDetail:
    """One document with its version history and its chunks in the index."""
    row = admin.documents.get(doc_id)
    return DocumentDetail(**DocumentAdmin.from_row(row).model_dump(),
                          versions=[VersionPublic.from_row(v) for v in admin.documents.versions(doc_id)],
                          chunks=[ChunkPublic(**c) for c in admin.documents.chunks(row)])


@api.patch("/documents/{doc_id}", response_model=JobPublic, status_code=202)
def edit_document(doc_id: str, body: MetadataUpdate, admin: AdminDep, principal: PrincipalDep) -> JobPublic:
    """Correct metadata (title, 文号, issuer, dates, validity, category, link). Chunks carry the metadata,
    so the document is re-indexed in the background; the current version answers until then."""
    return JobPublic.from_row(admin.documents.edit(doc_id, body.model_dump(exclude_unset=True), principal))


@api.post("/documents/{doc_id}/replace", response_model=JobPublic, status_code=202)
def replace_document(doc_id: str, admin: AdminDep, principal: PrincipalDep,
                     file: Annotated[UploadFile, File(description="The revised document")]) -> JobPublic:
    """Replace the content with a new file (a new version). The old version keeps answering until the
    new one is fully indexed, then leaves the answers but stays in the version history."""
    data = admin.documents.checker.read(file.file, file.filename)
    return JobPublic.from_row(admin.documents.replace(doc_id, file.filename, data, principal))


@api.delete("/documents/{doc_id}", response_model=DocumentAdmin)
def delete_document(doc_id: str, admin: AdminDep, principal: PrincipalDep) -> DocumentAdmin:
    """Remove a document from answers: its chunks leave the vector and keyword indexes; the record and
    the stored file are kept (status deleted) for audit."""
    return DocumentAdmin.from_row(admin.documents.delete(doc_id, principal))


@api.post("/documents/{doc_id}/reindex", response_model=JobPublic, status_code=202)
def reindex_document(doc_id: str, admin: AdminDep, principal: PrincipalDep) -> JobPublic:
    """Index one document again from its stored file."""
    return JobPublic.from_row(admin.documents.reindex([doc_id], principal))


@api.post("/reindex", response_model=JobPublic, status_code=202)
def reindex_all(admin: AdminDep, principal: PrincipalDep) -> JobPublic:
    """Index every live document again (a background job)."""
    return JobPublic.from_row(admin.documents.reindex(None, principal))


# --- jobs and audit --------------------------------------------------------------------------

@api.get("/jobs", response_model=list[JobPublic])
def list_jobs(admin: AdminDep, limit: int = Query(50, ge=1, le=500), offset: Offset = 0) -> list[JobPublic]:
    """Recent background jobs, newest first (paged)."""
    return [JobPublic.from_row(job) for job in admin.jobs.store.recent(limit + offset)[offset:]]


@api.get("/jobs/{job_id}", response_model=JobPublic)
def get_job(job_id: str, admin: AdminDep) -> JobPublic:
    """A job's status and per-file progress (the console polls this)."""
    return JobPublic.from_row(admin.jobs.store.get(job_id))


@api.post("/jobs/{job_id}/retry", response_model=JobPublic, status_code=202)
def retry_job(job_id: str, admin: AdminDep, principal: PrincipalDep) -> JobPublic:
    """Run a failed or interrupted job again (files already indexed are skipped)."""
    return JobPublic.from_row(admin.jobs.retry(job_id, principal))


@api.get("/audit", response_model=list[AuditPublic])
def audit_log(admin: AdminDep, doc_id: str | None = None, actor: str | None = None, action: str | None = None,
              limit: int = Query(200, ge=1, le=2000), offset: Offset = 0) -> list[AuditPublic]:
    """Every admin action: who, what, when, which document and version (newest first, paged)."""
    return [AuditPublic.model_validate(row, from_attributes=True)
            for row in admin.audit.entries(doc_id=doc_id, actor=actor, action=action, limit=limit + offset)[offset:]]


# --- insight -----------------------------------------------------------------------------------

@api.get("/insight/unanswered", response_model=list[QuestionGroupPublic])
def unanswered(admin: AdminDep, response: Response, days: int = Query(30, ge=1, le=366),
               threshold: float = Query(0.9, ge=0.5, le=1.0, description="Cosine similarity to group questions"),
               limit: int = Query(200, ge=1, le=1000), offset: Offset = 0) -> list[QuestionGroupPublic]:
    """Questions the assistant refused, grouped by similarity, most frequent first (paged)."""
    groups = admin.insight.unanswered(days=days, threshold=threshold)
    return [QuestionGroupPublic.model_validate(g, from_attributes=True) for g in _page(groups, limit, offset, response)]


@api.get("/insight/rated-down", response_model=list[RatedDownPublic])
def rated_down(admin: AdminDep, response: Response, days: int = Query(30, ge=1, le=366),
               limit: int = Query(50, ge=1, le=500), offset: Offset = 0) -> list[RatedDownPublic]:
    """Answers users rated down, newest first, with their comment, the question, the answer and its citations (paged)."""
    response.headers[TOTAL_HEADER] = str(admin.insight.rated_down_count(days=days))
    return [RatedDownPublic(**row) for row in admin.insight.rated_down(days=days, limit=limit, offset=offset)]


@api.get("/insight/handoffs", response_model=list[HandoffPublic])
def handoffs(admin: AdminDep, response: Response,
             status: str | None = Query(None, description="new | contacted | closed"),
             limit: int = Query(50, ge=1, le=500), offset: Offset = 0) -> list[HandoffPublic]:
    """Requests to reach a person, newest first (paged: a flood must not hide the real requests)."""
    rows, total = admin.insight.handoffs(status, limit=limit, offset=offset)
    response.headers[TOTAL_HEADER] = str(total)
    return [HandoffPublic.model_validate(row, from_attributes=True) for row in rows]


@api.patch("/insight/handoffs/{handoff_id}", response_model=HandoffPublic)
def update_handoff(handoff_id: int, body: HandoffUpdate, admin: AdminDep, principal: PrincipalDep) -> HandoffPublic:
    """Mark a handoff request contacted or closed."""
    row = admin.conversations.set_handoff_status(handoff_id, body.status)
    if row is None:
        raise RecordNotFound("未找到该转人工记录")
    admin.audit.record(principal.name, principal.role, "handoff_status", detail={"handoff_id": handoff_id,
                                                                                 "status": body.status})
    return HandoffPublic.model_validate(row, from_attributes=True)


def _range(start: dt.date | None, end: dt.date | None, default_days: int = 30) -> tuple[dt.date, dt.date]:
    end = end or dt.datetime.now(CST).date()
    start = start or end - dt.timedelta(days=default_days - 1)
    if start > end:
        raise InvalidAdminRequest("开始日期不能晚于结束日期")
    if (end - start).days >= MAX_EXPORT_DAYS:
        raise InvalidAdminRequest(f"日期范围最长 {MAX_EXPORT_DAYS} 天")
    return start, end


@api.get("/insight/daily", response_model=list[DailyCounts])
def daily(admin: AdminDep, start: dt.date | None = None, end: dt.date | None = None) -> list[DailyCounts]:
    """Per day (China time): questions, refusals, answers rated down, handoff requests."""
    start, end = _range(start, end)
    return [DailyCounts(**row) for row in admin.insight.daily(start, end)]


@api.get("/insight/export.csv", response_class=StreamingResponse,
         responses={200: {"content": {"text/csv": {}}, "description": "UTF-8 CSV with BOM (opens in Excel)"}})
def export_conversations(admin: AdminDep, principal: PrincipalDep, start: dt.date | None = None,
                         end: dt.date | None = None) -> StreamingResponse:
    """Conversations in a date range (China time, both days included) as CSV."""
    start, end = _range(start, end)
    admin.audit.record(principal.name, principal.role, "export", detail={"start": start.isoformat(),
                                                                          "end": end.isoformat()})
    filename = f"conversations-{start:%Y%m%d}-{end:%Y%m%d}.csv"
    return StreamingResponse(admin.insight.export_csv(start, end), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# --- the console page ------------------------------------------------------------------------

@pages.get("/admin")
def admin_page() -> FileResponse:
    """The staff console (plain HTML + JS; signs in with a token kept in sessionStorage)."""
    return FileResponse(STATIC / "admin.html", media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-store"})


pages.add_api_route("/admin/static/{name}", asset_route(STATIC, PAGE_ASSETS), methods=["GET"])


router = APIRouter()
router.include_router(api)
router.include_router(pages)


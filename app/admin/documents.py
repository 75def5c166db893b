"""Staff actions on the corpus: upload, replace, edit metadata, delete, re-index.

Every action goes through the same ``IngestService`` methods as ``python -m ingest``
(``prepare`` / ``prepare_file`` / ``index`` / ``remove``). Files are checked and parsed
before anything is written, so a refused upload leaves no file, row, chunk or job behind.
Staff metadata is kept in the registry row's ``overrides`` and applied on every re-index,
including ``python -m ingest --rebuild``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.admin.audit import AuditLog
from app.admin.auth import Principal
from app.admin.jobs import JobRow, JobRunner, job_item
from app.admin.uploads import CheckedFile, UploadChecker
from app.components.doc_files import parse_sidecar, sidecar_path
from app.components.registry import DocumentRow, DocumentStatus, DocumentVersionRow
from app.errors import DocumentConflict, DocumentNotFound, KunruyiError, UploadRefused
from zhtext.chunk_ids import chunk_prefix
from zhtext.validity import in_force

if TYPE_CHECKING:
    from ingest.pipeline import IngestService, PreparedDocument

EDITABLE_FIELDS = ("title", "doc_number", "issuer", "published", "effective_from", "expires", "category", "url",
                   "sample")
UPLOAD_FIELDS = EDITABLE_FIELDS + ("doc_id",)
MAX_FILES_PER_REQUEST = 20


@dataclass
class DocumentFilter:
    category: str | None = None
    status: str | None = None
    expired: bool | None = None
    q: str | None = None


def clean_overrides(values: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    """Staff metadata as stored: known fields only, text trimmed, dates as ISO strings, blanks dropped."""
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        if key not in allowed:
            raise UploadRefused(f"未知的元数据字段：{key}")
        if isinstance(value, dt.date):
            value = value.isoformat()
        elif isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            continue
        cleaned[key] = value
    return cleaned


def _named(name: str, exc: KunruyiError) -> KunruyiError:
    """The same error with the file's name in front, so a many-file upload says which file failed."""
    if name and name not in exc.message:
        exc.message = f"「{name}」：{exc.message}"
    return exc


class AdminDocuments:
    def __init__(self, ingest: IngestService, checker: UploadChecker, jobs: JobRunner, audit: AuditLog):
        self.ingest = ingest
        self.registry = ingest.registry
        self.checker = checker
        self.jobs = jobs
        self.audit = audit
        self.files = jobs.files  # uploaded originals: database row + local cache (app.components.file_store)

    # -- reading --------------------------------------------------------------------------------

    def find(self, filters: DocumentFilter, today: dt.date | None = None) -> list[DocumentRow]:
        today = today or dt.date.today()
        rows = self.registry.list(include_deleted=filters.status == DocumentStatus.DELETED)
        needle = (filters.q or "").strip().lower()
        out = []
        for row in rows:
            if filters.category and row.category != filters.category:
                continue
            if filters.status and row.status != filters.status:
                continue
            if filters.expired is not None and in_force(row.expires, today) == filters.expired:
                continue
            if needle and needle not in " ".join(
                    str(v or "") for v in (row.doc_id, row.title, row.doc_number, row.issuer, row.source)).lower():
                continue
            out.append(row)
        return out

    def get(self, doc_id: str, *, include_deleted: bool = True) -> DocumentRow:
        row = self.registry.get(doc_id)
        if row is None or (row.status == DocumentStatus.DELETED and not include_deleted):
            raise DocumentNotFound(f"未找到文档 {doc_id}" + ("" if row is None else "（已删除）"))
        return row

    def versions(self, doc_id: str) -> list[DocumentVersionRow]:
        return self.registry.versions(doc_id)

    def chunks(self, row: DocumentRow) -> list[dict[str, Any]]:
        """Every chunk of the document in the vector index, marked whether retrieval serves it."""
        serving = chunk_prefix(row.doc_id, row.active_hash) if row.active_hash else None
        hits = self.ingest.store.get(sorted(self.ingest.store.ids_where({"doc_id": row.doc_id})))
        return [{"id": h.id, "index": h.metadata.get("chunk_index"), "article": h.metadata.get("article", ""),
                 "heading_path": h.metadata.get("heading_path", ""), "text": h.text,
                 "serving": bool(serving and h.id.startswith(serving))} for h in hits]

    # -- writing --------------------------------------------------------------------------------

    def upload(self, files: list[tuple[str | None, bytes]], metadata: list[dict[str, Any]],
               principal: Principal) -> JobRow:
        """Check and parse every file, then store them and queue one indexing job."""
        if not files:
            raise UploadRefused("请选择要上传的文件")
        if len(files) > MAX_FILES_PER_REQUEST:
            raise UploadRefused(f"一次最多上传 {MAX_FILES_PER_REQUEST} 个文件")
        accepted: list[tuple[CheckedFile, PreparedDocument]] = []
        seen: set[str] = set()
        for (name, data), meta in zip(files, metadata):
            checked = self.checker.check(name, data)
            try:
                overrides = clean_overrides(meta, UPLOAD_FIELDS) | {"source": checked.name}
                doc = self.ingest.prepare(checked.data, name=checked.name, suffix=checked.suffix, overrides=overrides,
                                          pin_doc_id=True)
            except KunruyiError as exc:
                raise _named(checked.name, exc)
            doc_id = doc.meta.doc_id
            existing = self.registry.get(doc_id)
            if doc_id in seen or (existing is not None and existing.status != DocumentStatus.DELETED):
                raise DocumentConflict(f"「{checked.name}」：文档 {doc_id}（{doc.meta.title}）已存在。"
                                       "如需更新请在文档详情中使用“替换文件”，或为新文档另填 doc_id")
            seen.add(doc_id)
            accepted.append((checked, doc))
        items = []
        try:
            for checked, doc in accepted:
                items.append(job_item(name=checked.name, doc_id=doc.meta.doc_id, overrides=doc.overrides,
                                      path=self.files.save(checked.data, checked.suffix)))
        except Exception:
            for item in items:  # all or nothing: a refused batch keeps none of its files
                self._discard(Path(item["path"]))
            raise
        job = self.jobs.submit("upload", items, principal, prepared=[doc for _, doc in accepted])
        for item in items:
            self.audit.record(principal.name, principal.role, "upload", doc_id=item["doc_id"], job_id=job.id,
                              detail={"file": item["name"], "stored": Path(item["path"]).name})
        return job

    def replace(self, doc_id: str, name: str | None, data: bytes, principal: Principal) -> JobRow:
        """A new version from a new file; the current version keeps answering until it is indexed."""
        row = self.get(doc_id, include_deleted=False)
        checked = self.checker.check(name, data)
        overrides = self._sidecar_metadata(row) | dict(row.overrides or {}) | {"doc_id": doc_id,
                                                                                "source": checked.name}
        try:
            doc = self.ingest.prepare(checked.data, name=checked.name, suffix=checked.suffix, overrides=overrides)
        except KunruyiError as exc:
            raise _named(checked.name, exc)
        path = self.files.save(checked.data, checked.suffix)
        job = self.jobs.submit("replace", [job_item(name=checked.name, doc_id=doc_id, path=path,
                                                    overrides=overrides)], principal, prepared=[doc])
        self.audit.record(principal.name, principal.role, "replace", doc_id=doc_id, version=row.version,
                          job_id=job.id, detail={"file": checked.name, "stored": path.name,
                                                 "previous_source": row.source})
        return job

    def edit(self, doc_id: str, changes: dict[str, Any], principal: Principal) -> JobRow:
        """Change staff metadata (``None`` drops a field back to what the file says) and re-index."""
        row = self.get(doc_id, include_deleted=False)
        overrides = dict(row.overrides or {})
        for key, value in changes.items():
            if key not in EDITABLE_FIELDS:
                raise UploadRefused(f"字段 {key} 不能修改")
            overrides.pop(key, None)
            overrides |= clean_overrides({key: value}, EDITABLE_FIELDS)
        path = self._stored_path(row)
        doc = self.ingest.prepare_file(path, overrides=overrides)  # refuses a bad date, category or link now
        job = self.jobs.submit("metadata", [job_item(name=row.source, doc_id=doc_id, path=path,
                                                     overrides=overrides)], principal, prepared=[doc])
        self.audit.record(principal.name, principal.role, "edit_metadata", doc_id=doc_id, version=row.version,
                          job_id=job.id, detail={"changes": clean_overrides(changes, EDITABLE_FIELDS),
                                                 "cleared": [k for k, v in changes.items() if v in (None, "")]})
        return job

    def delete(self, doc_id: str, principal: Principal) -> DocumentRow:
        """Chunks leave both indexes; the registry row (status deleted) and the stored file stay."""
        row = self.get(doc_id, include_deleted=False)
        with self.jobs.corpus_lock:
            result = self.ingest.remove(doc_id)
        if result.failed:
            raise DocumentNotFound(result.reason)
        self.audit.record(principal.name, principal.role, "delete", doc_id=doc_id, version=row.version,
                          detail={"source": row.source, "title": row.title})
        return self.get(doc_id)

    def reindex(self, doc_ids: list[str] | None, principal: Principal) -> JobRow:
        """Re-index the given documents (all live ones when ``doc_ids`` is None)."""
        rows = self.registry.live() if doc_ids is None else [self.get(d, include_deleted=False) for d in doc_ids]
        items = [job_item(name=row.source, doc_id=row.doc_id, path=self._stored_path(row),
                          overrides=dict(row.overrides or {})) for row in rows if row.path]
        if not items:
            raise DocumentNotFound("没有可重新索引的文档")
        job = self.jobs.submit("reindex", items, principal)
        self.audit.record(principal.name, principal.role, "reindex", doc_id=doc_ids[0] if doc_ids else None,
                          job_id=job.id, detail={"documents": len(items), "all": doc_ids is None})
        return job

    def _discard(self, path: Path) -> None:
        self.files.forget(path.name)
        path.unlink(missing_ok=True)

    def _stored_path(self, row: DocumentRow) -> Path:
        """The original on this machine (an upload received by another instance is fetched from the database)."""
        path = self.files.local_path(row.path) if row.path else None
        if path is None or not path.is_file():
            raise DocumentConflict(f"文档 {row.doc_id} 的原文件已不在服务器上，无法重新索引；请使用“替换文件”上传")
        return path

    @staticmethod
    def _sidecar_metadata(row: DocumentRow) -> dict[str, Any]:
        """Metadata from the old file's sidecar, carried over when a corpus file is replaced by an upload."""
        side = sidecar_path(Path(row.path)) if row.path and Path(row.path).is_file() else None
        if side is None:
            return {}
        return clean_overrides({k: v for k, v in parse_sidecar(side.read_bytes()).items() if k in UPLOAD_FIELDS},
                               UPLOAD_FIELDS)

"""Background jobs for long corpus work (index uploads, replacements, metadata edits, re-indexing).

Each job is a row with per-file items, so progress survives in the database and any worker
can answer ``GET /api/admin/jobs/{id}``. One worker thread per process runs jobs in order
(indexing is CPU-bound); it starts on the first job and ends when the queue has been idle.
A job left ``running`` or ``queued`` by a process that died is marked ``interrupted`` and can be
retried from any instance; its documents were never activated, so they answered nothing. A dead
process on this host is noticed at the next start (its pid is gone); on another host (a machine
that died) by its lease: the owning process refreshes ``heartbeat_at`` every HEARTBEAT_SECONDS while
it holds queued or running jobs, and any instance treats a job whose heartbeat is older than
LEASE_SECONDS as interrupted. Uploaded originals are read through the shared FileStore, so a retry
on another machine finds the file. A job submitted with the documents its request already parsed
indexes those (each file is parsed once); a retried or resumed job parses the stored original again.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import queue
import socket
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from app.admin.audit import AuditLog
from app.admin.auth import Principal
from app.admin.models import JobRow
from app.components.file_store import FileStore
from app.components.registry import DocumentStatus
from app.errors import DocumentConflict, DocumentNotFound, RecordNotFound, KunruyiError, UnsupportedDocument
from app.ops.metrics import INGEST_JOBS

if TYPE_CHECKING:
    from ingest.pipeline import IngestService, PreparedDocument

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, INTERRUPTED = "queued", "running", "done", "failed", "interrupted"
ITEM_INDEXING = "indexing"
IDLE_SECONDS = 30.0
HEARTBEAT_SECONDS = 10.0
LEASE_SECONDS = 60.0  # a job whose owner has not refreshed it for this long is considered abandoned
# host:pid:random — the random part tells this process from an earlier one that had the same pid.
PROCESS_OWNER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

KIND_LABELS = {"upload": "上传", "replace": "替换", "metadata": "修改元数据", "reindex": "重新索引"}


class ActivationHeld(Exception):
    """Raised by a ``before_activate`` hook to keep a fully indexed version out of answers (the review
    gate of issue 16, app/curation/review.py): the item is done, its version waits as 待审核."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def job_item(*, name: str, doc_id: str, path: Path | str, overrides: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "doc_id": doc_id, "path": str(path), "overrides": overrides, "status": QUEUED,
            "message": "排队中", "chunks": 0, "version": None}


def _owner_gone(owner: str) -> bool:
    """Whether the process that owned a job has ended (only decidable on this host)."""
    if not owner:
        return True
    if owner == PROCESS_OWNER:
        return False
    host, pid, *_ = owner.split(":") + ["", ""]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return True  # an earlier process that had our pid (e.g. a restarted container)
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive datetimes; every stored time is UTC."""
    return value.replace(tzinfo=dt.timezone.utc) if value is not None and value.tzinfo is None else value


class JobStore:
    """Job rows. ``clock`` returns the current UTC time (tests move it to expire a lease)."""

    def __init__(self, session_factory: sessionmaker, *, clock: Callable[[], dt.datetime] = _now,
                 lease_seconds: float = LEASE_SECONDS):
        self._sessions = session_factory
        self.clock = clock
        self.lease_seconds = lease_seconds

    def create(self, kind: str, items: list[dict[str, Any]], principal: Principal, owner: str) -> JobRow:
        with self._sessions.begin() as session:
            row = JobRow(id=uuid.uuid4().hex, kind=kind, status=QUEUED, total=len(items), done=0, items=items,
                         message="排队中", created_by=principal.name, role=principal.role, owner=owner,
                         heartbeat_at=self.clock())
            session.add(row)
            return row

    def get(self, job_id: str) -> JobRow:
        self.expire_abandoned()
        with self._sessions() as session:
            row = session.get(JobRow, job_id)
        if row is None:
            raise RecordNotFound("未找到该任务")
        return row

    def recent(self, limit: int = 50) -> list[JobRow]:
        self.expire_abandoned()
        with self._sessions() as session:
            return list(session.scalars(select(JobRow).order_by(JobRow.created_at.desc()).limit(limit)))

    def heartbeat(self, owner: str) -> int:
        """Refresh the lease of every queued or running job of ``owner``."""
        with self._sessions.begin() as session:
            result = session.execute(update(JobRow).where(JobRow.owner == owner,
                                                          JobRow.status.in_((QUEUED, RUNNING)))
                                     .values(heartbeat_at=self.clock()))
            return result.rowcount

    def abandoned(self) -> list[JobRow]:
        """Unfinished jobs of other processes whose lease ran out (their process or machine died)."""
        limit = self.clock() - dt.timedelta(seconds=self.lease_seconds)
        return [job for job in self.unfinished() if job.owner != PROCESS_OWNER
                and _aware(job.heartbeat_at or job.started_at or job.created_at) < limit]

    def expire_abandoned(self) -> list[str]:
        expired = []
        for job in self.abandoned():
            self.set_status(job.id, INTERRUPTED, "任务所在的服务实例已停止响应，任务中断，可重试")
            expired.append(job.id)
            log.warning("job interrupted: lease expired id=%s kind=%s owner=%s", job.id, job.kind, job.owner)
        return expired

    def unfinished(self) -> list[JobRow]:
        with self._sessions() as session:
            return list(session.scalars(select(JobRow).where(JobRow.status.in_((QUEUED, RUNNING)))))

    def set_status(self, job_id: str, status: str, message: str, *, owner: str | None = None,
                   reset_items: bool = False) -> JobRow:
        with self._sessions.begin() as session:
            row = session.get(JobRow, job_id, with_for_update=True)
            row.status, row.message = status, message
            if owner is not None:
                row.owner = owner
            if status in (QUEUED, RUNNING):
                row.heartbeat_at = self.clock()
            if status == RUNNING:
                row.started_at = _now()
            elif status in (DONE, FAILED, INTERRUPTED):
                row.finished_at = _now()
                INGEST_JOBS.labels(status).inc()
            if reset_items or status == INTERRUPTED:
                items = [dict(item) for item in row.items]
                for item in items:
                    if item["status"] == ITEM_INDEXING and status == INTERRUPTED:
                        item["status"], item["message"] = FAILED, "服务重启时中断，可重试"
                    elif item["status"] != DONE and reset_items:
                        item["status"], item["message"] = QUEUED, "排队中"
                row.items = items
                row.done = sum(item["status"] in (DONE, FAILED) for item in items)
            return row

    def update_item(self, job_id: str, index: int, **fields: Any) -> None:
        with self._sessions.begin() as session:
            row = session.get(JobRow, job_id, with_for_update=True)
            items = [dict(item) for item in row.items]
            items[index].update(fields)
            row.items = items
            row.heartbeat_at = self.clock()
            row.done = sum(item["status"] in (DONE, FAILED) for item in items)


class JobRunner:
    """Runs jobs in one background thread; corpus writes of this process go through ``corpus_lock``."""

    def __init__(self, store: JobStore, ingest: IngestService, audit: AuditLog,
                 before_activate: Callable[[PreparedDocument], None] | None = None):
        self.store = store
        self.ingest = ingest
        self.audit = audit
        # Passed to IngestService.index: runs when a version's chunks are written, before they are served.
        self.before_activate = before_activate
        # Uploaded originals live in the database too, so any instance can (re)index them.
        self.files = FileStore(ingest.registry.session_factory, ingest.settings.uploads_dir)
        self.corpus_lock = threading.RLock()
        # (job id, item index) -> the document the request parsed; used once by the first run of the job.
        self._prepared: dict[tuple[str, int], PreparedDocument] = {}
        self._queue: queue.Queue[str] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()

    # -- submitting -----------------------------------------------------------------------------

    def submit(self, kind: str, items: list[dict[str, Any]], principal: Principal,
               prepared: list[PreparedDocument] | None = None) -> JobRow:
        """Queue a job; ``prepared`` are the items' documents as the request parsed them (same order)."""
        job = self.store.create(kind, items, principal, PROCESS_OWNER)
        for index, doc in enumerate(prepared or ()):
            self._prepared[(job.id, index)] = doc
        log.info("job queued id=%s kind=%s items=%d by=%s", job.id, kind, len(items), principal.name)
        self._enqueue(job.id)
        return job

    def retry(self, job_id: str, principal: Principal) -> JobRow:
        job = self.store.get(job_id)
        if job.status not in (FAILED, INTERRUPTED):
            raise DocumentConflict("只有失败或中断的任务可以重试")
        job = self.store.set_status(job_id, QUEUED, "排队中（重试）", owner=PROCESS_OWNER, reset_items=True)
        self.audit.record(principal.name, principal.role, "job_retry", job_id=job_id, detail={"kind": job.kind})
        self._enqueue(job_id)
        return job

    def recover(self) -> list[str]:
        """Mark jobs whose process has died (this host) or whose lease ran out (any host) as interrupted
        (called at start; reads of jobs check leases again)."""
        interrupted = self.store.expire_abandoned()
        for job in self.store.unfinished():
            if _owner_gone(job.owner):
                self.store.set_status(job.id, INTERRUPTED, "服务重启时任务中断，可重试")
                interrupted.append(job.id)
                log.warning("job interrupted by restart id=%s kind=%s", job.id, job.kind)
        return interrupted

    def _enqueue(self, job_id: str) -> None:
        with self._thread_lock:
            self._queue.put(job_id)
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="admin-jobs", daemon=True)
                self._thread.start()
                threading.Thread(target=self._heartbeat, args=(self._thread,), name="admin-jobs-heartbeat",
                                 daemon=True).start()

    def _heartbeat(self, worker: threading.Thread) -> None:
        """Keep this process's jobs leased while its worker thread lives (it ends when the queue is idle)."""
        while worker.is_alive():
            worker.join(HEARTBEAT_SECONDS)
            try:
                self.store.heartbeat(PROCESS_OWNER)
            except Exception as exc:  # noqa: BLE001 - a missed beat is retried; the lease allows several
                log.warning("job heartbeat failed: %s", type(exc).__name__)

    def _work(self) -> None:
        while True:
            try:
                job_id = self._queue.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._thread_lock:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            try:
                self.run(job_id)
            except Exception:  # noqa: BLE001 - the worker must survive any job
                log.exception("job crashed id=%s", job_id)
                self.store.set_status(job_id, FAILED, "任务意外失败，请查看服务日志后重试")

    # -- running --------------------------------------------------------------------------------

    def run(self, job_id: str) -> None:
        try:
            self._run(job_id)
        finally:  # a retry parses the stored originals again
            for key in [key for key in self._prepared if key[0] == job_id]:
                self._prepared.pop(key, None)

    def _run(self, job_id: str) -> None:
        job = self.store.set_status(job_id, RUNNING, "处理中")
        failed = held = 0
        for index, item in enumerate(job.items):
            if item["status"] == DONE:
                continue
            if index and self.store.get(job_id).owner != PROCESS_OWNER:
                log.warning("job taken over by another instance id=%s; stopping here", job_id)
                return
            self.store.update_item(job_id, index, status=ITEM_INDEXING, message="正在解析并建立索引")
            try:
                with self.corpus_lock:
                    version, chunks = self._index(job.kind, item, self._prepared.pop((job_id, index), None))
            except ActivationHeld as exc:  # indexed, not served: waits for a reviewer (issue 16)
                held += 1
                row = self.ingest.registry.get(item["doc_id"])
                self.store.update_item(job_id, index, status=DONE, message=exc.message,
                                       version=row.version if row else None)
                self.audit.record(job.created_by, job.role, "held_for_review", doc_id=item["doc_id"],
                                  version=row.version if row else None, job_id=job_id,
                                  detail={"file": item["name"], "kind": job.kind})
                continue
            except KunruyiError as exc:
                failed += 1
                self.store.update_item(job_id, index, status=FAILED, message=exc.message)
                log.warning("job item failed id=%s doc_id=%s reason=%s", job_id, item["doc_id"], exc.message)
                continue
            except Exception as exc:  # noqa: BLE001 - one bad file never stops the others
                failed += 1
                log.exception("job item crashed id=%s doc_id=%s", job_id, item["doc_id"])
                self.store.update_item(job_id, index, status=FAILED, message=f"处理失败：{type(exc).__name__}")
                continue
            self.store.update_item(job_id, index, status=DONE, message=f"已可检索（{chunks} 个片段）",
                                   chunks=chunks, version=version)
            self.audit.record(job.created_by, job.role, "indexed", doc_id=item["doc_id"], version=version,
                              job_id=job_id, detail={"file": item["name"], "kind": job.kind, "chunks": chunks})
        total = len(job.items)
        if failed:
            self.store.set_status(job_id, FAILED, f"{failed}/{total} 个文件失败")
        elif held:
            self.store.set_status(job_id, DONE, f"完成，{held} 个文件待审核，审核通过后可检索")
        else:
            self.store.set_status(job_id, DONE, f"完成，{total} 个文件均已可检索")
        log.info("job finished id=%s failed=%d total=%d", job_id, failed, total)

    def _index(self, kind: str, item: dict[str, Any], doc: PreparedDocument | None) -> tuple[int, int]:
        registry = self.ingest.registry
        row = registry.get(item["doc_id"])
        if kind == "upload":
            if (row is not None and row.status != DocumentStatus.DELETED
                    and Path(row.path or "").name != Path(item["path"]).name):
                raise DocumentConflict(f"文档 {item['doc_id']} 已存在，如需更新请使用“替换”")
        elif row is None or row.status == DocumentStatus.DELETED:
            raise DocumentNotFound("文档已被删除，未再索引")
        path = self.files.local_path(item["path"])  # another machine's upload: written back from the database
        if not path.is_file():
            raise UnsupportedDocument(f"原文件不存在：{path.name}")
        if doc is None:  # not parsed by a request of this process (a retry, or a job resumed elsewhere)
            doc = self.ingest.prepare_file(path, overrides=item["overrides"])
        if doc.meta.doc_id != item["doc_id"]:
            raise DocumentConflict(f"文件解析出的 doc_id「{doc.meta.doc_id}」与文档 {item['doc_id']} 不一致")
        chunks = self.ingest.index(doc, path=str(path), before_activate=self.before_activate)
        return registry.get(doc.meta.doc_id).version, chunks

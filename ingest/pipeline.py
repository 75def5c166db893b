"""load -> clean -> chunk -> embed -> upsert, idempotent and crash-safe.

Chunk ids are ``{doc_id}::{content hash}::{index}``, so re-running writes the same ids.
A document's new chunks are written beside the old version's; retrieval keeps serving the
old version (the registry's ``active_hash``) until the new one is activated, and only then
are the old chunks deleted. The registry row says ``indexing`` until the new version is
complete, and a re-run after a crash finishes the job. A final reconcile drops any chunk that belongs to
no live document version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from app.components.doc_files import SUPPORTED_SUFFIXES, is_sidecar, parse_sidecar, sidecar_path
from app.components.embeddings import Embedder
from app.components.registry import DocumentRegistry, DocumentStatus
from app.components.vector_store import ChromaStore
from app.errors import KunruyiError, UnsupportedDocument
from app.facts.extract import Clause, extract_items
from app.facts.store import PolicyFacts
from app.settings import Settings
from ingest.chunking import Chunk, chunk_document, embedding_text
from ingest.cleaning import clean_document
from ingest.loaders import LoadedFile, load_bytes
from ingest.metadata import DocumentMetadata, build_metadata
from zhtext import chunk_ids

log = logging.getLogger(__name__)

# Bump when cleaning, chunking or chunk metadata change, so that a sync re-indexes everything.
PIPELINE_VERSION = "7"

ADDED, UPDATED, UNCHANGED, REMOVED, FAILED, SKIPPED = (
    "added", "updated", "unchanged", "removed", "failed", "skipped")


@dataclass
class FileResult:
    name: str
    status: str
    doc_id: str | None = None
    chunks: int = 0
    reason: str = ""

    @property
    def failed(self) -> bool:
        return self.status == FAILED


@dataclass
class IngestReport:
    results: list[FileResult] = field(default_factory=list)
    dry_run: bool = False

    def counts(self) -> Counter:
        return Counter(r.status for r in self.results)

    @property
    def failed(self) -> list[FileResult]:
        return [r for r in self.results if r.failed]

    @property
    def changed(self) -> bool:
        return any(r.status in (ADDED, UPDATED, REMOVED) for r in self.results)


@dataclass
class PreparedDocument:
    meta: DocumentMetadata
    text: str
    chunks: list[Chunk]
    content_hash: str
    format: str
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def chunk_prefix(self) -> str:
        return chunk_ids.chunk_prefix(self.meta.doc_id, self.content_hash)

    def chunk_id(self, chunk: Chunk) -> str:
        return chunk_ids.chunk_id(self.chunk_prefix, chunk.index)

    def chunk_metadata(self, chunk: Chunk) -> dict[str, Any]:
        m = self.meta
        return {
            "doc_id": m.doc_id, "content_hash": self.content_hash, "chunk_index": chunk.index,
            "title": m.title, "doc_number": m.doc_number or "", "issuer": m.issuer or "",
            "category": m.category, "url": m.url or "", "source": m.source, "sample": m.sample,
            "published": m.published.isoformat() if m.published else "",
            "expires": m.expires.isoformat() if m.expires else "",
            # Sortable integer for Chroma's numeric filters; 99991231 = no expiry.
            "expires_int": int(m.expires.strftime("%Y%m%d")) if m.expires else 99991231,
            "heading_path": chunk.path_text, "article": chunk.article,
        }


def fingerprint(data: bytes, sidecar: bytes, extra: dict[str, Any], settings: Settings) -> str:
    """Hash of everything a document's chunks depend on: bytes, sidecar, staff overrides, chunk settings."""
    digest = hashlib.sha256()
    for part in (PIPELINE_VERSION, str(settings.chunk_max_chars), str(settings.chunk_min_chars),
                 repr(sorted(extra.items()))):
        digest.update(part.encode() + b"\0")
    digest.update(sidecar + b"\0")
    digest.update(data)
    return digest.hexdigest()


def discover(paths: Sequence[Path]) -> tuple[list[Path], list[Path], list[FileResult]]:
    """Files to ingest, the folders scanned (for deletions) and the files skipped on the way."""
    files: list[Path] = []
    roots: list[Path] = []
    skipped: list[FileResult] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            roots.append(path.resolve())
            for candidate in sorted(path.rglob("*")):
                rel = candidate.relative_to(path)
                if not candidate.is_file() or any(part.startswith((".", "_")) for part in rel.parts):
                    continue
                if is_sidecar(candidate) or candidate.name.lower() == "readme.md":
                    continue
                if candidate.suffix.lower() not in SUPPORTED_SUFFIXES:
                    skipped.append(FileResult(str(candidate), SKIPPED,
                                              reason=f"不支持的文件格式 {candidate.suffix or '（无扩展名）'}"))
                    continue
                files.append(candidate.resolve())
        elif path.is_file():
            files.append(path.resolve())
        else:
            skipped.append(FileResult(str(path), FAILED, reason="文件或目录不存在"))
    return files, roots, skipped


class IngestService:
    """The one ingestion code path, used by ``python -m ingest`` and by the app."""

    def __init__(self, *, settings: Settings, embedder: Embedder, store: ChromaStore, registry: DocumentRegistry,
                 facts: PolicyFacts):
        """The components are built by the caller: app.main.Services.build, or build_ingest_service."""
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.registry = registry
        self.facts = facts

    # -- preparing ----------------------------------------------------------------------------

    def prepare(self, data: bytes, *, name: str, suffix: str, overrides: dict[str, Any] | None = None,
                sidecar: bytes = b"", pin_doc_id: bool = False) -> PreparedDocument:
        """Turn file bytes into a cleaned, chunked document with its metadata (no I/O).

        Metadata comes from, in order of precedence: ``overrides`` (staff input), the sidecar
        YAML, the file itself (front matter, document properties), then the text. ``pin_doc_id``
        adds the doc_id found to the overrides (an upload: its stored copy has a generated name).
        """
        loaded: LoadedFile = load_bytes(data, suffix)
        declared = {**loaded.metadata, **parse_sidecar(sidecar), **(overrides or {})}
        text = clean_document(loaded.text)
        if len(text) < 10:
            raise UnsupportedDocument("文件中没有可用的正文")
        declared = {k: (clean_document(v) if isinstance(v, str) and k in ("title", "issuer", "doc_number") else v)
                    for k, v in declared.items()}
        meta = build_metadata(declared, text, Path(name))
        if pin_doc_id:
            overrides = (overrides or {}) | {"doc_id": meta.doc_id}
        chunks = chunk_document(text, title=meta.title, max_chars=self.settings.chunk_max_chars,
                                min_chars=self.settings.chunk_min_chars)
        if not chunks:
            raise UnsupportedDocument("文件中没有可用的正文")
        content_hash = fingerprint(data, sidecar, overrides or {}, self.settings)
        return PreparedDocument(meta=meta, text=text, chunks=chunks, content_hash=content_hash, format=loaded.format,
                                overrides=dict(overrides or {}))

    def prepare_file(self, path: Path, overrides: dict[str, Any] | None = None) -> PreparedDocument:
        """Prepare a file with its sidecar; ``overrides`` default to the staff metadata the registry
        keeps for that path, so a re-index or rebuild never loses staff edits."""
        if overrides is None:
            row = self.registry.by_path(str(path))
            overrides = (row.overrides if row else None) or {}
        side = sidecar_path(path)
        return self.prepare(path.read_bytes(), name=path.name, suffix=path.suffix, overrides=overrides,
                            sidecar=side.read_bytes() if side else b"")

    # -- writing ------------------------------------------------------------------------------

    def index(self, doc: PreparedDocument, *, path: str | None,
              before_activate: Callable[[PreparedDocument], None] | None = None) -> int:
        """Write a prepared document: registry row, new chunks, activate, then drop the old version's chunks.

        Retrieval serves only the activated version (``DocumentRegistry.serving_prefixes``), so the
        old version answers until the new one is complete. ``before_activate`` runs once the new
        chunks are written and before they are served (a progress hook; tests pause there).
        """
        self.registry.begin_version(doc.meta.to_dict() | {
            "published": doc.meta.published, "effective_from": doc.meta.effective_from,
            "expires": doc.meta.expires}, path=path, fmt=doc.format, content_hash=doc.content_hash, text=doc.text,
            overrides=doc.overrides)
        texts = [embedding_text(chunk, doc.meta.title) for chunk in doc.chunks]
        vectors = self.embedder.embed_passages(texts)
        self.store.upsert(
            ids=[doc.chunk_id(c) for c in doc.chunks],
            embeddings=vectors,
            documents=[c.text for c in doc.chunks],
            metadatas=[doc.chunk_metadata(c) for c in doc.chunks],
        )
        if before_activate:
            before_activate(doc)
        self._extract_facts(doc.meta.doc_id, doc.content_hash, doc.meta.title,
                            [(doc.chunk_id(c), c.heading_path, c.text) for c in doc.chunks])
        self.registry.activate(doc.meta.doc_id, len(doc.chunks))
        stale = [i for i in self.store.ids_where({"doc_id": doc.meta.doc_id}) if not i.startswith(doc.chunk_prefix)]
        self.store.delete(stale)
        return len(doc.chunks)

    def remove(self, doc_id: str) -> FileResult:
        row = self.registry.get(doc_id)
        if row is None or row.status == DocumentStatus.DELETED:
            return FileResult(doc_id, FAILED, doc_id=doc_id, reason="文档不存在或已删除")
        # Leave the live set first, then drop the chunks: no answer cites a deleted document.
        self.registry.mark_deleted(doc_id)
        self.store.delete(self.store.ids_where({"doc_id": doc_id}))
        self.facts.remove(doc_id)
        return FileResult(row.source, REMOVED, doc_id=doc_id)

    # -- policy facts ---------------------------------------------------------------------------

    def _extract_facts(self, doc_id: str, content_hash: str, title: str,
                       chunks: list[tuple[str, list[str], str]]) -> int:
        """Policy items of a version, stored with it (staff review of the same version is kept)."""
        clauses = [Clause(path=[p for p in path if p != title][:4], text=text, chunk_id=chunk_id)
                   for chunk_id, path, text in chunks]
        return self.facts.replace_version(doc_id, content_hash, extract_items(doc_id, content_hash, title, clauses))

    def backfill_facts(self) -> int:
        """Extract items for served versions that have none yet (an index built by an older release)."""
        served = self.registry.serving_versions()
        have = {(r.doc_id, r.content_hash) for r in self.facts.rows()}
        missing = {d: v for d, v in served.items() if (d, v.content_hash) not in have}
        if not missing:
            return 0
        chunks: dict[str, list[tuple[str, list[str], str]]] = {}
        for chunk_id, meta, text in self.serving_entries():
            if meta.get("doc_id") in missing:
                path = [p.strip() for p in (meta.get("heading_path") or "").split(" > ") if p.strip()]
                chunks.setdefault(meta["doc_id"], []).append((chunk_id, path, text or ""))
        for doc_id, entries in chunks.items():
            entries.sort(key=lambda e: e[0])
            self._extract_facts(doc_id, missing[doc_id].content_hash, missing[doc_id].title, entries)
        return len(chunks)

    # -- syncing folders ----------------------------------------------------------------------

    def sync(self, paths: Sequence[Path], *, dry_run: bool = False, rebuild: bool = False,
             progress: Callable[[str], None] | None = None,
             on_start: Callable[[int], None] | None = None) -> IngestReport:
        """Bring the index in line with the given files and folders.

        New files are added, changed ones re-indexed, unchanged ones skipped without parsing,
        and documents whose file has gone from a scanned folder are removed.
        """
        report = IngestReport(dry_run=dry_run)
        if rebuild and not dry_run:
            self.store.reset()
            self.registry.forget_hashes(row.doc_id for row in self.registry.live())
        files, roots, report.results = discover(paths)
        if rebuild:
            # Uploaded documents live outside the scanned folders; a rebuild keeps them.
            known = set(map(str, files))
            files += [Path(r.path) for r in self.registry.live() if r.path and r.path not in known and Path(r.path).is_file()]
        # Files already in the registry claim their doc_id first: a new copy is the duplicate.
        known_paths = {row.path for row in self.registry.live()}
        files.sort(key=lambda p: str(p) not in known_paths)
        if on_start:
            on_start(len(files))
        seen_doc_ids: dict[str, str] = {}
        for path in files:
            result = self._sync_file(path, seen_doc_ids, dry_run)
            report.results.append(result)
            if progress:
                progress(path.name)
        seen_paths = set(map(str, files))
        for row in self.registry.live():
            if not row.path or row.path in seen_paths or row.doc_id in seen_doc_ids:
                continue
            if any(Path(row.path).is_relative_to(root) for root in roots) and not Path(row.path).exists():
                if dry_run:
                    report.results.append(FileResult(row.source, REMOVED, doc_id=row.doc_id))
                else:
                    report.results.append(self.remove(row.doc_id))
        if not dry_run:
            self.backfill_facts()
            removed = self.reconcile()
            if removed:
                log.info("reconcile removed %d orphan chunks", removed)
        return report

    def _sync_file(self, path: Path, seen: dict[str, str], dry_run: bool) -> FileResult:
        name = str(path)
        try:
            row = self.registry.by_path(name)
            data = path.read_bytes()
            side = sidecar_path(path)
            sidecar = side.read_bytes() if side else b""
            if row is not None and row.status == DocumentStatus.ACTIVE:
                # Cheap check first: same bytes, same settings -> nothing to do, no parsing.
                if row.content_hash and row.content_hash == fingerprint(data, sidecar, row.overrides or {},
                                                                        self.settings):
                    seen[row.doc_id] = name
                    return FileResult(name, UNCHANGED, doc_id=row.doc_id, chunks=row.chunk_count)
            doc = self.prepare_file(path)
            doc_id = doc.meta.doc_id
            existing = self.registry.get(doc_id)
            if self._replaced_by_upload(existing, name):
                return FileResult(name, SKIPPED, doc_id=doc_id, reason="已在管理后台上传新版本替换，以上传版本为准")
            if doc_id in seen:
                raise UnsupportedDocument(f"doc_id「{doc_id}」与 {seen[doc_id]} 重复")
            seen[doc_id] = name
            if existing and existing.status == DocumentStatus.ACTIVE and existing.content_hash == doc.content_hash:
                if existing.path != name and not dry_run:
                    self.registry.touch_path(doc_id, name)
                return FileResult(name, UNCHANGED, doc_id=doc_id, chunks=existing.chunk_count)
            status = UPDATED if existing and existing.status != DocumentStatus.DELETED else ADDED
            if dry_run:
                return FileResult(name, status, doc_id=doc_id, chunks=len(doc.chunks))
            chunks = self.index(doc, path=name)
            log.info("indexed doc_id=%s chunks=%d status=%s", doc_id, chunks, status)
            return FileResult(name, status, doc_id=doc_id, chunks=chunks)
        except KunruyiError as exc:
            log.warning("failed file=%s reason=%s", name, exc.message)
            return FileResult(name, FAILED, reason=exc.message)
        except OSError as exc:
            return FileResult(name, FAILED, reason=f"无法读取文件：{exc.strerror or exc}")
        except Exception as exc:  # noqa: BLE001 - one broken file never stops an ingest
            log.exception("unexpected failure file=%s", name)
            return FileResult(name, FAILED, reason=f"处理失败：{type(exc).__name__}: {exc}")

    def _replaced_by_upload(self, row, path: str) -> bool:
        """A folder file whose document staff replaced with an upload (the upload wins)."""
        if row is None or row.status == DocumentStatus.DELETED or not row.path or row.path == path:
            return False
        return Path(row.path).is_relative_to(self.settings.uploads_dir.resolve()) and Path(row.path).is_file()

    def reconcile(self) -> int:
        """Delete chunks that belong to no live document version (left by a crash).

        A live version is the one being indexed or the one still served until it completes.
        """
        live: dict[str, tuple[str, ...]] = {
            row.doc_id: tuple(chunk_ids.chunk_prefix(row.doc_id, h) for h in (row.content_hash, row.active_hash) if h)
            for row in self.registry.live()}
        orphans = []
        for chunk_id, meta, _ in self.store.all_entries():
            prefixes = live.get(meta.get("doc_id"))
            if not prefixes or not chunk_id.startswith(prefixes):
                orphans.append(chunk_id)
        self.store.delete(orphans)
        return len(orphans)

    def serving_entries(self) -> Iterator[tuple[str, dict[str, Any], str | None]]:
        """The chunks retrieval may use: those of each live document's activated version."""
        serving = self.registry.serving_prefixes()
        for chunk_id, meta, text in self.store.all_entries(with_documents=True):
            prefix = serving.get(meta.get("doc_id"))
            if prefix and chunk_id.startswith(prefix):
                yield chunk_id, meta, text


def build_ingest_service(settings: Settings, embedder: Embedder | None = None) -> IngestService:
    """Only what ingestion needs, for ``python -m ingest``, backups, benches and tests: the SQL registry
    and policy facts, the configured embedder and its Chroma collection. The app builds these once in
    its composition root (app.main.Services.build) and shares them with its other services."""
    from app.components.database import create_db_engine, create_session_factory
    from app.components.embeddings import create_embedder

    sessions = create_session_factory(create_db_engine(settings))
    embedder = embedder or create_embedder(settings)
    return IngestService(settings=settings, embedder=embedder, store=ChromaStore(settings, embedder.name,
                         embedder.dimension), registry=DocumentRegistry(sessions), facts=PolicyFacts(sessions))

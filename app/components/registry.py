"""Document registry: one row per document, one per version, plus an index generation counter.

The generation counter changes whenever the indexed corpus changes, so that every worker
can tell cheaply when its in-memory keyword index is stale.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from app.components.orm import Base
from zhtext.chunk_ids import chunk_prefix


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class DocumentStatus:
    INDEXING = "indexing"
    ACTIVE = "active"
    DELETED = "deleted"


class DocumentRow(Base):
    __tablename__ = "documents"

    doc_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    doc_number: Mapped[str | None] = mapped_column(String(200))
    issuer: Mapped[str | None] = mapped_column(String(200))
    published: Mapped[dt.date | None] = mapped_column(Date)
    effective_from: Mapped[dt.date | None] = mapped_column(Date)
    expires: Mapped[dt.date | None] = mapped_column(Date)
    category: Mapped[str] = mapped_column(String(32), default="other")
    url: Mapped[str | None] = mapped_column(String(1000))
    source: Mapped[str] = mapped_column(String(500))
    sample: Mapped[bool] = mapped_column(Boolean, default=False)
    path: Mapped[str | None] = mapped_column(String(2000), index=True)
    format: Mapped[str] = mapped_column(String(16), default="txt")
    content_hash: Mapped[str] = mapped_column(String(64))
    # Hash of the version retrieval serves; only ``activate`` changes it, so a version being
    # indexed (content_hash) stays invisible until it is complete. Empty = never activated.
    active_hash: Mapped[str] = mapped_column(String(64), default="")
    # Metadata set by staff (and an upload's doc_id and original name); applied on every re-index.
    overrides: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=DocumentStatus.INDEXING, index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)

    def metadata_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id, "title": self.title, "doc_number": self.doc_number,
            "issuer": self.issuer, "published": self.published, "effective_from": self.effective_from,
            "expires": self.expires, "category": self.category, "url": self.url,
            "source": self.source, "sample": self.sample,
        }


class DocumentVersionRow(Base):
    __tablename__ = "document_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    doc_id: Mapped[str] = mapped_column(ForeignKey("documents.doc_id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class CounterRow(Base):
    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


def _jsonable(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in meta.items()}


@dataclass(frozen=True)
class ServedVersion:
    doc_id: str
    content_hash: str
    title: str
    expires: dt.date | None
    published: dt.date | None
    replaces: tuple[str, ...] = ()
    effective_from: dt.date | None = None


class LiveSet:
    """The documents retrieval may serve right now, switched atomically with the registry.

    The set is reloaded only when the index generation moved, so every answer sees either the old
    or the new version of a replaced document and never a deleted one. A change made through this
    process's registry (an upload, a delete) is seen by the next call; a change made by another
    process (another worker, the ingest command) within ``check_interval`` seconds, the same
    interval the keyword index uses (``KUNRUYI_KEYWORD_REFRESH_SECONDS``; 0 = one SQL read per call).
    """

    def __init__(self, registry: "DocumentRegistry", check_interval: float = 0.0,
                 clock: Callable[[], float] = time.monotonic):
        self._registry = registry
        self._generation = -1
        self._served: dict[str, ServedVersion] = {}
        self._successors: dict[str, str] = {}
        self._removed: dict[str, str] = {}
        self._interval, self._clock, self._checked = check_interval, clock, float("-inf")
        registry.on_change(self._changed)

    def _changed(self) -> None:
        self._checked = float("-inf")

    def current(self, *, force: bool = False) -> dict[str, ServedVersion]:
        now = self._clock()
        if not force and self._generation >= 0 and now - self._checked < self._interval:
            return self._served
        self._checked = now
        generation = self._registry.generation()
        if force or generation != self._generation:
            served = self._registry.serving_versions()
            successors: dict[str, str] = {}
            for version in served.values():
                for old in version.replaces:
                    successors[old] = version.doc_id
            self._served, self._successors, self._generation = served, successors, generation
            self._removed = self._registry.removed_titles()
        return self._served

    @property
    def removed(self) -> dict[str, str]:
        """doc_id -> title of documents staff deleted (so questions about them are refused)."""
        return self._removed

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def served(self) -> dict[str, ServedVersion]:
        """The set as last read (``current`` reads it again when the corpus changed)."""
        return self._served

    def serves(self, meta: dict[str, Any]) -> bool:
        version = self._served.get(meta.get("doc_id", ""))
        return version is not None and version.content_hash == meta.get("content_hash")

    def successor(self, doc_id: str) -> ServedVersion | None:
        """The live document that names ``doc_id`` in its ``replaces`` (newest wins)."""
        new = self._successors.get(doc_id)
        return self._served.get(new) if new else None


class DocumentRegistry:
    def __init__(self, session_factory: sessionmaker):
        self._sessions = session_factory  # tables created and upgraded by database.upgrade_schema
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after this registry moved the index generation (committed)."""
        self._listeners.append(listener)

    def _notify(self) -> None:
        for listener in self._listeners:
            listener()

    @property
    def session_factory(self) -> sessionmaker:
        return self._sessions

    def get(self, doc_id: str) -> DocumentRow | None:
        with self._sessions() as session:
            return session.get(DocumentRow, doc_id)

    def by_path(self, path: str) -> DocumentRow | None:
        with self._sessions() as session:
            return session.scalars(
                select(DocumentRow).where(DocumentRow.path == path, DocumentRow.status != DocumentStatus.DELETED)
            ).first()

    def list(self, include_deleted: bool = False) -> list[DocumentRow]:
        with self._sessions() as session:
            query = select(DocumentRow).order_by(DocumentRow.category, DocumentRow.doc_id)
            if not include_deleted:
                query = query.where(DocumentRow.status != DocumentStatus.DELETED)
            return list(session.scalars(query))

    def live(self) -> list[DocumentRow]:
        return [row for row in self.list() if row.status != DocumentStatus.DELETED]

    def serving_prefixes(self) -> dict[str, str]:
        """doc_id -> chunk id prefix of the version retrieval may serve (activated, not deleted)."""
        with self._sessions() as session:
            rows = session.execute(select(DocumentRow.doc_id, DocumentRow.active_hash).where(
                DocumentRow.status != DocumentStatus.DELETED, DocumentRow.active_hash != ""))
            return {doc_id: chunk_prefix(doc_id, active) for doc_id, active in rows}

    def serving_versions(self) -> dict[str, "ServedVersion"]:
        """doc_id -> the activated version retrieval may serve, with what answers say about it."""
        with self._sessions() as session:
            rows = session.execute(
                select(DocumentRow.doc_id, DocumentRow.active_hash, DocumentRow.title, DocumentRow.expires,
                       DocumentRow.published, DocumentVersionRow.meta, DocumentRow.effective_from)
                .join(DocumentVersionRow, (DocumentVersionRow.doc_id == DocumentRow.doc_id)
                      & (DocumentVersionRow.content_hash == DocumentRow.active_hash), isouter=True)
                .where(DocumentRow.status != DocumentStatus.DELETED, DocumentRow.active_hash != ""))
            served: dict[str, ServedVersion] = {}
            for doc_id, active, title, expires, published, meta, effective_from in rows:
                served[doc_id] = ServedVersion(doc_id, active, title, expires, published,
                                               tuple((meta or {}).get("replaces") or ()), effective_from)
            return served

    def removed_titles(self) -> dict[str, str]:
        with self._sessions() as session:
            rows = session.execute(select(DocumentRow.doc_id, DocumentRow.title)
                                   .where(DocumentRow.status == DocumentStatus.DELETED))
            return {doc_id: title for doc_id, title in rows}

    def begin_version(self, meta: dict[str, Any], *, path: str | None, fmt: str, content_hash: str,
                      text: str, overrides: dict[str, Any] | None = None) -> int:
        """Record that a new version is being indexed; returns its version number.

        Re-indexing the same content after a crash reuses the version number. The version
        served so far (``active_hash``) is left alone until ``activate``.
        """
        with self._sessions.begin() as session:
            row = session.get(DocumentRow, meta["doc_id"])
            if row is None:
                row = DocumentRow(doc_id=meta["doc_id"], version=1, content_hash=content_hash,
                                  title=meta["title"], source=meta["source"])
                session.add(row)
            else:
                latest = session.scalars(
                    select(DocumentVersionRow.content_hash).where(DocumentVersionRow.doc_id == row.doc_id,
                                                                  DocumentVersionRow.version == row.version)
                ).first()
                if latest != content_hash or row.status == DocumentStatus.DELETED:
                    row.version += 1
            for key, value in meta.items():
                setattr(row, key, value)
            row.path, row.format, row.content_hash, row.text = path, fmt, content_hash, text
            row.overrides = _jsonable(overrides) if overrides else None
            if row.status == DocumentStatus.DELETED:
                row.active_hash = ""
            row.status = DocumentStatus.INDEXING
            version = row.version
            existing = session.scalars(
                select(DocumentVersionRow).where(DocumentVersionRow.doc_id == row.doc_id,
                                                 DocumentVersionRow.version == version)
            ).first()
            if existing is None:
                session.add(DocumentVersionRow(doc_id=row.doc_id, version=version, content_hash=content_hash,
                                               meta=_jsonable(meta) | {"path": path},
                                               status=DocumentStatus.INDEXING))
            return version

    def activate(self, doc_id: str, chunk_count: int) -> None:
        with self._sessions.begin() as session:
            row = session.get(DocumentRow, doc_id)
            row.status, row.chunk_count = DocumentStatus.ACTIVE, chunk_count
            row.active_hash = row.content_hash
            session.execute(
                update(DocumentVersionRow)
                .where(DocumentVersionRow.doc_id == doc_id, DocumentVersionRow.version != row.version,
                       DocumentVersionRow.status == DocumentStatus.ACTIVE)
                .values(status="superseded")
            )
            session.execute(
                update(DocumentVersionRow)
                .where(DocumentVersionRow.doc_id == doc_id, DocumentVersionRow.version == row.version)
                .values(status=DocumentStatus.ACTIVE, chunk_count=chunk_count)
            )
            self._bump(session)
        self._notify()

    def touch_path(self, doc_id: str, path: str) -> None:
        with self._sessions.begin() as session:
            session.get(DocumentRow, doc_id).path = path

    def mark_deleted(self, doc_id: str) -> None:
        with self._sessions.begin() as session:
            row = session.get(DocumentRow, doc_id)
            if row is None:
                return
            row.status, row.chunk_count, row.active_hash = DocumentStatus.DELETED, 0, ""
            session.execute(
                update(DocumentVersionRow)
                .where(DocumentVersionRow.doc_id == doc_id, DocumentVersionRow.status != "superseded")
                .values(status=DocumentStatus.DELETED)
            )
            self._bump(session)
        self._notify()

    def versions(self, doc_id: str) -> list[DocumentVersionRow]:
        with self._sessions() as session:
            return list(session.scalars(
                select(DocumentVersionRow).where(DocumentVersionRow.doc_id == doc_id)
                .order_by(DocumentVersionRow.version)
            ))

    def forget_hashes(self, doc_ids: Iterable[str]) -> None:
        """Make the next sync re-index these documents (used by --rebuild)."""
        with self._sessions.begin() as session:
            session.execute(update(DocumentRow).where(DocumentRow.doc_id.in_(list(doc_ids)))
                            .values(content_hash=""))

    def generation(self) -> int:
        with self._sessions() as session:
            row = session.get(CounterRow, "index_generation")
            return row.value if row else 0

    def bump_generation(self) -> None:
        with self._sessions.begin() as session:
            self._bump(session)
        self._notify()

    @staticmethod
    def _bump(session) -> None:
        row = session.get(CounterRow, "index_generation", with_for_update=True)
        if row is None:
            session.add(CounterRow(name="index_generation", value=1))
        else:
            row.value += 1

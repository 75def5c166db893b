"""The corpus as the app sees it: documents and their metadata (the registry) and chunks (Chroma)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from app.components.registry import DocumentRegistry, DocumentRow
from app.components.vector_store import ChromaStore, Hit
from app.errors import DocumentNotFound
from zhtext.chunk_ids import chunk_prefix
from zhtext.validity import in_force


@dataclass
class DocumentSummary:
    doc_id: str
    title: str
    doc_number: str | None
    issuer: str | None
    published: dt.date | None
    expires: dt.date | None
    expired: bool
    category: str
    url: str | None
    source: str
    sample: bool
    chunk_count: int
    status: str
    version: int

    @classmethod
    def from_row(cls, row: DocumentRow, today: dt.date | None = None) -> "DocumentSummary":
        today = today or dt.date.today()
        return cls(
            doc_id=row.doc_id, title=row.title, doc_number=row.doc_number, issuer=row.issuer,
            published=row.published, expires=row.expires,
            expired=not in_force(row.expires, today), category=row.category, url=row.url,
            source=row.source, sample=row.sample, chunk_count=row.chunk_count, status=row.status,
            version=row.version,
        )


class CorpusService:
    def __init__(self, registry: DocumentRegistry, store: ChromaStore):
        self.registry = registry
        self.store = store

    def list_documents(self, category: str | None = None) -> list[DocumentSummary]:
        """Documents citizens can see: live and served (a first upload still indexing is not)."""
        rows = self.registry.live()
        return [DocumentSummary.from_row(r) for r in rows if r.active_hash and category in (None, r.category)]

    def get_document(self, doc_id: str) -> DocumentRow:
        row = self.registry.get(doc_id)
        if row is None or row.status == "deleted" or not row.active_hash:
            raise DocumentNotFound("未找到该文档")
        return row

    def chunks(self, doc_id: str) -> tuple[DocumentRow, list[Hit]]:
        """A live document and its current chunks in reading order (for the document page)."""
        row = self.get_document(doc_id)
        store = self.store
        current = chunk_prefix(doc_id, row.active_hash)  # the served version, also during a replace
        hits = [h for h in store.get(store.ids_where({"doc_id": doc_id})) if h.id.startswith(current)]
        return row, sorted(hits, key=lambda h: int(h.metadata.get("chunk_index", 0)))

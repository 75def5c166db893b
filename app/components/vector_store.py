"""Chroma, embedded on disk by default or a ``chroma run`` server when KUNRUYI_CHROMA_URL is set.

The chromadb client is used directly rather than through LangChain's wrapper: ingestion
needs deterministic ids, batched upserts sized to the client's limit, deletes by metadata
and the collection's own metadata (which records the embedding model); the wrapper would
hide or re-implement each of these.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any, Iterator, Sequence
from urllib.parse import urlparse

import numpy as np

from app.errors import BackendUnavailable, EmbeddingModelMismatch, KunruyiError
from app.settings import Settings

log = logging.getLogger(__name__)

# HNSW parameters of every collection this service creates, chosen by measuring recall@30 against exact
# search on the sample corpus (python -m bench.hnsw; figures in its docstring). Chroma's defaults
# (max_neighbors 16, ef_construction 100, ef_search 100) reached recall@30 0.998-0.999 and lost the
# exact best chunk from the top 30 in some builds (issue 12 saw 7-14 of 109 questions on a server);
# these reached 1.0000 with no loss in every build, on a server and embedded, at about 1.5x the build
# time. ef_search can be raised on an existing collection (done at open); max_neighbors and
# ef_construction apply when a collection is built (python -m ingest --rebuild, a restore).
HNSW_CONFIGURATION = {"space": "cosine", "max_neighbors": 32, "ef_construction": 400, "ef_search": 400}


@dataclass
class Hit:
    id: str
    text: str
    metadata: dict[str, Any]
    score: float  # cosine similarity, higher is better


def _batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def connect(settings: Settings):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        try:
            client = chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
        except Exception as exc:  # noqa: BLE001 - chromadb raises several types on connect
            raise BackendUnavailable(f"无法连接 Chroma 服务器 {settings.chroma_url}：{exc}") from exc
        _set_timeout(client, settings.chroma_timeout)
        return client
    settings.chroma_path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_path), settings=chroma_settings)


def _set_timeout(client, seconds: float) -> None:
    """chromadb's HTTP client waits forever by default; a hung server must not hang a citizen's request."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if session is None:
        log.warning("could not set a timeout on the Chroma HTTP client (chromadb internals changed)")
        return
    session.timeout = httpx.Timeout(seconds, connect=min(seconds, 5.0))


def _unavailable(method):
    """Chroma failures (server down, timeouts) become BackendUnavailable: a clean 503, not a 500."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except KunruyiError:
            raise
        except Exception as exc:  # noqa: BLE001 - chromadb raises many types (httpx, its own, ValueError)
            raise BackendUnavailable("检索服务（Chroma）暂时不可用，请稍后重试", detail=repr(exc)) from exc

    return wrapper


class ChromaStore:
    """The policy chunks collection; it records which embedding model built it."""

    def __init__(self, settings: Settings, model_name: str, dimension: int, *, client=None):
        self._client = client or connect(settings)
        self._name = settings.chroma_collection
        self.model_name = model_name
        self.dimension = dimension
        self._write_batch = max(1, min(settings.ingest_write_batch, self._max_batch()))
        self._collection = self._open()

    def _max_batch(self) -> int:
        try:
            return int(self._client.get_max_batch_size())
        except Exception:  # noqa: BLE001 - older servers do not report it
            return 1000

    def _open(self):
        collection = self._client.get_or_create_collection(
            self._name,
            embedding_function=None,  # we embed ourselves; Chroma's default would download a model
            configuration={"hnsw": dict(HNSW_CONFIGURATION)},  # used when the collection is created
            metadata={
                "embedding_model": self.model_name,
                "embedding_dim": self.dimension,
            },
        )
        self._raise_ef_search(collection)
        built_with = (collection.metadata or {}).get("embedding_model")
        built_dim = (collection.metadata or {}).get("embedding_dim")
        if built_with != self.model_name or (built_dim and int(built_dim) != self.dimension):
            raise EmbeddingModelMismatch(
                f"索引由嵌入模型 {built_with}（{built_dim} 维）构建，当前配置为 {self.model_name}"
                f"（{self.dimension} 维）。请运行 python -m ingest --rebuild 重建索引。"
            )
        return collection

    def _raise_ef_search(self, collection) -> None:
        """A collection built before HNSW_CONFIGURATION (or by another release) searches with at least our ef."""
        try:
            current = ((collection.configuration or {}).get("hnsw") or {}).get("ef_search")
            if current is not None and int(current) < HNSW_CONFIGURATION["ef_search"]:
                collection.modify(configuration={"hnsw": {"ef_search": HNSW_CONFIGURATION["ef_search"]}})
                log.info("Chroma collection %s: ef_search raised from %s to %d", self._name, current,
                         HNSW_CONFIGURATION["ef_search"])
        except Exception as exc:  # noqa: BLE001 - an older server without modifiable configuration
            log.warning("could not raise ef_search on %s (%s)", self._name, type(exc).__name__)

    def hnsw_configuration(self) -> dict[str, Any]:
        return dict(((self._collection.configuration or {}).get("hnsw")) or {})

    def reset(self) -> None:
        """Drop the collection and create it again for the configured model."""
        try:
            self._client.delete_collection(self._name)
        except Exception:  # noqa: BLE001 - missing collection
            pass
        self._collection = self._open()

    @_unavailable
    def count(self) -> int:
        return self._collection.count()

    @_unavailable
    def upsert(self, ids: Sequence[str], embeddings: np.ndarray, documents: Sequence[str],
               metadatas: Sequence[dict[str, Any]]) -> None:
        for part in _batches(len(ids), self._write_batch):
            self._collection.upsert(
                ids=list(ids[part]),
                embeddings=embeddings[part].tolist(),
                documents=list(documents[part]),
                metadatas=list(metadatas[part]),
            )

    @_unavailable
    def delete(self, ids: Sequence[str]) -> None:
        ids = list(ids)
        for part in _batches(len(ids), self._write_batch):
            self._collection.delete(ids=ids[part])

    def ids_where(self, where: dict[str, Any]) -> list[str]:
        return list(self._collection.get(where=where, include=[])["ids"])

    def all_entries(self, page: int = 5000, with_documents: bool = False) -> Iterator[tuple[str, dict[str, Any], str | None]]:
        include = ["metadatas", "documents"] if with_documents else ["metadatas"]
        offset = 0
        while True:
            batch = self._collection.get(include=include, limit=page, offset=offset)
            ids = batch["ids"]
            if not ids:
                return
            docs = batch.get("documents") or [None] * len(ids)
            for i, meta, doc in zip(ids, batch["metadatas"], docs):
                yield i, meta or {}, doc
            offset += len(ids)

    def export_entries(self, page: int = 1000) -> Iterator[tuple[str, list[float], str, dict[str, Any]]]:
        """Every chunk with its vector (for backups)."""
        offset = 0
        while True:
            batch = self._collection.get(include=["embeddings", "documents", "metadatas"], limit=page, offset=offset)
            if not batch["ids"]:
                return
            for item in zip(batch["ids"], batch["embeddings"], batch["documents"], batch["metadatas"]):
                yield item[0], [float(x) for x in item[1]], item[2], item[3] or {}
            offset += len(batch["ids"])

    @_unavailable
    def get(self, ids: Sequence[str]) -> list[Hit]:
        if not ids:
            return []
        batch = self._collection.get(ids=list(ids), include=["metadatas", "documents"])
        found = {i: Hit(i, d, m or {}, 0.0) for i, d, m in zip(batch["ids"], batch["documents"], batch["metadatas"])}
        return [found[i] for i in ids if i in found]

    @_unavailable
    def query(self, embedding: np.ndarray, k: int, where: dict[str, Any] | None = None) -> list[Hit]:
        result = self._collection.query(
            query_embeddings=[embedding.tolist()],
            n_results=k,
            where=where,
            include=["metadatas", "documents", "distances"],
        )
        return [
            Hit(i, d, m or {}, 1.0 - float(dist))
            for i, d, m, dist in zip(result["ids"][0], result["documents"][0],
                                     result["metadatas"][0], result["distances"][0])
        ]

    @_unavailable
    def nearest(self, embedding: np.ndarray, k: int) -> list[tuple[str, float]]:
        """The ``k`` nearest chunk ids and their cosine similarity, without text or metadata (Chroma
        spends most of a query reading and decoding those: ~4.6 ms of CPU with them, ~0.9 without, on
        the sample corpus)."""
        result = self._collection.query(query_embeddings=[embedding.tolist()], n_results=k, include=["distances"])
        return [(i, 1.0 - float(dist)) for i, dist in zip(result["ids"][0], result["distances"][0])]

    @_unavailable
    def exact_scores(self, embedding: np.ndarray, ids: Sequence[str]) -> dict[str, float]:
        """Exact cosine similarity between ``embedding`` and the stored vectors of ``ids``.

        HNSW search is approximate: which chunks come back, and so the best score among them, can
        vary between a server, an embedded store and a restored copy. A refusal must not hinge on
        that: retrieval recomputes the score of its top candidates (dense *and* keyword ones) here
        and decides on the exact best."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        batch = self._collection.get(ids=ids, include=["embeddings"])
        if not len(batch["ids"]):
            return {}
        vectors = np.asarray(batch["embeddings"], dtype=np.float32)
        query = np.asarray(embedding, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1) * (np.linalg.norm(query) or 1.0)
        scores = (vectors @ query) / np.where(norms == 0, 1.0, norms)
        return {i: float(score) for i, score in zip(batch["ids"], scores)}

    @_unavailable
    def heartbeat(self) -> None:
        self._client.heartbeat()

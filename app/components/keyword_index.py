"""BM25 over jieba tokens, kept in step with the served chunks, updated per document.

Each worker holds the index in memory. The registry's index generation changes on any
ingest in any process; a background thread notices (checked at most every
``keyword_refresh_seconds``; 0 = on every search, in the caller's thread) and applies the
change per document: the registry says which version of each document is served, the index
drops the chunks of documents that changed or left and tokenises only the chunks of the
versions that came in. Requests never wait for that work (issue 14): a search uses the
index as it stands; a document's old and new chunks swap under one short lock. When many
removals have left holes, or when no per-document loaders were given, a full rebuild runs
in the background thread and the new index replaces the old one in a single assignment.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from array import array
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np

from zhtext.chunk_ids import split_chunk_id
from zhtext.tokens import tokenize
from zhtext.typos import Homophones

log = logging.getLogger(__name__)


@dataclass
class KeywordHit:
    id: str
    score: float


Entry = tuple[str, dict[str, Any], str | None]

# BM25 parameters and formula of bm25s's default ("lucene") variant, which this index replaced:
# the same scores, so the fusion settings tuned on it still hold.
K1, B = 1.5, 0.75


def chunk_tokens(meta: dict[str, Any], text: str) -> list[str]:
    """What BM25 indexes for a chunk: its title, heading path and 文号, then its text."""
    context = f"{meta.get('title', '')} {meta.get('heading_path', '')} {meta.get('doc_number', '')}"
    return tokenize(f"{context}\n{text}") or ["∅"]


class _Postings:
    __slots__ = ("slots", "tfs")

    def __init__(self):
        self.slots = array("i")
        self.tfs = array("f")


class _Index:
    """One BM25 index. Readers hold ``lock`` while scoring; the single updater thread mutates under it."""

    def __init__(self):
        self.lock = threading.Lock()
        self.postings: dict[str, _Postings] = {}
        self.ids: list[str | None] = []          # slot -> chunk id (None once removed)
        self.metas: list[dict[str, Any] | None] = []
        self.texts: list[str | None] = []
        self.doc_len = np.zeros(1024, dtype=np.float32)
        self.alive = np.zeros(1024, dtype=bool)
        self.pos: dict[str, int] = {}            # chunk id -> slot, served chunks only
        self.docs: dict[str, tuple[str, list[int]]] = {}  # doc_id -> (version prefix, slots)
        self.total_len = 0.0
        self.live = 0
        self.idf_cache: dict[str, float] = {}
        self.blob = ""                           # lower-cased titles and texts, for ``mentions``
        self.mention_cache: dict[str, bool] = {}

    @property
    def dead(self) -> int:
        return len(self.ids) - self.live

    def _grow(self, need: int) -> None:
        if need <= len(self.alive):
            return
        size = max(need, 2 * len(self.alive))
        self.alive = np.concatenate([self.alive, np.zeros(size - len(self.alive), dtype=bool)])
        self.doc_len = np.concatenate([self.doc_len, np.zeros(size - len(self.doc_len), dtype=np.float32)])

    def add(self, chunk_id: str, meta: dict[str, Any], text: str, tokens: list[str]) -> None:
        """Caller holds ``lock`` (or owns an index nobody reads yet)."""
        if chunk_id in self.pos:
            self.remove_slot(self.pos[chunk_id])
        slot = len(self.ids)
        self._grow(slot + 1)
        self.ids.append(chunk_id)
        self.metas.append(meta)
        self.texts.append(text)
        self.doc_len[slot] = len(tokens)
        self.alive[slot] = True
        for token, tf in Counter(tokens).items():
            postings = self.postings.get(token)
            if postings is None:
                postings = self.postings[token] = _Postings()
            postings.slots.append(slot)
            postings.tfs.append(tf)
        self.pos[chunk_id] = slot
        doc_id = meta.get("doc_id", "")
        prefix, slots = self.docs.get(doc_id, (split_chunk_id(chunk_id)[0], []))
        slots.append(slot)
        self.docs[doc_id] = (prefix, slots)
        self.total_len += len(tokens)
        self.live += 1
        self.idf_cache.clear()

    def remove_slot(self, slot: int) -> None:
        if not self.alive[slot]:
            return
        self.alive[slot] = False
        self.pos.pop(self.ids[slot], None)
        self.ids[slot] = self.metas[slot] = self.texts[slot] = None
        self.total_len -= float(self.doc_len[slot])
        self.live -= 1
        self.idf_cache.clear()

    def remove_document(self, doc_id: str) -> None:
        _, slots = self.docs.pop(doc_id, ("", []))
        for slot in slots:
            self.remove_slot(slot)

    def replace_document(self, doc_id: str, prefix: str, entries: list[tuple[str, dict[str, Any], str, list[str]]]) -> None:
        self.remove_document(doc_id)
        for chunk_id, meta, text, tokens in entries:
            self.add(chunk_id, meta, text, tokens)
        if entries:
            self.docs[doc_id] = (prefix, self.docs.get(doc_id, (prefix, []))[1])

    # -- reading (caller holds lock) --------------------------------------------------------

    def _df(self, postings: _Postings) -> tuple[np.ndarray, np.ndarray, int]:
        slots = np.frombuffer(postings.slots, dtype=np.int32)
        tfs = np.frombuffer(postings.tfs, dtype=np.float32)
        return slots, tfs, int(np.count_nonzero(self.alive[slots]))

    def idf(self, token: str) -> float:
        cached = self.idf_cache.get(token)
        if cached is not None:
            return cached
        postings = self.postings.get(token)
        value = 0.0
        if postings is not None and self.live:
            slots, tfs, df = self._df(postings)
            del slots, tfs  # release the buffers before the arrays can grow again
            if df:
                value = math.log(1 + (self.live - df + 0.5) / (df + 0.5))
        self.idf_cache[token] = value
        return value

    def scores(self, tokens: list[str]) -> np.ndarray:
        n = len(self.ids)
        scores = np.zeros(n, dtype=np.float32)
        if not self.live:
            return scores
        avg = self.total_len / self.live
        for token, count in Counter(tokens).items():
            postings = self.postings.get(token)
            if postings is None:
                continue
            slots, tfs, df = self._df(postings)
            if df:
                idf = math.log(1 + (self.live - df + 0.5) / (df + 0.5))
                dl = self.doc_len[slots]
                scores[slots] += (count * idf) * tfs / (tfs + K1 * ((1 - B) + B * dl / avg))
            del slots, tfs  # release the buffers before the arrays can grow again
        scores[~self.alive[:n]] = 0.0
        return scores

    def build_blob(self) -> str:
        return "\n".join(f"{m.get('title', '')}\n{t}" for m, t in zip(self.metas, self.texts) if m is not None).lower()

    def compacted(self) -> "_Index":
        """A copy without the removed chunks' slots (no re-tokenising); the caller is the only writer."""
        new = _Index()
        keep = np.flatnonzero(self.alive[:len(self.ids)])
        remap = np.full(len(self.ids), -1, dtype=np.int32)
        remap[keep] = np.arange(len(keep), dtype=np.int32)
        new._grow(len(keep))
        new.ids = [self.ids[i] for i in keep]
        new.metas = [self.metas[i] for i in keep]
        new.texts = [self.texts[i] for i in keep]
        new.doc_len[:len(keep)] = self.doc_len[keep]
        new.alive[:len(keep)] = True
        new.pos = {chunk_id: i for i, chunk_id in enumerate(new.ids)}
        new.docs = {doc_id: (prefix, [int(remap[s]) for s in slots if remap[s] >= 0])
                    for doc_id, (prefix, slots) in self.docs.items()}
        for token, postings in self.postings.items():
            slots = np.frombuffer(postings.slots, dtype=np.int32)
            tfs = np.frombuffer(postings.tfs, dtype=np.float32)
            live = self.alive[slots]
            if live.any():
                moved = _Postings()
                moved.slots = array("i", remap[slots[live]].astype(np.int32).tobytes())
                moved.tfs = array("f", tfs[live].tobytes())
                new.postings[token] = moved
            del slots, tfs
        new.total_len, new.live = self.total_len, len(keep)
        new.blob = self.blob
        return new


class KeywordIndex:
    """BM25 over the served chunks. ``load_entries`` yields every served chunk (full builds);
    with ``serving_prefixes`` (doc_id -> served version's chunk id prefix) and ``load_document``
    (a document's chunks) changes are applied per document instead."""

    # Rebuild without the holes once removed chunks are this share of the slots.
    COMPACT_SHARE = 0.3

    def __init__(self, load_entries: Callable[[], Iterable[Entry]], current_generation: Callable[[], int], *,
                 check_interval: float = 1.0, serving_prefixes: Callable[[], dict[str, str]] | None = None,
                 load_document: Callable[[str], Iterable[Entry]] | None = None,
                 tokens: Callable[[dict[str, Any], str], list[str]] = chunk_tokens):
        self._tokens = tokens  # what a chunk is indexed as (benches may pass a faster equivalent)
        self._load_entries = load_entries
        self._current_generation = current_generation
        self._serving_prefixes = serving_prefixes
        self._load_document = load_document
        self._check_interval = check_interval
        self._index = _Index()
        self._generation = -1
        self._checked_at = float("-inf")
        self._update_lock = threading.Lock()   # one catch-up at a time (thread or caller)
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.full_builds = 0                   # how often everything was loaded and tokenised
        self.updated_documents = 0             # documents (re)tokenised by incremental updates
        self.last_error: str | None = None
        self._homophones: Homophones | None = None  # rebuilt by whoever updates the index

    # -- keeping up with the corpus -----------------------------------------------------------

    def refresh(self, force: bool = False) -> None:
        """Catch up with the corpus. ``force`` (and a 0-second interval) does it now in this thread;
        otherwise the background thread is woken at most once per interval and this returns at once."""
        if force or self._generation < 0 or self._check_interval <= 0:
            self.catch_up(force=force)
            return
        now = time.monotonic()
        if now - self._checked_at < self._check_interval:
            return
        self._checked_at = now
        self._start_thread()
        self._wake.set()

    def _start_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="keyword-index", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait()
            self._wake.clear()
            if self._closed:
                return
            try:
                self.catch_up()
                self.last_error = None
            except Exception as exc:  # noqa: BLE001 - keep serving the index we have; retry on the next wake
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("keyword index update failed: %s", self.last_error)

    def close(self) -> None:
        self._closed = True
        self._wake.set()

    def catch_up(self, force: bool = False) -> bool:
        """Bring the index to the registry's generation; returns whether anything changed."""
        with self._update_lock:
            generation = self._current_generation()
            if not force and generation == self._generation:
                return False
            index = self._index
            if force or self._generation < 0 or self._serving_prefixes is None or self._load_document is None:
                self._full_build(generation)
                return True
            serving = self._serving_prefixes()
            gone = [d for d, (prefix, _) in index.docs.items() if serving.get(d) != prefix]
            came = [d for d, prefix in serving.items() if index.docs.get(d, ("",))[0] != prefix]
            for doc_id in came:
                prefix = serving[doc_id]
                entries = [(cid, meta, text or "", self._tokens(meta, text or ""))
                           for cid, meta, text in self._load_document(doc_id) if cid.startswith(prefix)]
                with index.lock:
                    index.replace_document(doc_id, prefix, entries)
                self.updated_documents += 1
            for doc_id in gone:
                if doc_id not in serving:
                    with index.lock:
                        index.remove_document(doc_id)
            if index.dead > 1000 and index.dead > self.COMPACT_SHARE * len(index.ids):
                index = self._index = index.compacted()
            if gone or came:
                blob = index.build_blob()
                with index.lock:
                    index.blob, index.mention_cache = blob, {}
                self._homophones = self._sounds(index)
            self._generation = generation
            log.info("keyword index at generation=%s chunks=%d (documents in: %d, out: %d)",
                     generation, index.live, len(came), len(gone))
            return bool(gone or came)

    def _full_build(self, generation: int) -> None:
        index = _Index()
        for chunk_id, meta, text in self._load_entries():
            index.add(chunk_id, meta, text or "", self._tokens(meta, text or ""))
        index.blob = index.build_blob()
        self._homophones = self._sounds(index)
        self._index = index  # one assignment: searches see the old index or the new one
        self._generation = generation
        self.full_builds += 1
        log.info("keyword index rebuilt generation=%s chunks=%d", generation, index.live)

    @property
    def generation(self) -> int:
        """The corpus generation the index reflects (-1 before the first load)."""
        return self._generation

    # -- reading -------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return self._index.live

    def idf(self, token: str) -> float:
        """Inverse document frequency of a token in the chunk collection (0 when unknown)."""
        index = self._index
        with index.lock:
            return index.idf(token)

    def search(self, query_tokens: list[str], k: int, allow: Callable[[dict[str, Any]], bool] | None = None) -> list[KeywordHit]:
        self.refresh()
        index = self._index
        if not query_tokens:
            return []
        with index.lock:
            scores = index.scores(query_tokens)
            found = np.flatnonzero(scores > 0)
            order = found[np.argsort(-scores[found], kind="stable")]
            hits = []
            for i in order:
                if len(hits) >= k:
                    break
                if allow is None or allow(index.metas[i]):
                    hits.append(KeywordHit(index.ids[i], float(scores[i])))
        return hits

    def mentions(self, term: str) -> bool:
        """Whether any chunk (or its document title) contains the term at all."""
        index = self._index
        term = term.lower()
        found = index.mention_cache.get(term)
        if found is None:
            found = index.mention_cache[term] = term in index.blob
        return found

    def documents_with(self, token: str) -> set[str]:
        """The served documents that have the token (a jieba token, as indexed)."""
        index = self._index
        with index.lock:
            postings = index.postings.get(token)
            if postings is None:
                return set()
            return {index.metas[s].get("doc_id", "") for s in postings.slots if index.alive[s]}

    def homophones(self) -> Homophones:
        """The indexed words by sound (for question typos). Built with each index update, in the
        updater's thread, so a question never waits for it."""
        if self._homophones is None:
            self._homophones = self._sounds(self._index)
        return self._homophones

    def _sounds(self, index: "_Index") -> Homophones:
        with index.lock:
            vocabulary = list(index.postings)
        return Homophones(vocabulary, frequency=lambda w: -self.idf(w))

    def together(self, token: str, others: list[str]) -> bool:
        """Whether some served chunk holds the token and one of the others."""
        index = self._index
        with index.lock:
            mine = index.postings.get(token)
            if mine is None:
                return False
            slots = {s for s in mine.slots if index.alive[s]}
            return any(slots.intersection(index.postings[o].slots) for o in others
                       if o != token and o in index.postings)

    def titles(self) -> dict[str, str]:
        """The served documents' titles, by document id."""
        index = self._index
        with index.lock:
            return {doc: (index.metas[slots[0]] or {}).get("title", "") for doc, (_, slots) in index.docs.items() if slots}

    def texts_with(self, token: str) -> list[tuple[dict[str, Any], str]]:
        """(metadata, text) of every served chunk that has the token."""
        index = self._index
        with index.lock:
            postings = index.postings.get(token)
            if postings is None:
                return []
            return [(index.metas[s], index.texts[s]) for s in postings.slots if index.alive[s]]

    def contains(self, chunk_id: str) -> bool:
        return chunk_id in self._index.pos

    def entry(self, chunk_id: str) -> tuple[dict[str, Any], str] | None:
        index = self._index
        with index.lock:
            i = index.pos.get(chunk_id)
            return None if i is None else (index.metas[i], index.texts[i])


def keyword_index_for(ingest, settings) -> KeywordIndex:
    """The app's index over an ``IngestService``: served chunks from Chroma, versions from the registry."""
    store, registry = ingest.store, ingest.registry

    def load_document(doc_id: str) -> list[Entry]:
        return [(hit.id, hit.metadata, hit.text) for hit in store.get(store.ids_where({"doc_id": doc_id}))]

    return KeywordIndex(ingest.serving_entries, registry.generation, check_interval=settings.keyword_refresh_seconds,
                        serving_prefixes=registry.serving_prefixes, load_document=load_document)

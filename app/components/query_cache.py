"""Caches in front of per-question work (issue 14).

``CachedQueryEmbedder`` remembers the vectors of recent questions. A query's vector depends
only on its text and the model, never on the corpus, so entries stay valid across corpus
changes; the key is the exact text the retriever embeds (it normalises questions first:
full-width forms, spaces), so a cached vector is bit-for-bit the one the model would return.

``LRUCache`` is the small thread-safe LRU both use.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, Hashable, Sequence, TypeVar

import numpy as np

V = TypeVar("V")


class LRUCache(Generic[V]):
    def __init__(self, size: int):
        self.size = max(0, size)
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: V) -> None:
        if not self.size:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class CachedQueryEmbedder:
    """An embedder whose ``embed_query`` remembers the last ``size`` questions' vectors."""

    def __init__(self, inner, size: int = 4096):
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.cache: LRUCache[np.ndarray] = LRUCache(size)

    def embed_query(self, text: str) -> np.ndarray:
        vector = self.cache.get(text)
        if vector is None:
            vector = np.asarray(self.inner.embed_query(text), dtype=np.float32)
            vector.flags.writeable = False  # shared between requests: nobody may change it
            self.cache.put(text, vector)
        return vector

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_passages(texts)

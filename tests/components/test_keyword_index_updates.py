"""The keyword index follows the corpus per document, off the request path (issue 14)."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np

from app.components.keyword_index import KeywordIndex, chunk_tokens, keyword_index_for, tokenize

QUESTIONS = ["创新联合体给多少支持", "工业用地出让年限", "人才安居补贴申请条件", "研发投入奖励比例", "分期供地",
             "无人机物流试点航线补贴"]


def _policy(folder: Path, doc_id: str, body: str) -> Path:
    path = folder / f"{doc_id}.md"
    path.write_text(f"---\ndoc_id: {doc_id}\ntitle: 昆山市{doc_id}办法（测试）\ncategory: subsidy\nsample: true\n---\n"
                    f"{body}\n", encoding="utf-8")
    return path


def _bm25s_ranking(entries, query: str, k: int = 10) -> list[str]:
    """The library the index replaced, over the same tokens: the reference ranking."""
    import bm25s

    ids = [cid for cid, _, _ in entries]
    model = bm25s.BM25()
    model.index([chunk_tokens(meta, text or "") for _, meta, text in entries], show_progress=False)
    known = [t for t in tokenize(query) if t in model.vocab_dict]
    if not known:
        return []
    scores = model.get_scores(known)
    order = [i for i in np.argsort(-scores, kind="stable") if scores[i] > 0]
    return [ids[i] for i in order[:k]]


def test_scores_rank_like_bm25s(small_services):
    services = small_services
    entries = list(services.ingest.serving_entries())
    keywords = services.keywords
    for question in QUESTIONS:
        ours = [hit.id for hit in keywords.search(tokenize(question), k=10)]
        assert ours == _bm25s_ranking(entries, question), question
    for token in ("用地", "补贴", "办法"):
        df = sum(token in chunk_tokens(meta, text or "") for _, meta, text in entries)
        assert df and keywords.idf(token) == math.log(1 + (len(entries) - df + 0.5) / (df + 0.5))
    assert keywords.idf("从未出现的词") == 0.0


def test_add_replace_and_remove_a_document_without_a_full_build(small_services, tmp_path):
    services = small_services
    keywords = services.keywords
    folder = tmp_path / "extra"
    folder.mkdir()
    builds = keywords.full_builds
    path = _policy(folder, "ks-drone-route", "第一条 对开通无人机物流试点航线的企业，每条航线给予一次性补贴80万元。")
    services.ingest.sync([folder])
    assert keywords.catch_up() is True
    hits = keywords.search(tokenize("无人机物流试点航线"), k=3)
    assert hits and hits[0].id.startswith("ks-drone-route::")
    old_id = hits[0].id
    assert keywords.mentions("无人机") and keywords.contains(old_id)
    assert keywords.entry(old_id)[1].endswith("80万元。")

    _policy(folder, "ks-drone-route", "第一条 对开通无人机物流试点航线的企业，每条航线给予一次性补贴120万元。")
    services.ingest.sync([folder])
    keywords.catch_up()
    hits = keywords.search(tokenize("无人机物流试点航线"), k=3)
    assert hits[0].id != old_id and "120万元" in keywords.entry(hits[0].id)[1]
    assert not keywords.contains(old_id) and keywords.entry(old_id) is None

    path.unlink()
    services.ingest.sync([folder])
    keywords.catch_up()
    assert keywords.search(tokenize("无人机物流试点航线"), k=3) == [] or not any(
        h.id.startswith("ks-drone-route::") for h in keywords.search(tokenize("无人机物流试点航线"), k=3))
    assert not keywords.mentions("无人机")
    assert keywords.full_builds == builds  # three changes, no rebuild
    assert keywords.updated_documents == 2

    # The same answers as an index built from scratch over what is served now.
    fresh = KeywordIndex(services.ingest.serving_entries, services.ingest.registry.generation)
    fresh.refresh(force=True)
    for question in QUESTIONS:
        assert [h.id for h in keywords.search(tokenize(question), 10)] == [h.id for h in fresh.search(tokenize(question), 10)]
        assert keywords.size == fresh.size


def test_searches_are_answered_while_an_update_is_loading(small_services, tmp_path):
    """The update runs in the background thread; a search meanwhile uses the index as it stands."""
    services = small_services
    settings = services.settings.model_copy(update={"keyword_refresh_seconds": 0.001})
    keywords = keyword_index_for(services.ingest, settings)
    keywords.refresh(force=True)
    entered, release = threading.Event(), threading.Event()
    load = keywords._load_document

    def slow_load(doc_id):
        entered.set()
        assert release.wait(60)
        return load(doc_id)

    keywords._load_document = slow_load
    folder = tmp_path / "extra"
    folder.mkdir()
    _policy(folder, "ks-drone-route", "第一条 对开通无人机物流试点航线的企业，每条航线给予一次性补贴80万元。")
    services.ingest.sync([folder])
    try:
        keywords.refresh()  # wakes the background thread and returns
        assert entered.wait(60), keywords.last_error
        # The update is stuck inside the loader: searches still answer, from the old index.
        assert keywords.search(tokenize("无人机物流试点航线"), k=3) == []
        assert keywords.search(tokenize("工业用地出让"), k=3)
    finally:
        release.set()
    keywords._update_lock.acquire()  # the background update has finished once this is free
    keywords._update_lock.release()
    keywords.refresh(force=False)
    hits = keywords.search(tokenize("无人机物流试点航线"), k=3)
    assert hits and hits[0].id.startswith("ks-drone-route::")
    keywords.close()


def test_compaction_keeps_results(small_services):
    services = small_services
    keywords = services.keywords
    index = keywords._index
    before = {q: [(h.id, round(h.score, 4)) for h in keywords.search(tokenize(q), 10)] for q in QUESTIONS}
    doc_id = next(iter(index.docs))
    with index.lock:
        index.remove_document(doc_id)
    removed = {q: [(h.id, round(h.score, 4)) for h in keywords.search(tokenize(q), 10)] for q in QUESTIONS}
    compact = index.compacted()
    assert compact.dead == 0 and compact.live == index.live and len(compact.ids) < len(index.ids)
    keywords._index = compact
    after = {q: [(h.id, round(h.score, 4)) for h in keywords.search(tokenize(q), 10)] for q in QUESTIONS}
    assert after == removed
    assert all(not h[0].startswith(doc_id + "::") for hits in after.values() for h in hits)
    assert before != removed

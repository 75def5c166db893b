"""Dense hits take their text and metadata from the keyword index (issue 14: Chroma spent most of a
query reading them); they must be exactly what Chroma stores, and a chunk the index does not hold
is read from Chroma."""

from __future__ import annotations

from dataclasses import replace

from app.components.keyword_index import KeywordIndex

QUESTIONS = ("昆山对省级创新联合体给多少支持？", "人才购房补贴怎么申请？", "工业用地可以分期供应吗？")


def _as_tuples(hits):
    return [(h.id, h.text, h.metadata, round(h.score, 6)) for h in hits]


def test_dense_hits_are_chromas_own_text_and_metadata(small_services):
    retriever = small_services.retriever
    for question in QUESTIONS:
        vector = retriever.embedder.embed_query(question)
        expected = small_services.store.query(vector, k=20)
        assert len(expected) == 20
        assert _as_tuples(retriever._dense(vector, 20)) == _as_tuples(expected)


def test_chunks_missing_from_the_keyword_index_are_read_from_chroma(small_services):
    empty = KeywordIndex(lambda: iter(()), lambda: 0, check_interval=0.0)
    empty.refresh(force=True)
    retriever = replace(small_services.retriever, keywords=empty)
    vector = retriever.embedder.embed_query(QUESTIONS[0])
    assert _as_tuples(retriever._dense(vector, 10)) == _as_tuples(small_services.store.query(vector, k=10))
    empty.close()

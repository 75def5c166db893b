"""The FastAPI app over a small, really ingested corpus: health, readiness, the document list."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from app.main import Services, create_app

DOC_BOND = """---
doc_id: app-bond
title: 工业用地履约保证金管理办法（测试）
doc_number: 昆自然资规〔2024〕3号
issuer: 昆山市自然资源和规划局
published: 2024-06-20
expires: 2027-06-19
category: land
url: https://www.ks.gov.cn/example/bond.html
sample: true
---

第一条 为督促工业用地受让人全面履行土地出让合同，制定本办法。

第二条 履约保证金按土地出让总价款的20%缴纳，最低不少于50万元。
"""

DOC_OLD = """---
doc_id: app-old-subsidy
title: 已过期的研发补贴办法（测试）
issuer: 昆山市科学技术局
published: 2019-01-01
expires: 2021-12-31
category: subsidy
---

第一条 对研发投入增长的企业给予补贴，最高50万元。
"""


@pytest.fixture
def app_services(make_settings, make_corpus, embedder):
    corpus = make_corpus(files={"bond.md": DOC_BOND, "old.md": DOC_OLD})
    settings = make_settings(corpus_dir=corpus)
    services = Services.build(settings, embedder=embedder)
    report = services.ingest.sync([corpus])
    assert not report.failed, report.failed
    return settings, services


def test_health_readiness_and_documents(app_services):
    settings, services = app_services
    with TestClient(create_app(settings, services)) as client:
        health = client.get("/healthz")
        assert health.status_code == 200 and health.json() == {"status": "ok"}

        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json() == {"status": "ok",
                                "checks": {"index": "ok", "database": "ok", "state": "ok", "disk": "ok"}}

        listed = client.get("/api/documents")
        assert listed.status_code == 200
        docs = {d["doc_id"]: d for d in listed.json()}
        assert set(docs) == {"app-bond", "app-old-subsidy"}
        bond = docs["app-bond"]
        assert bond == {
            "doc_id": "app-bond", "title": "工业用地履约保证金管理办法（测试）", "doc_number": "昆自然资规〔2024〕3号",
            "issuer": "昆山市自然资源和规划局", "published": "2024-06-20", "expires": "2027-06-19",
            "expired": dt.date.today() > dt.date(2027, 6, 19), "category": "land",
            "url": "https://www.ks.gov.cn/example/bond.html", "source": "bond.md", "sample": True,
            "chunk_count": 2, "status": "active", "version": 1,
        }
        old = docs["app-old-subsidy"]
        assert old["expired"] is True and old["expires"] == "2021-12-31"
        assert old["sample"] is False and old["doc_number"] is None and old["url"] is None

        land = client.get("/api/documents", params={"category": "land"})
        assert [d["doc_id"] for d in land.json()] == ["app-bond"]
        assert client.get("/api/documents", params={"category": "talent"}).json() == []


def test_removed_document_leaves_the_list(app_services):
    settings, services = app_services
    services.ingest.remove("app-old-subsidy")
    with TestClient(create_app(settings, services)) as client:
        assert [d["doc_id"] for d in client.get("/api/documents").json()] == ["app-bond"]


def test_app_builds_its_own_services_from_settings(make_settings, make_corpus, embedder):
    """create_app without prebuilt services builds them at start-up (lifespan) from the settings."""
    corpus = make_corpus(files={"bond.md": DOC_BOND})
    settings = make_settings(corpus_dir=corpus)
    Services.build(settings, embedder=embedder).ingest.sync([corpus])
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 200
        assert [d["doc_id"] for d in client.get("/api/documents").json()] == ["app-bond"]

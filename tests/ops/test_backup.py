"""Backup and restore round trips on real backends: the sample index (embedded Chroma + SQLite)
goes into an archive and comes back on a Chroma server + PostgreSQL, answering the same."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
import tarfile
import uuid

import pytest

from app.main import Services
from app.ops.backup import BackupError, export_backup, restore_backup
from app.settings import Settings

QUESTIONS = ["高新技术企业认定有什么奖励？", "昆山对省级创新联合体给多少支持？", "企业开办需要多长时间？"]


def _ask(services: Services) -> list[tuple[bool, list[tuple[str, str, str]]]]:
    results = []
    for question in QUESTIONS:
        result = services.chat.answer(question)
        results.append((result.grounded, [(c["doc_id"], c["article"], c["chunk_id"]) for c in result.citations]))
    return results


@pytest.fixture
def source(tmp_path, full_corpus_index, embedder, sample_corpus_dir):
    data_dir = tmp_path / "source"
    shutil.copytree(full_corpus_index.data_dir, data_dir)
    settings = Settings(_env_file=None, data_dir=data_dir, corpus_dir=sample_corpus_dir)
    services = Services.build(settings, embedder=embedder)
    answers = _ask(services)
    first = services.chat.answer(QUESTIONS[0])
    services.conversations.add_feedback(first.message_id, "down", "没有说清楚申报时间")
    services.conversations.add_handoff(first.conversation_id, name="张先生", phone="13800000000", note="想咨询申报")
    return settings, services, answers


def test_round_trip_to_servers_answers_the_same(tmp_path, source, embedder, chroma_server, postgres_schema_url):
    src_settings, src_services, answers = source
    archive = tmp_path / "backup.tar.gz"
    summary = export_backup(src_settings, archive)
    assert summary.chunks == src_services.ingest.store.count()
    assert summary.files == len([r for r in src_services.ingest.registry.list(include_deleted=True) if r.path])
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert {"manifest.json", "chunks.jsonl", "tables/documents.jsonl", "tables/messages.jsonl",
            "tables/handoffs.jsonl"} <= set(names)

    dst = Settings(_env_file=None, data_dir=tmp_path / "target", corpus_dir=tmp_path / "empty-corpus",
                   database_url=postgres_schema_url, chroma_url=chroma_server,
                   chroma_collection=f"restore_{uuid.uuid4().hex[:8]}")
    restored = restore_backup(dst, archive, embedder=embedder)
    assert not restored.reembedded
    assert restored.chunks == summary.chunks
    assert restored.tables["messages"] == summary.tables["messages"]

    services = Services.build(dst, embedder=embedder)
    assert _ask(services) == answers
    # Conversations, feedback and handoffs came along; new rows still get fresh ids (sequences moved).
    assert [h.name for h in services.conversations.handoffs()] == ["张先生"]
    first_doc = services.ingest.registry.list()[0]
    assert first_doc.path.startswith(str(dst.data_dir / "restored"))
    assert services.conversations.add_handoff(services.conversations.start_turn(None, "你好")[0], note="新的") > 1

    # A second restore into the now non-empty deployment is refused and changes nothing.
    count = services.ingest.store.count()
    with pytest.raises(BackupError, match="不是空的"):
        restore_backup(dst, archive, embedder=embedder)
    assert services.ingest.store.count() == count


def test_restore_with_another_model_reembeds(tmp_path, source, st_embedder):
    src_settings, src_services, _ = source
    archive = tmp_path / "backup.tar.gz"
    export_backup(src_settings, archive)
    dst = Settings(_env_file=None, data_dir=tmp_path / "target", embedding_backend="sentence-transformers",
                   embedding_model="unused-here")
    summary = restore_backup(dst, archive, embedder=st_embedder)
    assert summary.reembedded
    services = Services.build(dst, embedder=st_embedder)
    assert services.ingest.store.count() == src_services.ingest.store.count()
    assert services.ingest.store.model_name == st_embedder.name
    hits = services.retriever.candidates("high-tech enterprise")
    assert hits, "the re-embedded index answers queries"


def test_cli_round_trip_and_bad_archive(tmp_path, source):
    src_settings, _, _ = source
    archive = tmp_path / "cli.tar.gz"
    env_src = _env(src_settings.data_dir)
    out = subprocess.run([sys.executable, "-m", "app.ops.backup", "export", str(archive)], env=env_src,
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "已导出" in out.stdout and archive.exists()

    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not a tar file")
    out = subprocess.run([sys.executable, "-m", "app.ops.backup", "restore", str(broken)],
                         env=_env(tmp_path / "fresh"), cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 1
    assert "无法读取备份文件" in out.stderr


def _env(data_dir):
    import os

    from tests.conftest import cli_env

    env = cli_env(data_dir)
    env.pop("KUNRUYI_CORPUS_DIR", None)
    return {k: v for k, v in {**os.environ, **env}.items() if not (k.startswith("KUNRUYI_") and k not in env)}


def test_backup_keeps_staff_jobs_audit_log_and_uploaded_originals(tmp_path, make_settings, make_corpus, embedder):
    """Issue 12, items 14 and 16: the export used to collect only the tables its own imports had loaded
    (no admin_jobs, no admin_audit), and an upload whose file was on another machine's disk was skipped."""
    from app.admin.auth import Principal
    from ingest.pipeline import build_ingest_service
    from tests.ops.conftest import SMALL_CORPUS

    settings = make_settings()
    build_ingest_service(settings, embedder=embedder).sync([make_corpus(*SMALL_CORPUS)])
    services = Services.build(settings, embedder=embedder)
    alice = Principal("alice", "editor")
    services.admin.audit.record(alice.name, alice.role, "delete", doc_id="ks-enterprise-startup", detail={"x": 1})
    job = services.admin.jobs.store.create("reindex", [], alice, "some-host:1:abc")
    stored = services.admin.documents.files.save("# 上传的文件\n\n第一条 内容。\n".encode(), ".md")
    stored.unlink()  # the machine that received it is gone; the database still has it
    with services.ingest.registry.session_factory.begin() as session:  # a document pointing at it
        from app.components.registry import DocumentRow
        session.get(DocumentRow, "ks-enterprise-startup").path = str(stored)

    archive = tmp_path / "backup.tar.gz"
    summary = export_backup(settings, archive)
    assert summary.tables["admin_jobs"] == 1 and summary.tables["admin_audit"] == 1
    assert summary.tables["stored_files"] == 1 and summary.missing_files == []
    with tarfile.open(archive) as tar:
        assert f"files/ks-enterprise-startup/{stored.name}" in tar.getnames()

    target = Settings(_env_file=None, data_dir=tmp_path / "target", corpus_dir=tmp_path / "empty")
    restore_backup(target, archive, embedder=embedder)
    restored = Services.build(target, embedder=embedder)
    assert [j.id for j in restored.admin.jobs.store.recent()] == [job.id]
    entries = restored.admin.audit.entries()
    assert [(e.actor, e.action, e.doc_id, e.detail) for e in entries] == [
        ("alice", "delete", "ks-enterprise-startup", {"x": 1})]
    assert restored.admin.documents.files.read(stored.name) == "# 上传的文件\n\n第一条 内容。\n".encode()


def _one_row(table, parents: dict[str, dict], data_dir) -> dict:
    """A row with a value in every column, of the column's type (foreign keys point at the parent's row)."""
    from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, Float, Integer, LargeBinary, String, Text

    row = {}
    for column in table.columns:
        fk = next(iter(column.foreign_keys), None)
        kind = column.type
        if fk is not None:
            value = parents[fk.column.table.name][fk.column.name]
        elif isinstance(kind, DateTime):
            value = dt.datetime(2026, 1, 2, 3, 4, 5)
        elif isinstance(kind, Date):
            value = dt.date(2026, 1, 2)
        elif isinstance(kind, Boolean):
            value = True
        elif isinstance(kind, (Integer, BigInteger)):
            value = 7
        elif isinstance(kind, Float):
            value = 1.5
        elif isinstance(kind, JSON):
            value = {"键": [1, "值"]}
        elif isinstance(kind, LargeBinary):
            value = b"\x00\x01" + "原件".encode()
        elif isinstance(kind, (String, Text)):
            value = f"{table.name}.{column.name}·值"[: getattr(kind, "length", None) or 100]
        else:
            raise AssertionError(f"no sample value for {table.name}.{column.name} ({kind!r})")
        row[column.name] = value
    if table.name == "documents":  # an original on disk: the archive carries it, restore moves it
        original = data_dir / "originals" / "policy.md"
        original.parent.mkdir(parents=True, exist_ok=True)
        original.write_text("# 文件\n\n第一条 内容。\n", encoding="utf-8")
        row["path"] = str(original)
    return row


def _all_rows(settings) -> dict[str, list[dict]]:
    from sqlalchemy import select

    from app.components.database import create_db_engine
    from app.schema import metadata

    engine = create_db_engine(settings)
    with engine.connect() as conn:
        rows = {t.name: [dict(r._mapping) for r in conn.execute(select(t))] for t in metadata.sorted_tables}
    engine.dispose()
    return rows


def test_cli_round_trip_keeps_every_row_of_every_table(tmp_path, embedder):
    """Issue 13: backups are driven by the table registry (app.schema). One row in every table goes out
    with ``python -m app.ops.backup export`` and comes back with ``restore``, both run as commands."""
    import json

    from app.components.database import create_db_engine, create_session_factory
    from app.components.vector_store import ChromaStore
    from app.schema import metadata

    source = Settings(_env_file=None, data_dir=tmp_path / "source")
    engine = create_db_engine(source)
    create_session_factory(engine)
    ChromaStore(source, embedder.name, embedder.dimension)  # the (empty) collection a deployment has
    written: dict[str, dict] = {}
    with engine.begin() as conn:
        for table in metadata.sorted_tables:  # parents first
            written[table.name] = _one_row(table, written, source.data_dir)
            conn.execute(table.insert(), written[table.name])
    engine.dispose()
    before = _all_rows(source)
    assert all(len(rows) == 1 for rows in before.values()) and set(before) == set(metadata.tables)

    archive = tmp_path / "every-table.tar.gz"
    out = subprocess.run([sys.executable, "-m", "app.ops.backup", "export", str(archive)], env=_env(source.data_dir),
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
        assert {f"tables/{name}.jsonl" for name in metadata.tables} <= set(tar.getnames())
        assert "files/documents.doc_id·值/policy.md" in tar.getnames()
    assert manifest["tables"] == {name: 1 for name in metadata.tables}

    target = Settings(_env_file=None, data_dir=tmp_path / "target")
    out = subprocess.run([sys.executable, "-m", "app.ops.backup", "restore", str(archive)], env=_env(target.data_dir),
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "已恢复" in out.stdout
    after = _all_rows(target)
    restored_path = after["documents"][0].pop("path")
    assert restored_path.startswith(str(target.data_dir / "restored")) and restored_path.endswith("policy.md")
    before["documents"][0].pop("path")
    # The restore moves the index generation on, so that every worker reloads: that row is new.
    assert [r for r in after.pop("counters") if r["name"] != "index_generation"] == before.pop("counters")
    assert after == before

"""Backup and restore round trips on real backends: the sample index (embedded Chroma + SQLite)
goes into an archive and comes back on a Chroma server + PostgreSQL, answering the same."""

from __future__ import annotations

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
    assert services.conversations.add_handoff(services.conversations.open(None), note="新的") > 1

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

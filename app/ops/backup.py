"""Backup and restore: ``python -m app.ops.backup export FILE`` / ``restore FILE``.

The archive (tar.gz) holds everything a deployment cannot recompute cheaply:

- ``manifest.json``: format version, time, embedding model, data dir, row and chunk counts;
- ``tables/<table>.jsonl``: every SQL table (documents and their versions, conversations,
  messages, feedback, handoffs, staff jobs, audit log, stored uploads ...), one JSON object per row
  (binary columns as ``{"$base64": ...}``); the tables are those of the registry app.schema;
- ``files/...``: the source file (and sidecar) of every document the registry knows (an upload
  received by another machine is taken from the database; a file found nowhere is reported);
- ``chunks.jsonl``: every chunk in Chroma with its text, metadata and vector.

Restore writes into an EMPTY deployment (it refuses otherwise), which may use other backends
than the source: SQLite -> PostgreSQL and embedded Chroma -> Chroma server is the supported way
to move from the one-machine defaults to servers. Vectors are reused when the embedding model
is the same; with another model every chunk is embedded again.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import io
import json
import logging
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

import numpy as np
from sqlalchemy import Date, DateTime, Engine, LargeBinary, Table, func, select

from app.components.database import create_db_engine, create_session_factory, upgrade_schema
from app.errors import KunruyiError
from app.schema import metadata
from app.settings import Settings, get_settings

log = logging.getLogger(__name__)
FORMAT_VERSION = 1
CHUNK_BATCH = 256


class BackupError(KunruyiError):
    status_code = 400
    code = "backup_error"


@dataclass
class BackupSummary:
    tables: dict[str, int]
    files: int
    chunks: int
    reembedded: bool = False
    missing_files: list[str] | None = None  # documents whose original was found neither on disk nor in the database


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$base64": base64.b64encode(bytes(value)).decode("ascii")}
    return value


def _restore_value(table: Table, column: str, value: Any) -> Any:
    if value is None:
        return None
    col_type = table.c[column].type
    if isinstance(col_type, DateTime):
        return dt.datetime.fromisoformat(value)
    if isinstance(col_type, Date):
        return dt.date.fromisoformat(value)
    if isinstance(col_type, LargeBinary) and isinstance(value, dict):
        return base64.b64decode(value["$base64"])
    return value


def _tables(engine: Engine) -> list[Table]:
    upgrade_schema(engine)  # the database at the newest revision: every table of app.schema exists
    return list(metadata.sorted_tables)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(dt.datetime.now().timestamp())
    tar.addfile(info, io.BytesIO(data))


def _jsonl(rows: Iterator[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")


def _sidecars(path: Path) -> list[Path]:
    return [p for p in (path.with_name(path.name + ".meta.yaml"), path.with_name(path.name + ".meta.yml")) if p.exists()]


def export_backup(settings: Settings, target: Path, *, store=None) -> BackupSummary:
    """Write the archive; reads only (safe while the service runs)."""
    from app.components.vector_store import ChromaStore, connect

    engine = create_db_engine(settings)
    tables = _tables(engine)
    counts: dict[str, int] = {}
    files = 0
    missing: list[str] = []
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    with tarfile.open(tmp, "w:gz") as tar, engine.connect() as conn:
        documents: list[dict[str, Any]] = []
        stored_rows: list[dict[str, Any]] = []
        for table in tables:
            rows = [{k: _jsonable(v) for k, v in row._mapping.items()} for row in conn.execute(select(table))]
            counts[table.name] = len(rows)
            _add_bytes(tar, f"tables/{table.name}.jsonl", _jsonl(iter(rows)))
            if table.name == "documents":
                documents = rows
            elif table.name == "stored_files":
                stored_rows = rows
        stored = {r["name"]: r["data"]["$base64"] for r in stored_rows}
        for row in documents:
            path = Path(row["path"]) if row.get("path") else None
            if path is None:
                continue
            if path.is_file():
                for item in [path, *_sidecars(path)]:
                    tar.add(item, arcname=f"files/{row['doc_id']}/{item.name}")
            elif path.name in stored:  # an upload another machine received
                _add_bytes(tar, f"files/{row['doc_id']}/{path.name}", base64.b64decode(stored[path.name]))
            else:
                missing.append(row["doc_id"])
                log.warning("backup: the original of %s (%s) is on no disk here and not in the database",
                            row["doc_id"], path)
                continue
            files += 1
        if store is None:
            client = connect(settings)
            collection = client.get_collection(settings.chroma_collection)
            meta = collection.metadata or {}
            store = ChromaStore(settings, meta.get("embedding_model", ""), int(meta.get("embedding_dim", 0) or 0),
                                client=client)
        chunks = list(store.export_entries())
        _add_bytes(tar, "chunks.jsonl", _jsonl(
            {"id": i, "embedding": e, "document": d, "metadata": m} for i, e, d, m in chunks))
        manifest = {
            "format": FORMAT_VERSION, "created": dt.datetime.now(dt.timezone.utc).isoformat(),
            "embedding_model": store.model_name, "embedding_dim": store.dimension,
            "data_dir": str(settings.data_dir.resolve()), "tables": counts, "files": files, "chunks": len(chunks),
            "missing_files": missing,
        }
        _add_bytes(tar, "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8"))
    tmp.replace(target)
    return BackupSummary(tables=counts, files=files, chunks=len(chunks), missing_files=missing)


def _member_text(tar: tarfile.TarFile, name: str) -> str:
    member = tar.extractfile(name)
    if member is None:
        raise BackupError(f"备份文件缺少 {name}")
    return member.read().decode("utf-8")


def _safe_member_path(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise BackupError(f"备份文件中有不安全的路径：{name}")
    return path


def restore_backup(settings: Settings, source: Path, *, embedder=None) -> BackupSummary:
    """Restore into an empty deployment described by ``settings``."""
    from app.components.embeddings import create_embedder
    from app.components.registry import DocumentRegistry
    from app.components.vector_store import ChromaStore

    embedder = embedder or create_embedder(settings)
    store = ChromaStore(settings, embedder.name, embedder.dimension)
    engine = create_db_engine(settings)
    tables = _tables(engine)
    with engine.connect() as conn:
        filled = [t.name for t in tables if t.name in ("documents", "conversations")
                  and conn.execute(select(func.count()).select_from(t)).scalar()]
    if filled or store.count():
        raise BackupError("目标部署不是空的（已有文档、会话或索引），为避免覆盖数据，拒绝恢复。请使用新的数据目录或空数据库。")
    try:
        tar = tarfile.open(source, "r:gz")
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"无法读取备份文件 {source}：{exc}") from exc
    with tar:
        manifest = json.loads(_member_text(tar, "manifest.json"))
        if manifest.get("format") != FORMAT_VERSION:
            raise BackupError(f"不支持的备份格式版本：{manifest.get('format')}")
        old_data_dir = Path(manifest["data_dir"])
        new_paths = _restore_files(tar, settings, old_data_dir)
        counts = _restore_tables(tar, engine, tables, new_paths)
        chunks, reembedded = _restore_chunks(tar, embedder, store, manifest)
    DocumentRegistry(create_session_factory(engine)).bump_generation()  # every worker reloads its indexes
    return BackupSummary(tables=counts, files=len(new_paths), chunks=chunks, reembedded=reembedded)


def _restore_files(tar: tarfile.TarFile, settings: Settings, old_data_dir: Path) -> dict[str, str]:
    """Files go back under the data dir: ``restored/<doc_id>/<name>``. Returns doc_id -> new path."""
    placed: dict[str, str] = {}
    root = settings.data_dir / "restored"
    for member in tar.getmembers():
        if not member.name.startswith("files/") or not member.isfile():
            continue
        rel = _safe_member_path(member.name)
        doc_id, name = rel.parts[1], rel.parts[-1]
        target = root / doc_id / name
        target.parent.mkdir(parents=True, exist_ok=True)
        with tar.extractfile(member) as data:  # type: ignore[union-attr]
            target.write_bytes(data.read())
        if not name.endswith((".meta.yaml", ".meta.yml")):
            placed[doc_id] = str(target)
    return placed


def _restore_tables(tar: tarfile.TarFile, engine: Engine, tables: list[Table],
                    new_paths: dict[str, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    names = set(tar.getnames())
    with engine.begin() as conn:
        for table in tables:  # sorted by foreign keys: parents first
            member = f"tables/{table.name}.jsonl"
            if member not in names:
                continue
            rows = []
            for line in _member_text(tar, member).splitlines():
                raw = json.loads(line)
                row = {k: _restore_value(table, k, v) for k, v in raw.items() if k in table.c}
                if table.name == "documents" and row.get("path"):
                    row["path"] = new_paths.get(row["doc_id"], row["path"])
                rows.append(row)
            for start in range(0, len(rows), 500):
                conn.execute(table.insert(), rows[start:start + 500])
            counts[table.name] = len(rows)
    _reset_sequences(engine, tables)
    return counts


def _reset_sequences(engine: Engine, tables: list[Table]) -> None:
    """PostgreSQL: move serial sequences past the restored ids, so new rows do not collide."""
    if engine.dialect.name != "postgresql":
        return
    with engine.begin() as conn:
        for table in tables:
            for column in table.primary_key.columns:
                if column.autoincrement is True or (column.autoincrement == "auto" and column.type.python_type is int):
                    seq = conn.exec_driver_sql(
                        "SELECT pg_get_serial_sequence(%s, %s)", (table.name, column.name)).scalar()
                    if seq:
                        conn.exec_driver_sql(
                            f"SELECT setval('{seq}', COALESCE((SELECT MAX({column.name}) FROM {table.name}), 0) + 1, false)")


def _restore_chunks(tar: tarfile.TarFile, embedder, store, manifest: dict[str, Any]) -> tuple[int, bool]:
    same_model = (manifest.get("embedding_model") == embedder.name
                  and int(manifest.get("embedding_dim") or 0) == embedder.dimension)
    entries = [json.loads(line) for line in _member_text(tar, "chunks.jsonl").splitlines() if line.strip()]
    for start in range(0, len(entries), CHUNK_BATCH):
        batch = entries[start:start + CHUNK_BATCH]
        if same_model:
            vectors = np.asarray([e["embedding"] for e in batch], dtype=np.float32)
        else:
            vectors = embedder.embed_passages([_embedding_text(e) for e in batch])
        store.upsert(ids=[e["id"] for e in batch], embeddings=vectors,
                             documents=[e["document"] for e in batch], metadatas=[e["metadata"] for e in batch])
    return len(entries), not same_model


def _embedding_text(entry: dict[str, Any]) -> str:
    """The text ingestion embedded (see ingest.chunking.embedding_text), rebuilt from chunk metadata."""
    meta, text = entry["metadata"], entry["document"]
    context = " > ".join(p for p in (meta.get("title", ""), meta.get("heading_path", "")) if p)
    return f"{context}\n{text}" if context else text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.ops.backup",
                                     description="Export or restore corpus files, registry, conversations and index.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("export", help="write a backup archive").add_argument("file", type=Path)
    sub.add_parser("restore", help="restore an archive into an empty deployment").add_argument("file", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    settings = get_settings()
    try:
        if args.command == "export":
            summary = export_backup(settings, args.file)
            print(f"已导出：{summary.files} 个文件，{summary.chunks} 个片段，"
                  f"{sum(summary.tables.values())} 行数据 -> {args.file}")
            if summary.missing_files:
                print(f"警告：{len(summary.missing_files)} 个文档的原文件在本机和数据库中都找不到，未能备份："
                      f"{'、'.join(summary.missing_files)}", file=sys.stderr)
        else:
            summary = restore_backup(settings, args.file)
            note = "（嵌入模型不同，已重新向量化）" if summary.reembedded else ""
            print(f"已恢复：{summary.files} 个文件，{summary.chunks} 个片段{note}，"
                  f"{sum(summary.tables.values())} 行数据")
    except KunruyiError as exc:
        print(f"错误：{exc.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

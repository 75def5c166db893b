"""Uploaded originals, kept where every instance reaches them: a table in the SQL store.

Several machines share one database but not one disk. An upload used to live only on the disk of
the machine that received it, so a job or a re-index on another machine failed with 原文件不存在
and a backup taken elsewhere silently lacked the file (issue 12, item 16). Now every uploaded
file is stored as a row (``stored_files``: name, size, sha256, bytes) and also written to the local
``uploads`` folder as a cache; any instance that needs a file it does not have writes it back from
the row under the same name (``local_path``). The registry keeps recording a local path, as before.

An S3-compatible store is not implemented: with files capped at KUNRUYI_UPLOAD_MAX_MB (20 MB) and
staff uploads counted in hundreds, the database is the simpler shared place.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import logging
import os
import shutil
import uuid
from pathlib import Path

from sqlalchemy import DateTime, Integer, LargeBinary, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from app.components.orm import Base
from app.errors import KunruyiError

log = logging.getLogger(__name__)
DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class StorageFull(KunruyiError):
    """The server's disk (or the database) has no room for a file: nothing was kept."""

    status_code = 507
    code = "storage_full"


def disk_full_message() -> str:
    return "服务器存储空间不足，文件未保存。请联系系统管理员清理磁盘后重试"


class StoredFileRow(Base):
    __tablename__ = "stored_files"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)  # <uuid hex><suffix>, as in uploads/
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True),
                                                    default=lambda: dt.datetime.now(dt.timezone.utc))


def write_atomically(target: Path, data: bytes) -> None:
    """Write via ``<name>.part`` then rename; a full disk raises StorageFull and leaves no .part behind."""
    partial = target.with_name(target.name + ".part")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        partial.replace(target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        if exc.errno in DISK_FULL_ERRNOS:
            log.error("disk full writing %s: %s", target, exc)
            raise StorageFull(disk_full_message(), detail=str(exc)) from exc
        raise


class FileStore:
    def __init__(self, session_factory: sessionmaker, uploads_dir: Path):
        self._sessions = session_factory
        self.uploads_dir = Path(uploads_dir)

    def save(self, data: bytes, suffix: str) -> Path:
        """Keep an uploaded file (database row, then the local cache copy); returns the local path."""
        name = f"{uuid.uuid4().hex}{suffix}"
        with self._sessions.begin() as session:
            session.add(StoredFileRow(name=name, size=len(data), sha256=hashlib.sha256(data).hexdigest(), data=data))
        target = (self.uploads_dir / name).resolve()
        try:
            write_atomically(target, data)
        except Exception:
            self.forget(name)  # a refused upload leaves no row either
            raise
        return target

    def read(self, name: str) -> bytes | None:
        with self._sessions() as session:
            row = session.get(StoredFileRow, name)
        return None if row is None else row.data

    def forget(self, name: str) -> None:
        with self._sessions.begin() as session:
            session.execute(delete(StoredFileRow).where(StoredFileRow.name == name))

    def names(self) -> set[str]:
        with self._sessions() as session:
            return set(session.scalars(select(StoredFileRow.name)))

    def local_path(self, path: str | Path) -> Path:
        """``path`` when this machine has it; else the stored copy written back to this machine's
        uploads folder under the same name; else ``path`` unchanged (the caller reports it missing)."""
        path = Path(path)
        if path.is_file():
            return path
        data = self.read(path.name)
        if data is None:
            return path
        target = (self.uploads_dir / path.name).resolve()
        if not target.is_file():
            write_atomically(target, data)
            log.info("original %s restored from the database to %s", path.name, target)
        return target


class DiskLow(Exception):
    """Less free space than KUNRUYI_MIN_FREE_DISK_MB where the service writes."""


def check_free_space(settings) -> None:
    """Raise DiskLow when the data dir or the uploads folder (often another mount) is nearly full.

    A full disk makes SQLite writes, uploads and Chroma's embedded writes fail; /readyz reports it
    (503) so that the load balancer and the operator know before citizens do."""
    minimum = settings.min_free_disk_mb * 1024 * 1024
    seen: set[int] = set()
    for folder in (settings.data_dir, settings.uploads_dir):
        if not folder.exists():
            continue
        device = folder.stat().st_dev
        if device in seen:
            continue
        seen.add(device)
        free = shutil.disk_usage(folder).free
        if free < minimum:
            raise DiskLow(f"{folder} 仅剩 {free / 1024 / 1024:.1f} MB 可用（下限 {settings.min_free_disk_mb} MB）")

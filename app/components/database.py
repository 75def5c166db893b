"""SQL store: SQLite in the data dir by default, PostgreSQL when KUNRUYI_DATABASE_URL names one."""

from __future__ import annotations

import importlib
import logging
import time

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import DeclarativeBase, sessionmaker

from app.settings import Settings

log = logging.getLogger(__name__)

# Every module that defines tables. Schema creation and backups import them all, so that no table
# is forgotten (issue 12, item 14: backups missed the staff jobs and the audit log).
MODEL_MODULES = (
    "app.components.registry",
    "app.components.conversations",
    "app.components.shared_state",
    "app.components.file_store",
    "app.admin.jobs",
    "app.admin.audit",
    "app.facts.store",
    "app.curation.models",
    "app.pushes.models",
)
# Columns added to existing tables after their first release (create_all never adds columns).
# Each is nullable and added by create_schema when missing. (documents has its own list in registry.py.)
ADDED_COLUMNS: dict[str, tuple[str, ...]] = {
    "admin_jobs": ("heartbeat_at",),
}
# Any fixed number: the PostgreSQL advisory lock that serialises schema creation between processes.
_SCHEMA_LOCK = 7_514_202_611


class Base(DeclarativeBase):
    pass


def create_db_engine(settings: Settings) -> Engine:
    url = settings.sqlalchemy_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # With WAL, NORMAL keeps the database consistent after a crash and saves an fsync per
            # commit (a power cut may lose the last commits, never corrupt the file).
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    connect_args = {"connect_timeout": 10} if url.startswith("postgresql") else {}
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, pool_timeout=30,
                         connect_args=connect_args)


def import_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)


def create_schema(engine: Engine) -> None:
    """Create every missing table (and added column), safely when several processes start at once.

    ``python -m app`` calls it once before uvicorn starts its workers; every worker calls it again
    (through create_session_factory), which then finds nothing to do. On PostgreSQL an advisory lock
    makes concurrent calls take turns (two workers used to race: UniqueViolation on pg_type); on
    SQLite a concurrent "already exists" is retried.
    """
    import_models()
    for attempt in range(5):
        try:
            with engine.begin() as conn:
                if engine.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
                Base.metadata.create_all(conn)
                _add_columns(conn)
            return
        except (OperationalError, ProgrammingError) as exc:
            if engine.dialect.name != "sqlite" or "already exists" not in str(exc.orig) or attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))


def _add_columns(conn) -> None:
    inspector = inspect(conn)
    for table_name, columns in ADDED_COLUMNS.items():
        present = {c["name"] for c in inspector.get_columns(table_name)}
        table = Base.metadata.tables[table_name]
        for name in columns:
            if name not in present:
                ddl = table.c[name].type.compile(dialect=conn.dialect)
                conn.execute(text(f"ALTER TABLE {table_name} ADD COLUMN {name} {ddl}"))
                log.info("schema: added column %s.%s", table_name, name)


def create_session_factory(engine: Engine) -> sessionmaker:
    create_schema(engine)
    return sessionmaker(engine, expire_on_commit=False)

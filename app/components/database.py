"""SQL store: SQLite in the data dir by default, PostgreSQL when KUNRUYI_DATABASE_URL names one.

The tables are those of app.schema (the one registry of table modules). Their shape in a database is
kept by Alembic revisions (app/migrations/versions): ``upgrade_schema`` brings a database to the newest
revision. It runs at start (``python -m app`` before the workers start, then every worker through
create_session_factory, which then finds nothing to do) and by ``python -m app.ops.migrate upgrade``.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, create_engine, event, inspect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import sessionmaker

from app.schema import metadata
from app.settings import Settings

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
# The schema as the releases before migrations left it (create_all and two hand-written ALTER lists).
BASELINE = "0001"
# Any fixed number: the PostgreSQL advisory lock that serialises migrations between processes.
_SCHEMA_LOCK = 7_514_202_611


class SchemaError(RuntimeError):
    """The database cannot be brought to the current schema automatically."""


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
    engine = create_engine(url, pool_size=10, max_overflow=20, pool_timeout=30, connect_args=connect_args)
    _ping_when_idle(engine)
    return engine


IDLE_PING_SECONDS = 5.0


def _ping_when_idle(engine: Engine, clock=time.monotonic) -> None:
    """Test a pooled connection before use only when it has been idle for a while.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: one extra network round trip per
    transaction, two per chat answer. A connection used in the last few seconds is alive unless the
    server restarted in those seconds; an idle one is pinged, and a dead one is replaced before the
    request sees it (DisconnectionError makes the pool retry with a new connection).
    """

    @event.listens_for(engine, "checkin")
    def _used(_dbapi_conn, record):
        record.info["last_used"] = clock()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn, record, _proxy):
        last = record.info.get("last_used")
        if last is None or clock() - last < IDLE_PING_SECONDS:
            return  # a new connection, or one in use a moment ago
        try:
            cursor = dbapi_conn.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            dbapi_conn.rollback()  # leave no transaction open behind the ping
        except Exception as exc:  # noqa: BLE001 - any failure means the connection is gone
            raise DisconnectionError(f"pooled connection is gone: {exc}") from exc


# -- migrations ---------------------------------------------------------------------------------

def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration, built in code (the migrations ship inside the package, no alembic.ini)."""
    config = Config(stdout=sys.stdout)  # the current stdout (Alembic's default is the one at its import)
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection  # app/migrations/env.py runs on this connection
    return config


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    return _scripts().get_current_head()


def current_revision(conn: Connection) -> str | None:
    """The revision recorded in the database (None: never migrated, or empty)."""
    return MigrationContext.configure(conn).get_current_revision()


def upgrade_schema(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision``, safely when several processes start at once.

    A database already at head costs one cheap read. Otherwise the work runs in one transaction that
    holds a lock: PostgreSQL's advisory lock, SQLite's write lock (BEGIN IMMEDIATE), so concurrent
    starts take turns and the later ones find nothing to do. A database created before migrations
    existed (tables, no alembic_version) is adopted: stamped at the baseline, then upgraded.
    """
    target = head_revision() if revision == "head" else revision
    with engine.connect() as conn:
        if current_revision(conn) == target:
            return
    with _locked_transaction(engine) as conn:
        if current_revision(conn) is None and set(inspect(conn).get_table_names()) & set(metadata.tables):
            _adopt(conn)
        command.upgrade(alembic_config(conn), revision)


@contextmanager
def _locked_transaction(engine: Engine) -> Iterator[Connection]:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
        elif engine.dialect.name == "sqlite":
            # pysqlite starts no transaction for DDL by itself; this one makes the migration atomic too.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn


def _baseline_metadata() -> MetaData:
    """The tables as the baseline revision creates them (frozen there; models may move on)."""
    return _scripts().get_revision(BASELINE).module.metadata


def _adopt(conn: Connection) -> None:
    """Stamp a database created by a release before migrations at the baseline revision.

    Such a release created missing tables at every start and added its late columns by hand, so its
    database matches the baseline; tables it had not created yet are created here. A column missing
    from an existing table means a database older than those releases: refused, nothing is changed.
    """
    baseline = _baseline_metadata()
    inspector = inspect(conn)
    existing = set(inspector.get_table_names())
    missing = [f"{table.name}.{column.name}" for table in baseline.sorted_tables if table.name in existing
               for column in table.columns
               if column.name not in {c["name"] for c in inspector.get_columns(table.name)}]
    if missing:
        raise SchemaError("数据库由过旧的版本创建，缺少字段，无法自动升级："
                          f"{', '.join(missing)} (database older than the migration baseline)")
    baseline.create_all(conn)
    command.stamp(alembic_config(conn), BASELINE)
    log.warning("schema: adopted a database created before migrations (stamped %s, %d tables existed)",
                BASELINE, len(existing & set(baseline.tables)))


def create_session_factory(engine: Engine) -> sessionmaker:
    upgrade_schema(engine)
    return sessionmaker(engine, expire_on_commit=False)

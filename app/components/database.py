"""SQL store: SQLite in the data dir by default, PostgreSQL when KUNRUYI_DATABASE_URL names one."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, sessionmaker

from app.settings import Settings


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


def create_session_factory(engine: Engine) -> sessionmaker:
    # Import the models so that create_all knows every table.
    from app.components import conversations, registry, shared_state  # noqa: F401

    Base.metadata.create_all(engine)
    return sessionmaker(engine, expire_on_commit=False)

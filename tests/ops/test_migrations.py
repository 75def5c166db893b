"""Issue 13: the schema is kept by Alembic revisions (app/migrations), applied at start and by
``python -m app.ops.migrate``. On SQLite and PostgreSQL: a fresh database upgraded to head has exactly
the tables and columns of the models; a database created before migrations (create_all, and the
hand-written ALTERs of the releases before) is adopted; a second upgrade changes nothing."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, event, inspect, select, text
from sqlalchemy.orm import sessionmaker

from app.components.database import (BASELINE, SchemaError, alembic_config, create_db_engine, current_revision,
                                     head_revision, upgrade_schema)
from app.components.registry import DocumentRegistry
from app.schema import metadata
from app.settings import Settings
from tests.conftest import ROOT, cli_env


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        engine = create_db_engine(Settings(_env_file=None, data_dir=tmp_path / "data"))
    else:
        engine = create_engine(request.getfixturevalue("postgres_schema_url"))
    yield engine
    engine.dispose()


def _diffs(engine) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)


def _revision(engine) -> str | None:
    with engine.connect() as conn:
        return current_revision(conn)


def _ddl(engine, action) -> list[str]:
    """The schema-changing statements ``action`` sends to the database."""
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().split(" ", 1)[0].upper() in ("CREATE", "ALTER", "DROP", "INSERT", "UPDATE"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def test_a_fresh_database_upgraded_to_head_matches_the_models_and_a_second_upgrade_is_a_no_op(engine):
    assert _revision(engine) is None
    upgrade_schema(engine)
    assert _revision(engine) == head_revision()
    assert _diffs(engine) == []
    assert set(inspect(engine).get_table_names()) == set(metadata.tables) | {"alembic_version"}
    assert _ddl(engine, lambda: upgrade_schema(engine)) == []
    # Alembic itself, past the start-up shortcut, finds nothing to do either.
    from alembic import command

    def alembic_upgrade() -> None:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), "head")

    assert _ddl(engine, alembic_upgrade) == []
    assert _revision(engine) == head_revision()


def test_a_database_created_before_migrations_is_adopted_with_its_rows(engine):
    """Yesterday's start-up: create_all of the models, then the two ALTER lists on an older database."""
    metadata.create_all(engine)
    with engine.begin() as conn:  # yesterday's ALTERs ran on databases made before these columns existed
        conn.execute(text("ALTER TABLE documents DROP COLUMN active_hash"))
        conn.execute(text("ALTER TABLE admin_jobs DROP COLUMN heartbeat_at"))
        conn.execute(text("ALTER TABLE documents ADD COLUMN active_hash VARCHAR(64) NOT NULL DEFAULT ''"))
        heartbeat = metadata.tables["admin_jobs"].c.heartbeat_at.type.compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE admin_jobs ADD COLUMN heartbeat_at {heartbeat}"))
        conn.execute(metadata.tables["documents"].insert().values(
            doc_id="old-doc", title="旧文档", source="old.md", content_hash="abc", active_hash="abc", status="active",
            category="other", sample=False, format="md", version=1, chunk_count=3, text="正文",
            created_at=dt.datetime.now(dt.timezone.utc), updated_at=dt.datetime.now(dt.timezone.utc)))
    conn_tables = set(inspect(engine).get_table_names())
    assert "alembic_version" not in conn_tables and set(metadata.tables) <= conn_tables

    upgrade_schema(engine)
    assert _revision(engine) == head_revision()
    assert _diffs(engine) == []
    registry = DocumentRegistry(sessionmaker(engine))
    assert registry.serving_prefixes() == {"old-doc": "old-doc::abc::"}
    assert _ddl(engine, lambda: upgrade_schema(engine)) == []


def test_an_adopted_database_gets_the_tables_its_release_had_not_created_yet(engine):
    metadata.create_all(engine)
    metadata.tables["wechat_checkups"].drop(engine)  # a release before the 政策体检 feature
    upgrade_schema(engine)
    assert "wechat_checkups" in inspect(engine).get_table_names()
    assert _revision(engine) == head_revision() and _diffs(engine) == []


def test_a_database_older_than_the_baseline_is_refused_untouched(engine):
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE admin_jobs DROP COLUMN heartbeat_at"))
    with pytest.raises(SchemaError, match="admin_jobs.heartbeat_at"):
        upgrade_schema(engine)
    assert "alembic_version" not in inspect(engine).get_table_names()


def test_every_table_defined_in_app_is_in_the_registry():
    """Importing app.schema alone gives every table that any module of the app defines."""
    probe = (
        "import importlib, pkgutil, app, app.schema\n"
        "registered = set(app.schema.metadata.tables)\n"
        "for info in pkgutil.walk_packages(app.__path__, 'app.'):\n"
        "    if not info.name.endswith('__main__') and '.migrations' not in info.name:\n"
        "        importlib.import_module(info.name)\n"
        "from app.components.orm import Base\n"
        "print(sorted(set(Base.metadata.tables) - registered))\n"
        "print(len(registered))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    missing, count = out.stdout.split("\n")[:2]
    assert missing == "[]", f"tables defined outside app.schema.MODEL_MODULES: {missing}"
    assert int(count) == len(metadata.tables)


def test_several_processes_migrate_a_fresh_sqlite_database_at_once(tmp_path):
    """SQLite takes turns on its write lock (BEGIN IMMEDIATE), as PostgreSQL on its advisory lock
    (tests/ops/test_startup.py)."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    go = tmp_path / "go"
    start = (
        "import os, pathlib, sys, time\n"
        "from sqlalchemy import create_engine\n"
        "from app.components.database import upgrade_schema\n"
        "go = pathlib.Path(sys.argv[2])\n"
        "engine = create_engine(sys.argv[1], connect_args={'timeout': 60})\n"
        "(go.parent / f'ready-{os.getpid()}').write_text('')\n"
        "while not go.exists():\n"
        "    time.sleep(0.001)\n"
        "upgrade_schema(engine)\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", start, url, str(go)], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) for _ in range(4)]
    try:
        while len(list(tmp_path.glob("ready-*"))) < len(procs):
            assert all(p.poll() is None for p in procs), [p.stdout.read() for p in procs if p.poll() is not None]
            time.sleep(0.02)  # polling for the processes to get ready
        go.write_text("go")
        outputs = [(p.wait(timeout=120), p.stdout.read().decode(errors="replace")) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert [code for code, _ in outputs] == [0] * len(procs), outputs
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head_revision()]
    assert _diffs(engine) == []
    engine.dispose()


def test_migrate_cli_upgrades_and_reports(tmp_path, capsys):
    upgraded = subprocess.run([sys.executable, "-m", "app.ops.migrate", "upgrade"], cwd=tmp_path,
                              env=cli_env(tmp_path / "data"), capture_output=True, text=True, timeout=300)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.startswith(f"{head_revision()} ") and "head" in upgraded.stdout
    engine = create_db_engine(Settings(_env_file=None, data_dir=tmp_path / "data"))
    assert _revision(engine) == head_revision() and _diffs(engine) == []
    with engine.connect() as conn:
        assert conn.execute(select(metadata.tables["documents"].c.doc_id)).all() == []
    engine.dispose()

    from app.ops.migrate import main

    assert main(["history"]) == 0
    assert f"-> {BASELINE}" in capsys.readouterr().out

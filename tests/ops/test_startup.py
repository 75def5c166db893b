"""Start-up (issue 12, items 15 and 18): the schema is created once and safely when several processes
start on a fresh PostgreSQL; a failed start exits non-zero with several workers too; uvicorn's own
lines follow KUNRUYI_LOG_FORMAT=json."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, inspect

from tests.conftest import ROOT, free_port

# Each process does what a worker does at start (registry, staff jobs, audit log), all at the same moment.
WORKER_START = """
import os, pathlib, sys, time
from sqlalchemy import create_engine
from app.components.database import create_session_factory
from app.admin.audit import AuditLog
from app.admin.jobs import JobStore
go = pathlib.Path(sys.argv[2])
engine = create_engine(sys.argv[1])
with engine.connect() as conn:  # connected and imported before the start signal: only the DDL remains
    conn.exec_driver_sql("SELECT 1")
(go.parent / f"ready-{os.getpid()}").write_text("")
while not go.exists():
    time.sleep(0.001)
sessions = create_session_factory(engine)
AuditLog(sessions)
JobStore(sessions)
"""


def test_several_processes_create_the_schema_on_a_fresh_postgresql(tmp_path, postgres_schema_url):
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", WORKER_START, postgres_schema_url, str(go)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(6)]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("ready-*"))) < len(procs):  # every process connected and waiting
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "a process did not get ready"
        time.sleep(0.05)
    go.write_text("go")
    outputs = [(p.wait(timeout=120), p.stdout.read().decode(errors="replace")) for p in procs]
    failures = [out for code, out in outputs if code != 0]
    assert not failures, failures[0][-3000:]
    engine = create_engine(postgres_schema_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"admin_audit", "admin_jobs", "documents", "stored_files", "shared_state"} <= tables


def _env(data_dir: Path, **values: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("KUNRUYI_")}
    env.update({"KUNRUYI_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)})
    env.update({f"KUNRUYI_{k.upper()}": v for k, v in values.items()})
    return env


def test_a_failed_start_with_two_workers_exits_non_zero(tmp_path):
    closed = free_port()  # nothing listens here: every worker's start-up fails
    out = subprocess.run([sys.executable, "-m", "app"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env=_env(tmp_path / "data", workers="2", chroma_url=f"http://127.0.0.1:{closed}",
                                  port=str(free_port()), log_format="json"))
    assert out.returncode != 0, out.stderr[-3000:]


def test_an_unreachable_database_exits_non_zero_before_any_worker(tmp_path):
    closed = free_port()
    out = subprocess.run([sys.executable, "-m", "app"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env=_env(tmp_path / "data", database_url=f"postgresql+psycopg://x@127.0.0.1:{closed}/x",
                                  port=str(free_port())))
    assert out.returncode == 1, out.stderr[-3000:]
    assert "启动失败" in out.stderr and "Started server process" not in out.stderr


def test_uvicorn_lines_are_json_in_json_mode(tmp_path):
    port = free_port()
    log = tmp_path / "server.log"
    proc = subprocess.Popen([sys.executable, "-m", "app"], cwd=tmp_path, stdout=open(log, "wb"),
                            stderr=subprocess.STDOUT,
                            env=_env(tmp_path / "data", port=str(port), log_format="json"))
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)  # uvicorn re-raises the SIGTERM it handled
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    messages = []
    for line in lines:
        entry = json.loads(line)  # every line, uvicorn's included, is one JSON object
        messages.append((entry["logger"], entry["message"]))
    assert ("uvicorn.error", "Application startup complete.") in messages, messages
    assert any(m.startswith("Uvicorn running on") for _, m in messages), messages

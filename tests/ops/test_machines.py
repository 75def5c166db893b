"""Several machines on one database and Chroma server (issue 12, item 16): a machine dies in the middle
of indexing an upload it received. Its disk is gone with it. Another machine sees the job as
interrupted once the dead machine's lease runs out, retries it from the original kept in the
database, answers from it, and backs it up."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import time
import uuid

from fastapi.testclient import TestClient

from app.admin.auth import hash_token
from app.admin.jobs import LEASE_SECONDS
from app.main import Services, create_app
from app.ops.backup import export_backup
from app.settings import Settings
from tests.conftest import cli_env

TOKEN = "machines-editor-token"
EDITOR = {"Authorization": f"Bearer {TOKEN}"}
QUESTION = "萤火虫栖息地保护补贴每平方米补贴多少钱？"
FIREFLY = """# 昆山示例萤火虫栖息地保护补贴办法（测试）

第一条 为保护本市萤火虫栖息地，对在厂区内建设萤火虫栖息地的企业给予补贴。

第二条 萤火虫栖息地保护补贴标准为每平方米三百二十七元，单个企业最高补贴八万元。
"""

# Machine A: receives the upload through the staff service and dies between writing the chunks
# and activating them. Another host name in the job's owner, as on a real second machine.
MACHINE_A = """
import os, pathlib, sys, time
import app.admin.jobs as jobs
jobs.PROCESS_OWNER = "machine-a:4242:0badc0de"
from app.admin.auth import Principal
from app.main import Services
from app.settings import Settings

marker, text = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]).read_bytes()
services = Services.build(Settings(_env_file=None))

def hold(doc):
    marker.write_text(doc.meta.doc_id)
    time.sleep(3600)

services.admin.jobs.before_activate = hold
services.admin.documents.upload([("firefly.md", text)], [{"doc_id": "firefly"}], Principal("alice", "editor"))
time.sleep(3600)
"""


def test_a_job_of_a_dead_machine_is_retried_on_another(tmp_path, chroma_server, postgres_schema_url, embedder):
    shared = {"database_url": postgres_schema_url, "chroma_url": chroma_server,
              "chroma_collection": f"machines_{uuid.uuid4().hex[:8]}", "admin_tokens": f"ops:editor:{hash_token(TOKEN)}",
              "keyword_refresh_seconds": "0"}
    data_a, marker, source = tmp_path / "machine-a", tmp_path / "reached", tmp_path / "firefly.md"
    source.write_text(FIREFLY, encoding="utf-8")
    env = cli_env(data_a, {f"KUNRUYI_{k.upper()}": v for k, v in shared.items()})
    proc = subprocess.Popen([sys.executable, "-c", MACHINE_A, str(marker), str(source)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            assert proc.poll() is None, proc.stdout.read().decode(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "machine A never reached the activation step"
            time.sleep(0.2)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    shutil.rmtree(data_a)  # the machine and its disk are gone

    settings_b = Settings(_env_file=None, data_dir=tmp_path / "machine-b", corpus_dir=tmp_path / "none", **shared)
    services = Services.build(settings_b, embedder=embedder)
    with TestClient(create_app(settings_b, services=services)) as client:
        [job] = client.get("/api/admin/jobs", headers=EDITOR).json()
        assert job["status"] == "running", "within the lease, the job still belongs to machine A"

        store = services.admin.jobs.store
        real_clock = store.clock
        store.clock = lambda: real_clock() + __import__("datetime").timedelta(seconds=LEASE_SECONDS + 1)
        job = client.get(f"/api/admin/jobs/{job['id']}", headers=EDITOR).json()
        assert job["status"] == "interrupted" and "中断" in job["message"], job

        retry = client.post(f"/api/admin/jobs/{job['id']}/retry", headers=EDITOR)
        assert retry.status_code == 202, retry.text
        deadline = time.monotonic() + 240
        while job["status"] in ("queued", "running", "interrupted"):
            assert time.monotonic() < deadline, job
            time.sleep(0.1)
            job = client.get(f"/api/admin/jobs/{job['id']}", headers=EDITOR).json()
        assert job["status"] == "done", job

        answer = client.post("/api/chat", json={"message": QUESTION}).json()
        assert answer["grounded"] and "三百二十七元" in answer["answer"], answer

    summary = export_backup(settings_b, tmp_path / "b.tar.gz")
    assert summary.missing_files == []
    with tarfile.open(tmp_path / "b.tar.gz") as tar:
        assert [n for n in tar.getnames() if n.startswith("files/firefly/")], "the upload is in the backup"

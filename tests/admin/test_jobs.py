"""A server killed in the middle of indexing: nothing half-indexed is visible, and the job can be retried."""

from __future__ import annotations

import subprocess
import sys
import time

from tests.admin.conftest import EDITOR, FIREFLY_QUESTION, FIREFLY_V1, VIEWER
from tests.conftest import cli_env

# A separate process that uploads through the admin service and stops for good between writing the
# chunks and activating them; the test kills it there, like a crash or a redeploy mid-job.
CRASHING_SERVER = """
import pathlib, sys, time
from app.admin.auth import Principal
from app.main import Services
from app.settings import Settings

data_dir, marker, text = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3]).read_bytes()
services = Services.build(Settings(_env_file=None, data_dir=data_dir))

def hold(doc):
    marker.write_text(doc.meta.doc_id)
    time.sleep(3600)

services.admin.jobs.before_activate = hold
services.admin.documents.upload([("firefly.md", text)], [{"doc_id": "firefly"}], Principal("alice", "editor"))
time.sleep(3600)
"""


def test_restart_mid_job_leaves_nothing_visible_and_the_job_can_be_retried(make_admin, tmp_path):
    data_dir = tmp_path / "crash-data"
    marker, source = tmp_path / "reached", tmp_path / "firefly.md"
    source.write_text(FIREFLY_V1, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-c", CRASHING_SERVER, str(data_dir), str(marker), str(source)],
                            cwd=tmp_path, env=cli_env(data_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            assert proc.poll() is None, proc.stdout.read().decode(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the crashing server never reached the activation step"
            time.sleep(0.2)
    finally:
        proc.kill()
        proc.wait(timeout=30)

    app = make_admin(sample=False, data_dir=data_dir)  # the restart
    jobs = app.client.get("/api/admin/jobs", headers=VIEWER).json()
    assert len(jobs) == 1
    job = jobs[0]
    assert job["status"] == "interrupted" and "中断" in job["message"], job
    assert job["items"][0]["status"] == "failed" and "中断" in job["items"][0]["message"]

    row = app.registry.get("firefly")
    assert row.status == "indexing" and not row.active_hash
    written = app.store.ids_where({"doc_id": "firefly"})
    assert written  # the chunks reached Chroma before the crash ...
    assert not any(app.services.keywords.contains(i) for i in written)  # ... but are served nowhere
    answer = app.ask(FIREFLY_QUESTION)
    assert not answer["grounded"] and not [c for c in answer["citations"] if c["doc_id"] == "firefly"]

    retry = app.client.post(f"/api/admin/jobs/{job['id']}/retry", headers=EDITOR)
    assert retry.status_code == 202, retry.text
    done = app.wait_job(job["id"])
    assert done["status"] == "done" and done["items"][0]["version"] == 1, done
    assert app.registry.get("firefly").status == "active"
    answer = app.ask(FIREFLY_QUESTION)
    assert answer["grounded"] and "三百二十七元" in answer["answer"]
    assert sorted(app.store.ids_where({"doc_id": "firefly"})) == sorted(written)


def test_a_job_of_a_live_process_is_not_marked_interrupted(make_admin, gate):
    app = make_admin(sample=False)
    app.services.admin.jobs.before_activate = gate
    response = app.upload(("firefly.md", FIREFLY_V1.encode()), doc_id="firefly")
    gate.wait_reached()
    # Another app in the same, living process starts (as a second TestClient would): it leaves the job alone.
    other = make_admin(sample=False, data_dir=app.settings.data_dir)
    assert other.client.get(f"/api/admin/jobs/{response.json()['id']}", headers=VIEWER).json()["status"] == "running"
    gate.release.set()
    assert app.wait_job(response.json()["id"])["status"] == "done"

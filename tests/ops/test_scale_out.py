"""Several workers and instances (`python -m app`, KUNRUYI_WORKERS=2, plus a second instance) on a
Chroma server, PostgreSQL and a Redis of the test's own (never the machine's shared Redis) behave as one service: shared rate limits, staff jobs readable
from any instance, and a document uploaded through one instance's staff API (or ingested by another
process) is answered everywhere within seconds. Without a Chroma server, several workers
are refused at start."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.ops.conftest import SMALL_CORPUS
EDITOR_TOKEN = "scale-out-editor-token"
EDITOR = {"Authorization": f"Bearer {EDITOR_TOKEN}"}
FIREFLY_QUESTION = "萤火虫示例补贴每家企业最多多少钱？"
FIREFLY = ("---\ntitle: 昆山萤火虫友好园区示例补贴办法\ndoc_id: firefly-sample\n---\n\n"
           "# 昆山萤火虫友好园区示例补贴办法\n\n## 第一条 补贴标准\n\n"
           "对建设萤火虫友好园区的企业，给予每家企业最高8.8万元的示例补贴。\n")
STATION_QUESTION = "昆山示例充电驿站一共建了多少个？"
STATION = ("---\ntitle: 昆山示例企业充电驿站建设通知\ndoc_id: station-sample\n---\n\n"
           "# 昆山示例企业充电驿站建设通知\n\n## 一、建设规模\n\n"
           "全市示例企业充电驿站共建成66个，覆盖各区镇工业园区。\n")


def _env(data_dir: Path, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUNRUYI_")}
    env.update({"KUNRUYI_DATA_DIR": str(data_dir), "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    env.update({f"KUNRUYI_{k.upper()}": v for k, v in values.items()})
    return env


@pytest.fixture
def server_env(tmp_path, chroma_server, postgres_schema_url, own_redis):
    return _env(tmp_path / "data", chroma_url=chroma_server, database_url=postgres_schema_url,
                redis_url=f"redis://127.0.0.1:{own_redis.port}/0", chroma_collection=f"scale_{uuid.uuid4().hex[:8]}",
                trusted_proxies="127.0.0.1", rate_limit_per_ip="10", rate_limit_per_conversation="0",
                admin_tokens=f"ops:editor:{hashlib.sha256(EDITOR_TOKEN.encode()).hexdigest()}")


def _ingest(paths, env, cwd) -> None:
    out = subprocess.run([sys.executable, "-m", "ingest", "-q", *map(str, paths)], env=env, cwd=cwd,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr


def _ask(url: str, question: str, client_ip: str) -> httpx.Response:
    # A new connection per request, so that the kernel spreads them over both workers.
    with httpx.Client(timeout=60) as client:
        return client.post(f"{url}/api/chat", json={"message": question}, headers={"X-Forwarded-For": client_ip})


def _start(env: dict[str, str], cwd: Path, name: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = open(cwd / f"{name}.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "app"], env={**env, "KUNRUYI_PORT": str(port)}, cwd=cwd,
                            stdout=log, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}"


def _wait_ready(proc: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + 300  # a condition, not a sleep: generous for a busy 2-core machine
    while True:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "server did not become ready"
        time.sleep(0.5)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def test_workers_and_machines_on_servers_behave_as_one(tmp_path, server_env, make_corpus):
    """One `python -m app` with 2 workers plus a second instance (another "machine") on the same
    Chroma server, PostgreSQL and Redis. Requests alternate between the two instances, so the
    shared state is exercised deterministically (the kernel may give all of one instance's
    connections to the same worker)."""
    corpus = make_corpus(*SMALL_CORPUS)
    _ingest([corpus], server_env, tmp_path)
    first, url_a = _start({**server_env, "KUNRUYI_WORKERS": "2"}, tmp_path, "a")
    second, url_b = _start({**server_env, "KUNRUYI_DATA_DIR": str(tmp_path / "data-b")}, tmp_path, "b")
    try:
        _wait_ready(first, url_a, tmp_path / "a.log")
        _wait_ready(second, url_b, tmp_path / "b.log")
        assert len(_children(first.pid)) >= 2, "KUNRUYI_WORKERS=2 starts two worker processes"

        # Rate limits are counted once for all workers and machines (per client IP from the trusted proxy).
        # Windows are clock minutes; a burst that straddles two is repeated from a new address rather
        # than waiting for the next minute to start.
        for attempt in range(3):
            minute = int(time.time() // 60)
            codes = [_ask(url_a if i % 2 else url_b, "高新技术企业认定有什么奖励？", f"203.0.113.{7 + attempt}").status_code
                     for i in range(14)]
            if int(time.time() // 60) == minute:
                break
        assert codes.count(200) == 10 and codes.count(429) == 4, codes

        # A document uploaded through the staff API of one instance is answered by every instance,
        # and one ingested by another process (python -m ingest) too, within seconds.
        upload = httpx.post(f"{url_a}/api/admin/documents", headers=EDITOR, timeout=60,
                            files={"files": ("firefly.md", FIREFLY.encode("utf-8"), "text/markdown")})
        assert upload.status_code == 202, upload.text
        job = upload.json()
        deadline = time.monotonic() + 120
        while job["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline, job
            time.sleep(0.5)
            job = httpx.get(f"{url_b}/api/admin/jobs/{job['id']}", headers=EDITOR, timeout=10).json()
        assert job["status"] == "done", job
        extra = tmp_path / "extra" / "station.md"
        extra.parent.mkdir()
        extra.write_text(STATION, encoding="utf-8")
        _ingest([corpus, extra.parent], server_env, tmp_path)
        for i in range(8):
            question, doc_id, figure = ((FIREFLY_QUESTION, "firefly-sample", "8.8万元") if i < 4
                                        else (STATION_QUESTION, "station-sample", "66个"))
            # Instances look for corpus changes every second (KUNRUYI_KEYWORD_REFRESH_SECONDS): ask until
            # this one has picked the change up (within 30 s), instead of sleeping a fixed time.
            deadline = time.monotonic() + 30
            for attempt in range(1000):  # a new client address per attempt: the rate limit is not what is tested
                answer = _ask(url_a if i % 2 else url_b, question, f"198.{18 + i}.{attempt // 250}.{attempt % 250}").json()
                if answer.get("grounded") or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert answer["grounded"], answer
            assert answer["citations"][0]["doc_id"] == doc_id, answer
            assert figure in answer["answer"]
        metrics = httpx.get(f"{url_a}/metrics", timeout=10).text
        assert 'kunruyi_answers_total{kind="grounded"}' in metrics
    finally:
        for proc in (first, second):
            proc.send_signal(signal.SIGTERM)
        for proc in (first, second):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_several_workers_on_embedded_chroma_are_refused(tmp_path):
    out = subprocess.run([sys.executable, "-m", "app"], env=_env(tmp_path / "data", workers="2"), cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "拒绝启动" in out.stderr and "KUNRUYI_CHROMA_URL" in out.stderr
    assert not (tmp_path / "data" / "chroma").exists(), "nothing was opened"

"""Two uvicorn workers (`python -m app`, KUNRUYI_WORKERS=2) on a Chroma server, PostgreSQL and Redis
behave as one service: shared rate limits, and an ingest by another process is answered by every
worker within seconds. Without a Chroma server, several workers are refused at start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import free_port
from tests.ops.conftest import SMALL_CORPUS
from tests.ops.test_faults import _fresh_window

REDIS_DB = 9  # a database of its own on the shared Redis, flushed by this test


def _env(data_dir: Path, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUNRUYI_")}
    env.update({"KUNRUYI_DATA_DIR": str(data_dir), "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    env.update({f"KUNRUYI_{k.upper()}": v for k, v in values.items()})
    return env


@pytest.fixture
def server_env(tmp_path, chroma_server, postgres_schema_url):
    redis.Redis.from_url(f"redis://127.0.0.1:6379/{REDIS_DB}").flushdb()
    return _env(tmp_path / "data", chroma_url=chroma_server, database_url=postgres_schema_url,
                redis_url=f"redis://127.0.0.1:6379/{REDIS_DB}", chroma_collection=f"scale_{uuid.uuid4().hex[:8]}",
                trusted_proxies="127.0.0.1", rate_limit_per_ip="10", rate_limit_per_conversation="0")


def _ingest(paths, env, cwd) -> None:
    out = subprocess.run([sys.executable, "-m", "ingest", "-q", *map(str, paths)], env=env, cwd=cwd,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr


def _ask(url: str, question: str, client_ip: str) -> httpx.Response:
    # A new connection per request, so that the kernel spreads them over both workers.
    with httpx.Client(timeout=60) as client:
        return client.post(f"{url}/api/chat", json={"message": question}, headers={"X-Forwarded-For": client_ip})


def test_two_workers_on_servers_behave_as_one(tmp_path, server_env, make_corpus):
    corpus = make_corpus(*SMALL_CORPUS)
    _ingest([corpus], server_env, tmp_path)
    port = free_port()
    env = {**server_env, "KUNRUYI_WORKERS": "2", "KUNRUYI_PORT": str(port)}
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "app"], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.5)

        # Rate limits are counted once for all workers (per client IP from the trusted proxy).
        _fresh_window(20)
        codes = [_ask(url, "高新技术企业认定有什么奖励？", "203.0.113.7").status_code for _ in range(14)]
        assert codes.count(200) == 10 and codes.count(429) == 4, codes
        metrics_dir = tmp_path / "data" / "metrics"
        pids = {p.name.rsplit("_", 1)[-1] for p in metrics_dir.glob("counter_*.db")}
        assert len(pids) >= 2, f"both workers should have served requests: {pids}"

        # A document ingested by another process is answered by every worker within seconds.
        question = "萤火虫示例补贴每家企业最多多少钱？"
        new_doc = tmp_path / "extra" / "firefly.md"
        new_doc.parent.mkdir()
        new_doc.write_text("---\ntitle: 昆山萤火虫友好园区示例补贴办法\ndoc_id: firefly-sample\n---\n\n"
                           "# 昆山萤火虫友好园区示例补贴办法\n\n## 第一条 补贴标准\n\n"
                           "对建设萤火虫友好园区的企业，给予每家企业最高8.8万元的示例补贴。\n", encoding="utf-8")
        _ingest([corpus, new_doc.parent], server_env, tmp_path)
        time.sleep(3)  # workers look for corpus changes every second (KUNRUYI_KEYWORD_REFRESH_SECONDS)
        for i in range(8):
            answer = _ask(url, question, f"203.0.113.{20 + i}").json()
            assert answer["grounded"], answer
            assert answer["citations"][0]["doc_id"] == "firefly-sample"
            assert "8.8万元" in answer["answer"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_several_workers_on_embedded_chroma_are_refused(tmp_path):
    out = subprocess.run([sys.executable, "-m", "app"], env=_env(tmp_path / "data", workers="2"), cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "拒绝启动" in out.stderr and "KUNRUYI_CHROMA_URL" in out.stderr
    assert not (tmp_path / "data" / "chroma").exists(), "nothing was opened"

"""Faults, each against the real component: the Chroma server killed and restarted, PostgreSQL
stopped and started, Redis gone. The app is never restarted; it fails cleanly (503, Chinese message,
the question kept) while a backend is down and recovers by itself.

The LLM endpoint down or hanging is in tests/chat/test_llm_backends.py; an ingest killed mid-way in
tests/ingest/test_pipeline.py (test_sigkill_at_several_points_then_rerun_equals_an_uninterrupted_run).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from sqlalchemy import create_engine, text

QUESTION = "高新技术企业认定有什么奖励？"


def _ask(client, question: str = QUESTION, **extra):
    return client.post("/api/chat", json={"message": question, **extra})


def _failed_questions(settings_url: str) -> list[str]:
    engine = create_engine(settings_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT content FROM messages WHERE role='user' AND status='failed'")).all()
    engine.dispose()
    return [r[0] for r in rows]


def test_chroma_server_killed_and_restarted(own_chroma, small_app):
    client = small_app(chroma_url=f"http://127.0.0.1:{own_chroma.port}", chroma_timeout=5)
    assert _ask(client).json()["grounded"] is True

    own_chroma.kill()
    down = _ask(client, "企业开办要多久？")
    assert down.status_code == 503
    assert "检索服务" in down.json()["message"]
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["index"].startswith("unavailable: Chroma")
    settings = client.app.state.settings
    assert "企业开办要多久？" in _failed_questions(settings.sqlalchemy_url), "the question is kept"

    own_chroma.start()
    again = _ask(client)
    assert again.status_code == 200 and again.json()["grounded"] is True
    assert client.get("/readyz").status_code == 200


def _pg_cluster() -> tuple[str, str]:
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[0]
    return version, "main"


def _pg_ctl(action: str) -> None:
    version, cluster = _pg_cluster()
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, action, *(
        ["-m", "fast"] if action in ("stop", "restart") else [])], check=True, capture_output=True, timeout=60)


def _pg_up(url: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:  # noqa: BLE001
        return False
    finally:
        engine.dispose()


def test_postgresql_stopped_and_started(small_app, postgres_schema_url):
    client = small_app(database_url=postgres_schema_url)
    assert _ask(client).json()["grounded"] is True
    try:
        _pg_ctl("stop")
        down = _ask(client)
        assert down.status_code == 503
        assert down.json()["message"] == "数据库暂时不可用，请稍后重试"
        ready = client.get("/readyz").json()
        assert ready["checks"]["database"].startswith("unavailable: postgresql")
    finally:
        _pg_ctl("start")
        deadline = time.monotonic() + 30
        while not _pg_up(postgres_schema_url) and time.monotonic() < deadline:
            time.sleep(0.3)
    again = _ask(client)
    assert again.status_code == 200 and again.json()["grounded"] is True


def _fresh_window(seconds_needed: float = 8) -> None:
    """Rate limits count per clock minute: start a burst where it cannot straddle two minutes."""
    left = 60 - time.time() % 60
    if left < seconds_needed:
        time.sleep(left + 0.1)


def test_redis_down_keeps_answering_and_rate_limits_come_back(own_redis, small_app):
    client = small_app(redis_url=f"redis://127.0.0.1:{own_redis.port}/0", rate_limit_per_ip=3,
                       rate_limit_per_conversation=0)
    _fresh_window()
    assert [_ask(client).status_code for _ in range(4)] == [200, 200, 200, 429]

    own_redis.kill()
    # Limits fail open while the shared state is gone: citizens still get answers.
    assert [_ask(client).status_code for _ in range(4)] == [200, 200, 200, 200]
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["state"].startswith("unavailable: redis")
    metrics = client.get("/metrics").text
    assert 'kunruyi_shared_state_errors_total{op="incr"}' in metrics

    own_redis.start()
    assert client.get("/readyz").status_code == 200
    _fresh_window()
    codes = [_ask(client).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]

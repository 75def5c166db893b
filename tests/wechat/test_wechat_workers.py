"""Two workers (two real servers) over one shared state behave as one: one answer, one delivery,
one access token — with the SQL store and with the real Redis."""

from __future__ import annotations

import threading
import time
import uuid

import httpx
import pytest

from app.components.database import create_db_engine, create_session_factory
from app.components.shared_state import RedisState, SqlState
from app.settings import Settings
from app.wechat.service import PLACEHOLDER
from tests.wechat.conftest import SHORT_BUDGET, ask, post, reply_text

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["sql", "redis"])
def worker_states(request, tmp_path):
    """Two state objects (one per worker) over the same backend."""
    if request.param == "sql":
        settings = Settings(_env_file=None, data_dir=tmp_path / "shared")
        yield [SqlState(create_session_factory(create_db_engine(settings))) for _ in range(2)]
        return
    prefix = f"kunruyi:test-{uuid.uuid4().hex}:"
    states = [RedisState(REDIS_URL, prefix=prefix, timeout=5) for _ in range(2)]
    try:
        states[0].ping()
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"Redis is not reachable at {REDIS_URL} ({exc}); start it with `make services`")
    yield states
    for state in states:
        state.close()


def test_one_message_at_two_workers_is_answered_and_delivered_once(
        worker_states, make_wechat_app, live_server, slow_llm, fake_wechat, mp, openid):
    workers = [live_server(make_wechat_app(state, wechat_reply_budget=SHORT_BUDGET)) for state in worker_states]
    calls = len(slow_llm.requests)
    request = ask(mp, openid)
    barrier = threading.Barrier(2)
    responses: list[httpx.Response] = []

    def send(url: str):
        with httpx.Client(base_url=url, timeout=30) as client:
            barrier.wait()
            responses.append(post(client, request))

    threads = [threading.Thread(target=send, args=(w.url,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    texts = sorted(reply_text(mp, r) if r.text != "success" else "success" for r in responses)
    assert texts == sorted([PLACEHOLDER, "success"])

    fake_wechat.wait_for_messages(1)
    time.sleep(1.0)
    assert [m["touser"] for m in fake_wechat.messages] == [openid]
    assert len(slow_llm.requests) - calls == 1

    # Each worker delivers one more answer: both use the access token fetched once.
    for worker in workers:
        with httpx.Client(base_url=worker.url, timeout=30) as client:
            post(client, ask(mp, openid, content="有哪些人才补贴？"))
    fake_wechat.wait_for_messages(3)
    assert len(fake_wechat.messages) == 3
    assert len(fake_wechat.token_requests) == 1

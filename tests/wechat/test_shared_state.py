"""SharedState on the real backends: SQLite, PostgreSQL and Redis (random key prefix)."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from app.components.database import create_db_engine, create_session_factory
from app.components.shared_state import RedisState, SqlState, create_shared_state

REDIS_URL = "redis://127.0.0.1:6379/0"


def _sql_state(settings) -> SqlState:
    return SqlState(create_session_factory(create_db_engine(settings)))


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def state(request, make_settings):
    if request.param == "sqlite":
        yield _sql_state(make_settings())
    elif request.param == "postgresql":
        yield _sql_state(make_settings(database_url=request.getfixturevalue("postgres_schema_url")))
    else:
        redis_state = RedisState(REDIS_URL, prefix=f"kunruyi:test-{uuid.uuid4().hex}:", timeout=5)
        try:
            redis_state.ping()
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"Redis is not reachable at {REDIS_URL} ({exc}); start it with `make services`")
        yield redis_state
        redis_state.close()


def _eventually(condition, timeout: float = 10.0) -> bool:
    """Poll ``condition`` until true (a short TTL has run out) instead of sleeping a fixed time."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_claim_is_first_caller_only_and_expires(state):
    assert state.claim("wechat:msg:1", 30) is True
    assert state.claim("wechat:msg:1", 30) is False
    assert state.claim("wechat:msg:2", 0.05) is True
    assert _eventually(lambda: state.claim("wechat:msg:2", 30))  # expired, so claimable again …
    assert state.claim("wechat:msg:2", 30) is False  # … by one caller


def test_claim_under_concurrency_has_one_winner(state):
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def contend():
        barrier.wait()
        wins.append(state.claim("race", 30))

    threads = [threading.Thread(target=contend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_get_set_delete_and_ttl(state):
    assert state.get("k") is None
    state.set("k", "值一")
    assert state.get("k") == "值一"
    state.set("k", "值二", ttl_seconds=30)
    assert state.get("k") == "值二"
    state.set("k", "值三", ttl_seconds=0.05)
    assert _eventually(lambda: state.get("k") is None)
    state.set("k", "again")
    state.delete("k")
    assert state.get("k") is None
    state.delete("never-set")  # no error


def test_incr_counts_in_a_window_that_starts_at_the_first_increment(state):
    assert [state.incr("rate:ip", 30) for _ in range(3)] == [1, 2, 3]
    assert state.get("rate:ip") == "3"
    assert state.incr("rate:short", 0.05) == 1
    assert _eventually(lambda: state.incr("rate:short", 0.05) == 1)  # a new window starts at 1


def test_incr_is_atomic_across_threads(state):
    def bump():
        for _ in range(10):
            state.incr("rate:many", 60)

    threads = [threading.Thread(target=bump) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert state.incr("rate:many", 60) == 51


def test_push_and_pop_all_drain_in_order_once(state):
    assert state.pop_all("pending:u1") == []
    for part in ("第一段", "第二段", "第三段"):
        state.push("pending:u1", part)
    state.push("pending:u2", "other")
    assert state.pop_all("pending:u1") == ["第一段", "第二段", "第三段"]
    assert state.pop_all("pending:u1") == []
    assert state.pop_all("pending:u2") == ["other"]


def test_concurrent_pop_all_hands_each_item_to_one_caller(state):
    for i in range(50):
        state.push("pending:race", str(i))
    got: list[list[str]] = []
    barrier = threading.Barrier(4)

    def drain():
        barrier.wait()
        got.append(state.pop_all("pending:race"))

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    items = [item for batch in got for item in batch]
    assert sorted(items, key=int) == [str(i) for i in range(50)]


def test_ping_works_and_fails_loudly_when_unreachable(state, make_settings):
    state.ping()
    dead = RedisState("redis://127.0.0.1:1/0", timeout=0.5)
    with pytest.raises(Exception):
        dead.ping()


def test_factory_picks_redis_only_when_configured(make_settings):
    settings = make_settings()
    factory = create_session_factory(create_db_engine(settings))
    assert isinstance(create_shared_state(settings, factory), SqlState)
    redis_state = create_shared_state(make_settings(redis_url=REDIS_URL), factory)
    assert isinstance(redis_state, RedisState)
    redis_state.ping()


def test_sql_expired_rows_are_deleted_lazily(make_settings):
    from sqlalchemy import select

    from app.components.shared_state import StateValueRow

    settings = make_settings()
    factory = create_session_factory(create_db_engine(settings))
    now = [1_000_000.0]
    state = SqlState(factory, clock=lambda: now[0])
    state.set("old", "x", ttl_seconds=10)
    state.set("keep", "y")
    now[0] += 11
    assert state.get("old") is None
    with factory() as session:
        assert session.scalars(select(StateValueRow.key)).all() == ["keep"]


def test_claim_stores_the_given_value_for_the_losers_to_read(state):
    assert state.claim("wechat:nonce:1", 30, value="digest-a") is True
    assert state.claim("wechat:nonce:1", 30, value="digest-b") is False
    assert state.get("wechat:nonce:1") == "digest-a"


def test_take_hands_a_value_to_one_caller_once(state):
    assert state.take("pending:u1") is None
    state.set("pending:u1", "答复", ttl_seconds=60)
    got: list[str | None] = []
    barrier = threading.Barrier(4)

    def take():
        barrier.wait()
        got.append(state.take("pending:u1"))

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got.count("答复") == 1 and got.count(None) == 3
    assert state.get("pending:u1") is None

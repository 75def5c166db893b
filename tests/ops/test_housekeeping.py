"""The SQL shared state deletes expired rows on a schedule (issue 12, item 19): per-minute rate-limit
keys used to stay forever (100 rows from 10 users in 5 minutes), since expired rows were deleted only
when the same key was read again. A clock is injected: no test waits for a TTL."""

from __future__ import annotations

from sqlalchemy import func, select

from app.components.database import create_db_engine, create_session_factory
from app.components.shared_state import PURGE_INTERVAL_SECONDS, SqlState, StateValueRow
from app.ops.ratelimit import RateLimiter
from tests.ops.test_faults import FakeClock


def _rows(sessions) -> int:
    with sessions() as session:
        return session.execute(select(func.count()).select_from(StateValueRow)).scalar_one()


def test_expired_rate_limit_keys_are_purged_on_a_schedule(make_settings):
    settings = make_settings(rate_limit_per_ip=30, rate_limit_per_conversation=12)
    sessions = create_session_factory(create_db_engine(settings))
    clock = FakeClock()
    state = SqlState(sessions, clock=clock)
    limiter = RateLimiter(settings, state, clock=clock)
    for _minute in range(5):
        for user in range(10):
            limiter.check(f"203.0.113.{user}", f"conversation-{user}")
        clock.advance(60)
    # At most the keys of the last two windows remain (the purge runs once a minute).
    assert _rows(sessions) <= 40, "expired per-minute keys piled up"
    clock.advance(PURGE_INTERVAL_SECONDS + 60)
    state.incr("rl:ip:other:1", 60)
    assert _rows(sessions) == 1


def test_purge_keeps_live_and_permanent_values(make_settings):
    sessions = create_session_factory(create_db_engine(make_settings()))
    clock = FakeClock()
    state = SqlState(sessions, clock=clock)
    state.set("token", "永久")
    state.set("short", "x", ttl_seconds=5)
    state.set("long", "y", ttl_seconds=3600)
    assert state.claim("dedupe", 10)
    clock.advance(PURGE_INTERVAL_SECONDS)
    state.set("trigger", "z", ttl_seconds=1)  # the first write after the interval purges
    assert _rows(sessions) == 3  # token, long, trigger: the expired "short" and "dedupe" are gone
    assert (state.get("token"), state.get("long"), state.get("short")) == ("永久", "y", None)
    assert state.claim("dedupe", 10), "an expired claim can be taken again"

"""State shared by every worker: dedupe claims, counters, small values and per-key lists.

Two backends behind one interface, chosen by settings: Redis when ``KUNRUYI_REDIS_URL`` is set,
otherwise the SQL store (SQLite or PostgreSQL). Both are atomic across processes, so several
workers behave as one (WeChat dedupe and pending deliveries, rate limits).

Expiry times are epoch seconds. In SQL, expired rows are ignored on read and deleted lazily.
"""

from __future__ import annotations

import time
from typing import Protocol

from sqlalchemy import BigInteger, Float, Integer, String, Text, case, cast, delete, select
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from app.components.database import Base
from app.settings import Settings

REDIS_PREFIX = "kunruyi:"


class SharedState(Protocol):
    def claim(self, key: str, ttl_seconds: float) -> bool:
        """Set ``key`` if absent (or expired); True for the first caller only."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str, ttl_seconds: float | None = None) -> None: ...

    def delete(self, key: str) -> None: ...

    def incr(self, key: str, ttl_seconds: float) -> int:
        """Add one to a counter and return it; the window (TTL) starts at the first increment."""

    def push(self, key: str, value: str) -> None:
        """Append ``value`` to the list at ``key``."""

    def pop_all(self, key: str) -> list[str]:
        """Remove and return the whole list at ``key`` (oldest first); each item goes to one caller."""

    def ping(self) -> None:
        """Raise when the backend is unreachable."""


# --- SQL -------------------------------------------------------------------------------------

class StateValueRow(Base):
    __tablename__ = "shared_state"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[float | None] = mapped_column(Float(precision=53), index=True)


class StateItemRow(Base):
    __tablename__ = "shared_state_items"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    key: Mapped[str] = mapped_column(String(255), index=True)
    value: Mapped[str] = mapped_column(Text)


def _expiry(ttl_seconds: float | None) -> float | None:
    return None if ttl_seconds is None else time.time() + ttl_seconds


def _live(now: float):
    return (StateValueRow.expires_at.is_(None)) | (StateValueRow.expires_at > now)


class SqlState:
    """Shared state in the SQL store: INSERT … ON CONFLICT makes claim/set/incr atomic."""

    def __init__(self, session_factory: sessionmaker):
        self._sessions = session_factory
        dialect = session_factory.kw["bind"].dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:  # pragma: no cover - the project supports these two
            raise ValueError(f"shared state: unsupported SQL dialect {dialect}")
        self._insert = insert

    def claim(self, key: str, ttl_seconds: float) -> bool:
        now = time.time()
        with self._sessions.begin() as session:
            # A stale claim is removed first; the condition keeps a fresh one (claimed meanwhile) in place.
            session.execute(delete(StateValueRow).where(StateValueRow.key == key, StateValueRow.expires_at <= now))
            stmt = self._insert(StateValueRow.__table__).values(key=key, value="1", expires_at=now + ttl_seconds)
            stmt = stmt.on_conflict_do_nothing(index_elements=["key"]).returning(StateValueRow.__table__.c.key)
            return session.execute(stmt).first() is not None

    def get(self, key: str) -> str | None:
        now = time.time()
        with self._sessions() as session:
            row = session.execute(select(StateValueRow.value, StateValueRow.expires_at)
                                  .where(StateValueRow.key == key)).first()
        if row is None:
            return None
        if row.expires_at is not None and row.expires_at <= now:
            self._purge(key, now)
            return None
        return row.value

    def _purge(self, key: str, now: float) -> None:
        with self._sessions.begin() as session:
            session.execute(delete(StateValueRow).where(StateValueRow.key == key, StateValueRow.expires_at <= now))

    def set(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        expires = _expiry(ttl_seconds)
        stmt = self._insert(StateValueRow.__table__).values(key=key, value=value, expires_at=expires)
        stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={"value": value, "expires_at": expires})
        with self._sessions.begin() as session:
            session.execute(stmt)

    def delete(self, key: str) -> None:
        with self._sessions.begin() as session:
            session.execute(delete(StateValueRow).where(StateValueRow.key == key))
            session.execute(delete(StateItemRow).where(StateItemRow.key == key))

    def incr(self, key: str, ttl_seconds: float) -> int:
        now = time.time()
        table = StateValueRow.__table__
        expired = table.c.expires_at <= now
        stmt = self._insert(table).values(key=key, value="1", expires_at=now + ttl_seconds)
        stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={
            "value": case((expired, "1"), else_=cast(cast(table.c.value, Integer) + 1, String)),
            "expires_at": case((expired, now + ttl_seconds), else_=table.c.expires_at),
        }).returning(table.c.value)
        with self._sessions.begin() as session:
            return int(session.execute(stmt).scalar_one())

    def push(self, key: str, value: str) -> None:
        with self._sessions.begin() as session:
            session.add(StateItemRow(key=key, value=value))

    def pop_all(self, key: str) -> list[str]:
        stmt = delete(StateItemRow).where(StateItemRow.key == key).returning(StateItemRow.id, StateItemRow.value)
        with self._sessions.begin() as session:
            rows = session.execute(stmt).all()
        return [value for _id, value in sorted(rows)]

    def ping(self) -> None:
        with self._sessions() as session:
            session.execute(select(1))

    def purge_expired(self) -> int:
        """Delete every expired value (optional housekeeping; reads already ignore them)."""
        with self._sessions.begin() as session:
            result = session.execute(delete(StateValueRow.__table__).where(StateValueRow.expires_at <= time.time()))
            return result.rowcount


# --- Redis -----------------------------------------------------------------------------------

# INCR and the window's expiry in one atomic step (the TTL is set by the first increment only).
_INCR_WINDOW = """
local value = redis.call('INCR', KEYS[1])
if value == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return value
"""


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


class RedisState:
    def __init__(self, url: str, *, prefix: str = REDIS_PREFIX, timeout: float = 5.0):
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                           decode_responses=True)
        self._prefix = prefix
        self._incr = self._redis.register_script(_INCR_WINDOW)

    def _k(self, key: str) -> str:
        return self._prefix + key

    def claim(self, key: str, ttl_seconds: float) -> bool:
        return bool(self._redis.set(self._k(key), "1", nx=True, px=_ms(ttl_seconds)))

    def get(self, key: str) -> str | None:
        return self._redis.get(self._k(key))

    def set(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        self._redis.set(self._k(key), value, px=None if ttl_seconds is None else _ms(ttl_seconds))

    def delete(self, key: str) -> None:
        self._redis.delete(self._k(key))

    def incr(self, key: str, ttl_seconds: float) -> int:
        return int(self._incr(keys=[self._k(key)], args=[_ms(ttl_seconds)]))

    def push(self, key: str, value: str) -> None:
        self._redis.rpush(self._k(key), value)

    def pop_all(self, key: str) -> list[str]:
        pipe = self._redis.pipeline(transaction=True)
        pipe.lrange(self._k(key), 0, -1)
        pipe.delete(self._k(key))
        items, _deleted = pipe.execute()
        return list(items)

    def ping(self) -> None:
        self._redis.ping()

    def close(self) -> None:
        self._redis.close()


def create_shared_state(settings: Settings, session_factory: sessionmaker) -> SharedState:
    """Redis when ``redis_url`` is set (several hosts), else the SQL store."""
    if settings.redis_url:
        return RedisState(settings.redis_url, timeout=settings.outbound_timeout)
    return SqlState(session_factory)

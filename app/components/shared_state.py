"""State shared by every worker: dedupe claims, counters, small values and per-key lists.

Two backends behind one interface, chosen by settings: Redis when ``KUNRUYI_REDIS_URL`` is set,
otherwise the SQL store (SQLite or PostgreSQL). Both are atomic across processes, so several
workers behave as one (WeChat dedupe and pending deliveries, rate limits).

Expiry times are epoch seconds. In SQL, expired rows are ignored on read, and every instance
deletes all expired rows once per PURGE_INTERVAL_SECONDS (on the first write after the interval),
so per-minute rate-limit keys and WeChat keys do not pile up. Both backends take a ``clock``
(tests move it instead of sleeping through TTLs).
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Protocol, Sequence

from sqlalchemy import (BigInteger, Float, Integer, String, Text, bindparam, case, cast, delete, literal, select,
                        true, union_all)
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from app.components.orm import Base
from app.settings import Settings

REDIS_PREFIX = "kunruyi:"
PURGE_INTERVAL_SECONDS = 60.0
log = logging.getLogger(__name__)


class SharedState(Protocol):
    def claim(self, key: str, ttl_seconds: float, value: str = "1") -> bool:
        """Set ``key`` (to ``value``) if absent (or expired); True for the first caller only."""

    def get(self, key: str) -> str | None: ...

    def take(self, key: str) -> str | None:
        """Remove and return the value at ``key`` (None if absent or expired); each value goes to one caller."""

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


def _live(now: float):
    return (StateValueRow.expires_at.is_(None)) | (StateValueRow.expires_at > now)


class SqlState:
    """Shared state in the SQL store: INSERT … ON CONFLICT makes claim/set/incr atomic."""

    def __init__(self, session_factory: sessionmaker, *, clock: Callable[[], float] = time.time,
                 purge_interval: float = PURGE_INTERVAL_SECONDS):
        self._sessions = session_factory
        self.clock = clock
        self.purge_interval = purge_interval
        self._next_purge = clock() + purge_interval
        dialect = session_factory.kw["bind"].dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:  # pragma: no cover - the project supports these two
            raise ValueError(f"shared state: unsupported SQL dialect {dialect}")
        self._insert = insert
        self._incr_statements: dict[int, object] = {}

    def _housekeeping(self, now: float) -> None:
        """Delete expired rows once per interval (called by the writes)."""
        if now < self._next_purge:
            return
        self._next_purge = now + self.purge_interval
        try:
            purged = self.purge_expired()
        except Exception as exc:  # noqa: BLE001 - housekeeping never fails a request
            log.warning("shared state: purging expired rows failed (%s)", type(exc).__name__)
            return
        if purged:
            log.info("shared state: purged %d expired rows", purged)

    def claim(self, key: str, ttl_seconds: float, value: str = "1") -> bool:
        now = self.clock()
        self._housekeeping(now)
        with self._sessions.begin() as session:
            # A stale claim is removed first; the condition keeps a fresh one (claimed meanwhile) in place.
            session.execute(delete(StateValueRow).where(StateValueRow.key == key, StateValueRow.expires_at <= now))
            stmt = self._insert(StateValueRow.__table__).values(key=key, value=value, expires_at=now + ttl_seconds)
            stmt = stmt.on_conflict_do_nothing(index_elements=["key"]).returning(StateValueRow.__table__.c.key)
            return session.execute(stmt).first() is not None

    def get(self, key: str) -> str | None:
        now = self.clock()
        with self._sessions() as session:
            row = session.execute(select(StateValueRow.value, StateValueRow.expires_at)
                                  .where(StateValueRow.key == key)).first()
        if row is None:
            return None
        if row.expires_at is not None and row.expires_at <= now:
            self._purge(key, now)
            return None
        return row.value

    def take(self, key: str) -> str | None:
        now = self.clock()
        stmt = (delete(StateValueRow).where(StateValueRow.key == key)
                .returning(StateValueRow.value, StateValueRow.expires_at))
        with self._sessions.begin() as session:
            row = session.execute(stmt).first()
        if row is None or (row.expires_at is not None and row.expires_at <= now):
            return None
        return row.value

    def _purge(self, key: str, now: float) -> None:
        with self._sessions.begin() as session:
            session.execute(delete(StateValueRow).where(StateValueRow.key == key, StateValueRow.expires_at <= now))

    def set(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        now = self.clock()
        self._housekeeping(now)
        expires = None if ttl_seconds is None else now + ttl_seconds
        stmt = self._insert(StateValueRow.__table__).values(key=key, value=value, expires_at=expires)
        stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={"value": value, "expires_at": expires})
        with self._sessions.begin() as session:
            session.execute(stmt)

    def delete(self, key: str) -> None:
        with self._sessions.begin() as session:
            session.execute(delete(StateValueRow).where(StateValueRow.key == key))
            session.execute(delete(StateItemRow).where(StateItemRow.key == key))

    def incr(self, key: str, ttl_seconds: float) -> int:
        with self._sessions.begin() as session:
            return int(session.execute(self.incr_statement(1), self.incr_params([key], ttl_seconds)).one().value)

    def incr_statement(self, count: int):
        """``INSERT … ON CONFLICT DO UPDATE … RETURNING key, value``: one statement that adds one to
        ``count`` counters (a window starts at a counter's first increment), its values bound by
        ``incr_params``; built once per count. ``incr`` runs it alone; the chat turn runs it inside the
        statement or transaction that stores the question (ConversationStore.start_turn), so the rate
        limits cost no round trip of their own."""
        stmt = self._incr_statements.get(count)
        if stmt is None:
            table = StateValueRow.__table__
            seconds = Float(precision=53)
            now, expires = bindparam("incr_now", type_=seconds), bindparam("incr_expires", type_=seconds)
            expired = table.c.expires_at <= now
            # INSERT … SELECT … UNION ALL …, not a multi-row VALUES: SQLAlchemy compiles that anew on
            # every call. (WHERE true: SQLite's parser wants a WHERE before an upsert's ON CONFLICT.)
            rows = union_all(*[select(bindparam(f"incr_key_{i}", type_=String), literal("1"), expires).where(true())
                               for i in range(count)])
            stmt = self._insert(table).from_select(["key", "value", "expires_at"], rows)
            stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={
                "value": case((expired, "1"), else_=cast(cast(table.c.value, Integer) + 1, String)),
                "expires_at": case((expired, expires), else_=table.c.expires_at),
            }).returning(table.c.key, table.c.value)
            self._incr_statements[count] = stmt
        return stmt

    def incr_params(self, keys: Sequence[str], ttl_seconds: float) -> dict[str, object]:
        """The values of ``incr_statement(len(keys))``: the keys, now and the expiry of a new window."""
        now = self.clock()
        self._housekeeping(now)
        keys = {f"incr_key_{i}": key for i, key in enumerate(keys)}
        return {"incr_now": now, "incr_expires": now + ttl_seconds, **keys}

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
        """Delete every expired value (reads already ignore them); runs every PURGE_INTERVAL_SECONDS."""
        with self._sessions.begin() as session:
            result = session.execute(delete(StateValueRow.__table__).where(StateValueRow.expires_at <= self.clock()))
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
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # One immediate retry (a dropped idle connection), not redis-py's default of three with backoff:
        # Redis is optional here, a hung one must cost little.
        self._redis = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                           retry=Retry(NoBackoff(), 1), decode_responses=True)
        self._prefix = prefix
        self._incr = self._redis.register_script(_INCR_WINDOW)

    def _k(self, key: str) -> str:
        return self._prefix + key

    def claim(self, key: str, ttl_seconds: float, value: str = "1") -> bool:
        return bool(self._redis.set(self._k(key), value, nx=True, px=_ms(ttl_seconds)))

    def get(self, key: str) -> str | None:
        return self._redis.get(self._k(key))

    def take(self, key: str) -> str | None:
        pipe = self._redis.pipeline(transaction=True)  # GET and DEL in one step (GETDEL needs Redis 6.2)
        pipe.get(self._k(key))
        pipe.delete(self._k(key))
        value, _deleted = pipe.execute()
        return value

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
    """Redis when ``redis_url`` is set (several hosts), else the SQL store.

    Redis is optional for answering (rate limits fail open), so its socket timeout is short
    (KUNRUYI_REDIS_TIMEOUT): a hung Redis must not cost each chat request seconds."""
    if settings.redis_url:
        return RedisState(settings.redis_url, timeout=settings.redis_timeout)
    return SqlState(session_factory)

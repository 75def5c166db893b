"""Rate limits on the chat endpoints: per client IP and per conversation, fixed one-minute windows.

Counters live in the shared state (Redis when configured, else the SQL store), so all workers
count together. When the state backend is down the limiter lets requests through (fail open) and
counts the failure in ``kunruyi_shared_state_errors_total``: answering citizens matters more than
limiting them, and the reverse proxy is the place for hard flood protection. After a failure the
limiter does not ask the backend again for BACKOFF_SECONDS, so a hung Redis costs one short
timeout (KUNRUYI_REDIS_TIMEOUT) now and then rather than on every request.

With the SQL shared state (the default), a chat turn's counters cost no round trip of their own:
``admit`` hands them to the statement (PostgreSQL) or transaction (SQLite) that stores the question
(ConversationStore.start_turn), which stores it only when every count is within its limit (issue 14).

``clock`` (epoch seconds) decides the window; tests pass their own instead of waiting for a minute.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from app.errors import RateLimited
from app.ops.metrics import RATE_LIMITED, STATE_ERRORS
from app.settings import Settings

log = logging.getLogger(__name__)
WINDOW_SECONDS = 60
BACKOFF_SECONDS = 5.0


@dataclass(frozen=True)
class Counters:
    """One request's rate-limit counters, to be added by the SQL that stores its question.

    ``statement`` is the shared state's ``INSERT … ON CONFLICT … RETURNING key, value``
    (SqlState.incr_statement) and ``params`` its values; ``limits`` maps each key to its limit.
    ``judge`` takes the counts that statement returned and raises RateLimited for the first one
    over its limit."""

    statement: Any
    params: dict[str, Any]
    limits: dict[str, int]
    limiter: "RateLimiter"

    def judge(self, counts: Mapping[str, int]) -> None:
        for key, limit in self.limits.items():
            self.limiter.verdict(key, counts[key], limit)


class RateLimiter:
    def __init__(self, settings: Settings, state, *, clock: Callable[[], float] = time.time):
        self.per_ip = settings.rate_limit_per_ip
        self.per_conversation = settings.rate_limit_per_conversation
        self.state = state
        self.clock = clock
        self._skip_until = 0.0
        self._lock = threading.Lock()

    def _counters(self, client_ip: str, conversation_id: str | None) -> dict[str, int]:
        """This request's counter keys (this window's) and their limits."""
        window = int(self.clock() // WINDOW_SECONDS)
        counters = {}
        if self.per_ip:
            counters[f"rl:ip:{client_ip}:{window}"] = self.per_ip
        if self.per_conversation and conversation_id:
            counters[f"rl:conv:{conversation_id[:64]}:{window}"] = self.per_conversation
        return counters

    def check(self, client_ip: str, conversation_id: str | None) -> None:
        """Count this request now (one shared-state call per counter); raises RateLimited."""
        for key, limit in self._counters(client_ip, conversation_id).items():
            self._hit(key, limit)

    def admit(self, client_ip: str, conversation_id: str | None) -> Counters | None:
        """A chat turn's limits: with the SQL shared state, the counters for the statement that stores the
        question (nothing is sent here); with Redis, counted now like ``check`` (None is returned)."""
        counters = self._counters(client_ip, conversation_id)
        if not counters or not hasattr(self.state, "incr_statement"):
            self.check(client_ip, conversation_id)
            return None
        params = self.state.incr_params(list(counters), WINDOW_SECONDS)
        return Counters(self.state.incr_statement(len(counters)), params, counters, self)

    def verdict(self, key: str, count: int, limit: int) -> None:
        """Raise RateLimited when ``count`` (this window's, this request included) is over ``limit``."""
        if count > limit:
            scope = "ip" if key.startswith("rl:ip:") else "conversation"
            RATE_LIMITED.labels(scope).inc()
            who = "您的网络地址" if scope == "ip" else "当前会话"
            raise RateLimited(f"{who}提问过于频繁（每分钟最多 {limit} 次），请稍后再试")

    def _hit(self, key: str, limit: int) -> None:
        if self.clock() < self._skip_until:
            STATE_ERRORS.labels("incr").inc()
            return
        try:
            count = self.state.incr(key, WINDOW_SECONDS)
        except Exception as exc:  # noqa: BLE001 - fail open, see the module docstring
            STATE_ERRORS.labels("incr").inc()
            with self._lock:
                self._skip_until = self.clock() + BACKOFF_SECONDS
            log.warning("rate limit skipped for %.0f s: shared state unavailable (%s: %s)", BACKOFF_SECONDS,
                        type(exc).__name__, str(exc)[:200])
            return
        self.verdict(key, count, limit)


class _Namespaced:
    """The shared state with every key under a prefix, so that a second limiter counts apart."""

    def __init__(self, state, prefix: str):
        self.state, self.prefix = state, prefix

    def incr(self, key: str, ttl: int) -> int:
        return self.state.incr(self.prefix + key, ttl)


def handoff_limiter(settings: Settings, state) -> RateLimiter:
    """转人工: the chat limiter's logic with the handoff limits and counters of its own (shared state,
    so every worker counts together)."""
    limits = settings.model_copy(update={"rate_limit_per_ip": settings.rate_limit_handoff_per_ip,
                                         "rate_limit_per_conversation": settings.rate_limit_handoff_per_conversation})
    return RateLimiter(limits, _Namespaced(state, "handoff:"))

"""Rate limits on the chat endpoints: per client IP and per conversation, fixed one-minute windows.

Counters live in the shared state (Redis when configured, else the SQL store), so all workers
count together. When the state backend is down the limiter lets requests through (fail open) and
counts the failure in ``kunruyi_shared_state_errors_total``: answering citizens matters more than
limiting them, and the reverse proxy is the place for hard flood protection. After a failure the
limiter does not ask the backend again for BACKOFF_SECONDS, so a hung Redis costs one short
timeout (KUNRUYI_REDIS_TIMEOUT) now and then rather than on every request.

``clock`` (epoch seconds) decides the window; tests pass their own instead of waiting for a minute.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from app.errors import RateLimited
from app.ops.metrics import RATE_LIMITED, STATE_ERRORS
from app.settings import Settings

log = logging.getLogger(__name__)
WINDOW_SECONDS = 60
BACKOFF_SECONDS = 5.0


class RateLimiter:
    def __init__(self, settings: Settings, state, *, clock: Callable[[], float] = time.time):
        self.per_ip = settings.rate_limit_per_ip
        self.per_conversation = settings.rate_limit_per_conversation
        self.state = state
        self.clock = clock
        self._skip_until = 0.0
        self._lock = threading.Lock()

    def check(self, client_ip: str, conversation_id: str | None) -> None:
        window = int(self.clock() // WINDOW_SECONDS)
        if self.per_ip:
            self._hit("ip", f"rl:ip:{client_ip}:{window}", self.per_ip)
        if self.per_conversation and conversation_id:
            self._hit("conversation", f"rl:conv:{conversation_id[:64]}:{window}", self.per_conversation)

    def _hit(self, scope: str, key: str, limit: int) -> None:
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
        if count > limit:
            RATE_LIMITED.labels(scope).inc()
            who = "您的网络地址" if scope == "ip" else "当前会话"
            raise RateLimited(f"{who}提问过于频繁（每分钟最多 {limit} 次），请稍后再试")


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

"""Answer every WeChat message once, within the platform's 5 seconds or moments later.

How one message is handled (``Dispatcher.handle``):

1. ``claim("<channel>:msg:<MsgId>")`` in the shared state. Only the first arrival of a message
   (in any worker) wins and starts computing the answer in a worker thread. A retry that WeChat
   sends while it is computing, or later, never starts a second computation.
2. The winner waits for the answer up to the reply budget (default 4 s, under WeChat's 5 s).
   If it is ready, it is the passive reply; if not, the callback replies at once with a short
   "正在查询…" text, and the worker thread sends the answer through the send API when done.
3. Whoever delivers first claims ``<channel>:sent:<MsgId>``: the passive reply of the first
   request or of a retry, or the worker thread. That claim is the only way to deliver, so an
   answer is delivered once, never twice. A retry that arrives after the answer was ready
   replies passively with it only if nobody has delivered it yet; otherwise it says ``success``.
4. A passive reply holds one part; the other parts of a long answer follow through the send API
   after the response. A part the API refuses (45015: the 48-hour window is closed, 45047, a
   network error) is kept in ``<channel>:pending:<user>`` with the parts after it, and delivered
   before the answer to that user's next message.

If the shared state itself is down, claims fail open: answering matters more than dedupe.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Callable

from app.components.shared_state import SharedState
from app.ops.metrics import WECHAT_DELIVERIES
from app.wechat.api import PlatformApi, SendResult

log = logging.getLogger(__name__)

DEDUPE_TTL_SECONDS = 24 * 3600
POLL_SECONDS = 0.1
ERROR_TEXT = "抱歉，服务暂时出现问题，您的问题已记录，请稍后重试。"


@dataclass
class Reply:
    """What the callback answers now (``text``; None = "success") and what follows through the API."""

    text: str | None = None
    later: list[str] = field(default_factory=list)


class _Handoff:
    """Hands the answer from the worker thread to the waiting request, or tells the thread the
    request has stopped waiting (so the thread must deliver itself). Exactly one of the two."""

    def __init__(self, abandoned: bool = False):
        self._cond = threading.Condition()
        self._parts: list[str] | None = None
        self._abandoned = abandoned

    def wait(self, timeout: float) -> list[str] | None:
        with self._cond:
            self._cond.wait_for(lambda: self._parts is not None, timeout=max(0.0, timeout))
            if self._parts is None:
                self._abandoned = True
            return self._parts

    def offer(self, parts: list[str]) -> bool:
        with self._cond:
            if self._abandoned:
                return False
            self._parts = parts
            self._cond.notify_all()
            return True


class Dispatcher:
    def __init__(self, name: str, state: SharedState, api: PlatformApi, executor: Executor, *,
                 passive: bool, placeholder: str | None, log_personal_data: bool = False,
                 ttl: float = DEDUPE_TTL_SECONDS):
        self.name = name
        self.state = state
        self.api = api
        self.executor = executor
        self.passive = passive
        self.placeholder = placeholder
        self.log_personal_data = log_personal_data
        self.ttl = ttl

    def _key(self, kind: str, ident: str) -> str:
        return f"{self.name}:{kind}:{ident}"

    def _user(self, user: str) -> str:
        return user if self.log_personal_data else hashlib.sha256(user.encode()).hexdigest()[:10]

    def _claim(self, key: str) -> bool:
        try:
            return self.state.claim(key, self.ttl)
        except Exception as exc:  # noqa: BLE001 - fail open, see the module docstring
            log.warning("%s shared state unavailable (%s): %s proceeds without dedupe",
                        self.name, type(exc).__name__, key)
            return True

    # -- the callback side ----------------------------------------------------------------------

    def handle(self, dedupe_id: str, user: str, produce: Callable[[], list[str]], deadline: float) -> Reply:
        """Start (or join) the answer to one message; returns what the callback replies now."""
        if self._claim(self._key("msg", dedupe_id)):
            handoff = _Handoff(abandoned=not self.passive)  # not passive: the worker thread delivers
            self.executor.submit(self._compute, dedupe_id, user, produce, handoff)
            if not self.passive:
                return Reply()
            parts = handoff.wait(deadline - time.monotonic())
            if parts is None:
                log.info("%s message=%s not ready within the budget: delivering through the API",
                         self.name, dedupe_id)
                return Reply(text=self.placeholder)
            return self._take(dedupe_id, user, parts)
        log.info("%s message=%s is a retry: not computed again", self.name, dedupe_id)
        if not self.passive:
            return Reply()
        parts = self._wait_for_answer(dedupe_id, deadline)
        return self._take(dedupe_id, user, parts) if parts is not None else Reply()

    def _wait_for_answer(self, dedupe_id: str, deadline: float) -> list[str] | None:
        """The answer computed for an earlier arrival, if it is ready before the deadline and not yet sent."""
        while True:
            try:
                if self.state.get(self._key("sent", dedupe_id)):
                    return None
                stored = self.state.get(self._key("answer", dedupe_id))
            except Exception as exc:  # noqa: BLE001 - a retry then just says "success"
                log.warning("%s shared state unavailable (%s)", self.name, type(exc).__name__)
                return None
            if stored is not None:
                return json.loads(stored)
            if time.monotonic() + POLL_SECONDS > deadline:
                return None
            time.sleep(POLL_SECONDS)

    def _take(self, dedupe_id: str, user: str, parts: list[str]) -> Reply:
        if not parts or not self._claim(self._key("sent", dedupe_id)):
            return Reply()
        self._record_delivery("passive", user, SendResult(True))
        return Reply(text=parts[0], later=parts[1:])

    # -- the worker side ------------------------------------------------------------------------

    def _compute(self, dedupe_id: str, user: str, produce: Callable[[], list[str]], handoff: _Handoff) -> None:
        try:
            try:
                parts = produce()
            except Exception:  # noqa: BLE001 - the user still gets a reply
                log.exception("%s message=%s answer failed", self.name, dedupe_id)
                parts = [ERROR_TEXT]
            parts = self._take_pending(user) + parts
            if self.passive:
                self._publish(dedupe_id, parts)
            if handoff.offer(parts):
                return
            if self._claim(self._key("sent", dedupe_id)):
                self.deliver(user, parts)
        except Exception:  # noqa: BLE001 - a worker thread must log, never die silently
            log.exception("%s message=%s delivery failed", self.name, dedupe_id)

    def _publish(self, dedupe_id: str, parts: list[str]) -> None:
        """Make the answer visible to retries in any worker (they may reply with it passively)."""
        try:
            self.state.set(self._key("answer", dedupe_id), json.dumps(parts, ensure_ascii=False), self.ttl)
        except Exception as exc:  # noqa: BLE001 - the waiting request and the API still deliver
            log.warning("%s answer not shared (%s)", self.name, type(exc).__name__)

    def _take_pending(self, user: str) -> list[str]:
        try:
            return self.state.pop_all(self._key("pending", user))
        except Exception as exc:  # noqa: BLE001
            log.warning("%s pending deliveries unavailable (%s)", self.name, type(exc).__name__)
            return []

    def deliver(self, user: str, parts: list[str]) -> bool:
        """Send parts in order through the API; on the first refusal keep it and the rest for later."""
        for i, part in enumerate(parts):
            result = self.api.send_text(user, part)
            self._record_delivery("api", user, result)
            if not result.ok:
                for rest in parts[i:]:
                    self.state.push(self._key("pending", user), rest)
                log.warning("%s kept %d part(s) for user=%s's next message", self.name, len(parts) - i,
                            self._user(user))
                return False
        return True

    def _record_delivery(self, via: str, user: str, result: SendResult) -> None:
        """The one place every delivery outcome passes (logged and counted in /metrics)."""
        WECHAT_DELIVERIES.labels(self.name, f"{via}_{'ok' if result.ok else 'failed'}").inc()
        log.info("%s delivery via=%s user=%s ok=%s errcode=%s errmsg=%s", self.name, via, self._user(user),
                 result.ok, result.errcode, result.errmsg)

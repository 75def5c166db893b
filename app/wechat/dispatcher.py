"""Answer every WeChat message once, within the platform's 5 seconds or moments later.

How one message is handled (``Dispatcher.handle``):

1. ``claim("<channel>:msg:<MsgId>")`` in the shared state. Only the first arrival of a message
   (in any worker) wins and starts computing the answer in a worker thread. A retry that WeChat
   sends while it is computing, or later, never starts a second computation.
2. The winner waits for the answer up to the reply budget (default 3 s, see docs/wechat.md for the
   margin measured under load). If it is ready, it is the passive reply; if not, the callback
   replies at once with a short "正在查询…" text, and the worker thread sends the answer through
   the send API when done.
3. Whoever delivers first claims ``<channel>:sent:<MsgId>``: the passive reply of the first
   request or of a retry, or the worker thread. That claim is the only way to deliver, so an
   answer is delivered once, never twice. A retry that arrives after the answer was ready
   replies passively with it only if nobody has delivered it yet; otherwise it says ``success``.
4. A passive reply holds one part; the other parts of a long answer follow through the send API
   after the response.
5. A part the API refuses for a reason the user's next message removes (45015: the 48-hour window
   is closed, 45047: too many messages, a network error, a busy platform) is kept with the parts
   after it as *the* kept answer of that user (``<channel>:pending:<user>``, one answer at most,
   a newer one replaces it, expires after a week). It is delivered after the answer to the user's
   next message, labelled as the answer to the earlier question; it never takes the place of the
   current answer. A permanent refusal (48001: no permission, 43004: unsubscribed, 40003: not an
   OpenID of this account, any other code) keeps nothing: sending it again would fail again.

If the shared state itself is down, claims fail open: answering matters more than dedupe.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from concurrent.futures import Executor
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Callable

from app.components.shared_state import SharedState
from app.ops.metrics import WECHAT_DELIVERIES
from app.wechat.api import PlatformApi, SendResult
from app.wechat.formatting import MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)

DEDUPE_TTL_SECONDS = 24 * 3600
PENDING_TTL_SECONDS = 7 * 24 * 3600
POLL_SECONDS = 0.1
ERROR_TEXT = "抱歉，服务暂时出现问题，您的问题已记录，请稍后重试。"

# Refusals that the user's next message (or a moment) cures: the parts are kept for that message.
# None: no answer from the platform (network error, timeout); -1: platform busy; 45009: API call
# quota; 45015: 48-hour window closed; 45047: too many messages in a row; token errors that survived
# the one refresh. Anything else (48001, 43004, 40003, 45002, 40164, 60020, 81013 …) is permanent.
RETRYABLE_ERRCODES = frozenset({None, -1, 45009, 45015, 45047, 40001, 40014, 42001})

TOPIC_CHARS = 24
KEPT_LABEL = "（补发）您之前的提问“{topic}”的答复当时未能送达，现补发如下：\n"
KEPT_LABEL_NO_TOPIC = "（补发）您之前的消息的答复当时未能送达，现补发如下：\n"
# Parts are cut this much under the message limit, so a kept first part has room for its label.
LABEL_RESERVE_BYTES = len(KEPT_LABEL.format(topic="字" * (TOPIC_CHARS + 1)).encode()) + 8
PART_LIMIT_BYTES = MAX_MESSAGE_BYTES - LABEL_RESERVE_BYTES


def retryable(result: SendResult) -> bool:
    return result.errcode in RETRYABLE_ERRCODES


def _topic(question: str) -> str:
    question = " ".join(question.split())
    return question if len(question) <= TOPIC_CHARS else question[:TOPIC_CHARS] + "…"


@dataclass
class Kept:
    """Undelivered parts of the answer to one earlier message, and what that message asked."""

    parts: list[str]
    topic: str = ""

    def labelled(self) -> list[str]:
        """The parts to send, the first one saying which earlier question they answer."""
        label = KEPT_LABEL.format(topic=self.topic) if self.topic else KEPT_LABEL_NO_TOPIC
        first = label + self.parts[0]
        if len(first.encode("utf-8")) <= MAX_MESSAGE_BYTES:
            return [first, *self.parts[1:]]
        return [label.rstrip("\n"), *self.parts]  # only for parts not cut with the reserve

    def to_json(self) -> str:
        return json.dumps({"parts": self.parts, "topic": self.topic}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | None) -> "Kept | None":
        if not text:
            return None
        try:
            data = json.loads(text)
            parts = [str(p) for p in data["parts"] if p]
        except (ValueError, KeyError, TypeError):
            return None
        return cls(parts, str(data.get("topic") or "")) if parts else None


@dataclass
class Reply:
    """What the callback answers now (``text``; None = "success") and what follows through the API:
    the rest of this answer (``later``), then an earlier answer that could not be delivered."""

    text: str | None = None
    later: list[str] = field(default_factory=list)
    topic: str = ""
    earlier: Kept | None = None

    @property
    def follows(self) -> bool:
        return bool(self.later or self.earlier)


@dataclass
class _Answer:
    parts: list[str]
    topic: str = ""
    earlier: Kept | None = None

    def to_json(self) -> str:
        return json.dumps({"parts": self.parts, "topic": self.topic,
                           "earlier": json.loads(self.earlier.to_json()) if self.earlier else None},
                          ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "_Answer":
        data: dict[str, Any] = json.loads(text)
        earlier = data.get("earlier")
        return cls(list(data["parts"]), data.get("topic") or "",
                   Kept.from_json(json.dumps(earlier)) if earlier else None)


class _Handoff:
    """Hands the answer from the worker thread to the waiting request, or tells the thread the
    request has stopped waiting (so the thread must deliver itself). Exactly one of the two."""

    def __init__(self, abandoned: bool = False):
        self._cond = threading.Condition()
        self._answer: _Answer | None = None
        self._abandoned = abandoned

    def wait(self, timeout: float) -> _Answer | None:
        with self._cond:
            self._cond.wait_for(lambda: self._answer is not None, timeout=max(0.0, timeout))
            if self._answer is None:
                self._abandoned = True
            return self._answer

    def offer(self, answer: _Answer) -> bool:
        with self._cond:
            if self._abandoned:
                return False
            self._answer = answer
            self._cond.notify_all()
            return True


@dataclass(eq=False)
class Dispatcher:
    name: str
    state: SharedState
    api: PlatformApi
    executor: Executor
    _: KW_ONLY
    passive: bool
    placeholder: str | None
    log_personal_data: bool = False
    ttl: float = DEDUPE_TTL_SECONDS
    pending_ttl: float = PENDING_TTL_SECONDS
    _busy: int = field(default=0, init=False, repr=False)  # computations and deliveries in flight (see ``drain``)
    _idle: threading.Condition = field(default_factory=threading.Condition, init=False, repr=False)

    def _enter(self) -> None:
        with self._idle:
            self._busy += 1

    def _leave(self) -> None:
        with self._idle:
            self._busy -= 1
            self._idle.notify_all()

    def drain(self, timeout: float) -> bool:
        """Wait until no answer is being computed or delivered (shutdown, tests); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout=timeout)

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

    def handle(self, dedupe_id: str, user: str, produce: Callable[[], list[str]], deadline: float,
               question: str = "") -> Reply:
        """Start (or join) the answer to one message; returns what the callback replies now.

        ``question`` names the message if its answer has to be kept and sent later."""
        if self._claim(self._key("msg", dedupe_id)):
            handoff = _Handoff(abandoned=not self.passive)  # not passive: the worker thread delivers
            self._enter()
            self.executor.submit(self._compute, dedupe_id, user, produce, _topic(question), handoff)
            if not self.passive:
                return Reply()
            answer = handoff.wait(deadline - time.monotonic())
            if answer is None:
                log.info("%s message=%s not ready within the budget: delivering through the API",
                         self.name, dedupe_id)
                return Reply(text=self.placeholder)
            return self._take(dedupe_id, user, answer)
        log.info("%s message=%s is a retry: not computed again", self.name, dedupe_id)
        if not self.passive:
            return Reply()
        answer = self._wait_for_answer(dedupe_id, deadline)
        return self._take(dedupe_id, user, answer) if answer is not None else Reply()

    def _wait_for_answer(self, dedupe_id: str, deadline: float) -> _Answer | None:
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
                return _Answer.from_json(stored)
            if time.monotonic() + POLL_SECONDS > deadline:
                return None
            time.sleep(POLL_SECONDS)

    def _take(self, dedupe_id: str, user: str, answer: _Answer) -> Reply:
        if not answer.parts or not self._claim(self._key("sent", dedupe_id)):
            return Reply()
        self._record_delivery("passive", user, SendResult(True))
        return Reply(text=answer.parts[0], later=answer.parts[1:], topic=answer.topic, earlier=answer.earlier)

    # -- the worker side ------------------------------------------------------------------------

    def _compute(self, dedupe_id: str, user: str, produce: Callable[[], list[str]], topic: str,
                 handoff: _Handoff) -> None:
        try:
            try:
                parts = produce()
            except Exception:  # noqa: BLE001 - the user still gets a reply
                log.exception("%s message=%s answer failed", self.name, dedupe_id)
                parts = [ERROR_TEXT]
            answer = _Answer(parts, topic, self._take_pending(user))
            if self.passive:
                self._publish(dedupe_id, answer)
            if handoff.offer(answer):
                return
            if self._claim(self._key("sent", dedupe_id)):
                self.deliver(user, answer.parts, topic=answer.topic, earlier=answer.earlier)
        except Exception:  # noqa: BLE001 - a worker thread must log, never die silently
            log.exception("%s message=%s delivery failed", self.name, dedupe_id)
        finally:
            self._leave()

    def _publish(self, dedupe_id: str, answer: _Answer) -> None:
        """Make the answer visible to retries in any worker (they may reply with it passively)."""
        try:
            self.state.set(self._key("answer", dedupe_id), answer.to_json(), self.ttl)
        except Exception as exc:  # noqa: BLE001 - the waiting request and the API still deliver
            log.warning("%s answer not shared (%s)", self.name, type(exc).__name__)

    def _take_pending(self, user: str) -> Kept | None:
        try:
            return Kept.from_json(self.state.take(self._key("pending", user)))
        except Exception as exc:  # noqa: BLE001
            log.warning("%s kept answer unavailable (%s)", self.name, type(exc).__name__)
            return None

    def _keep(self, user: str, kept: Kept) -> None:
        """Keep these parts for the user's next message, replacing any answer kept before."""
        try:
            self.state.set(self._key("pending", user), kept.to_json(), self.pending_ttl)
        except Exception as exc:  # noqa: BLE001
            log.warning("%s could not keep %d part(s) for user=%s (%s)", self.name, len(kept.parts),
                        self._user(user), type(exc).__name__)
            return
        log.warning("%s kept %d part(s) for user=%s's next message", self.name, len(kept.parts), self._user(user))

    def deliver_later(self, user: str, reply: Reply) -> bool:
        """After a passive reply: the rest of its answer, then the earlier kept answer."""
        return self.deliver(user, reply.later, topic=reply.topic, earlier=reply.earlier)

    def deliver(self, user: str, parts: list[str], *, topic: str = "", earlier: Kept | None = None) -> bool:
        """Send this answer's parts, then the earlier kept answer (labelled), through the API.

        On a refusal the unsent parts are kept (one answer at most, see the module docstring)
        when the refusal is retryable; an earlier answer not sent by then is dropped."""
        self._enter()
        try:
            sent, result = self._send(user, parts)
            if result is not None:
                self._refused(user, Kept(parts[sent:], topic), result)
                if earlier:
                    log.warning("%s dropped an earlier answer of %d part(s) for user=%s: only the latest is kept",
                                self.name, len(earlier.parts), self._user(user))
                return False
            if earlier:
                labelled = earlier.labelled()
                sent, result = self._send(user, labelled)
                if result is not None:
                    unsent = earlier.parts[max(0, sent - (len(labelled) - len(earlier.parts))):]
                    self._refused(user, Kept(unsent, earlier.topic), result)
                    return False
            return True
        finally:
            self._leave()

    def _send(self, user: str, parts: list[str]) -> tuple[int, SendResult | None]:
        """Send in order until a refusal: (parts sent, the refusal or None)."""
        for i, part in enumerate(parts):
            result = self.api.send_text(user, part)
            self._record_delivery("api", user, result)
            if not result.ok:
                return i, result
        return len(parts), None

    def _refused(self, user: str, unsent: Kept, result: SendResult) -> None:
        if not unsent.parts:
            return
        if retryable(result):
            self._keep(user, unsent)
        else:
            log.warning("%s dropped %d part(s) for user=%s: errcode=%s is permanent, sending again would fail",
                        self.name, len(unsent.parts), self._user(user), result.errcode)

    def _record_delivery(self, via: str, user: str, result: SendResult) -> None:
        """The one place every delivery outcome passes (logged and counted in /metrics)."""
        WECHAT_DELIVERIES.labels(self.name, f"{via}_{'ok' if result.ok else 'failed'}").inc()
        log.info("%s delivery via=%s user=%s ok=%s errcode=%s errmsg=%s", self.name, via, self._user(user),
                 result.ok, result.errcode, result.errmsg)

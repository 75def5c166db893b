"""Delivery of the push queue: one worker per batch (a lease in the shared state), state per push
in the database, so a killed sender's batch is resumed by the next one.

Each push is marked ``inflight`` (committed) before its HTTP call and ``sent`` after it. A push
found ``inflight`` when a batch is resumed was cut off by a dead sender: the platform may or may
not have delivered it and offers no way to ask, so it is recorded as ``unknown`` and not sent
again (never the same push twice); with KUNRUYI_PUSH_CONCURRENCY subscribers sent to side by side,
at most that many. Every other push goes out once.

Outcomes: 0 sent; 40001/42001 the token is fetched again and the call retried (PlatformApi), then
backoff; HTTP 5xx, network errors, -1 and 45009 retried with exponential backoff up to
max_attempts; 45015/45047 on a customer-service message: sent as a subscription message instead;
43101 (the user refused the subscription message), 43004 (not following the account), 40003
(unknown OpenID), WeCom invaliduser: failed and the subscriber paused.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import func, select, update
from sqlalchemy.orm import sessionmaker

from app.components.shared_state import SharedState
from app.pushes.models import (
    ACTIVE, APPROVED, DONE, FAILED, INFLIGHT, QUEUED, SENDING, SENT, SKIPPED, UNKNOWN, PushBatchRow, PushRow,
    SubscriptionRow,
)
from app.settings import PushSettings
from app.wechat.api import TOKEN_ERRORS, ApiError, PlatformApi

log = logging.getLogger(__name__)

BIZSEND_PATH = "/cgi-bin/message/subscribe/bizsend"
PERMANENT = {43101: "用户拒绝接收订阅消息", 43004: "用户未关注公众号", 40003: "OpenID 无效",
             81013: "用户不在企业微信可见范围"}
RETRY = {-1, 45009, 45011}
CS_FALLBACK = {45015, 45047}
PAGE = 200


@dataclass
class Outcome:
    status: str               # sent | retry | failed
    via: str
    errcode: int | None = None
    error: str = ""
    pause: bool = False


def render_text(content: dict[str, Any]) -> str:
    """The message: programme, amount, window, one link to the item's page."""
    head = {"new": "【政策推送】您可能符合新发布政策的申报条件", "open": "【申报提醒】您可能符合的政策已开始申报",
            "closing": "【截止提醒】您可能符合的政策即将截止申报", "expired": "【政策到期】您关注的政策已到期",
            "replaced": "【政策更新】您关注的政策已被替代", "test": "【测试消息】政策推送测试"}.get(content.get("kind", ""), "【政策推送】")
    lines = [head, f"项目：《{content.get('title', '')}》{content.get('article', '')} {content.get('programme', '')}".strip()]
    if content.get("amount") and content["amount"] != "—":
        lines.append(f"金额：{content['amount']}")
    if content.get("window") and content["window"] != "—":
        lines.append(f"申报时间：{content['window']}")
    if content.get("note"):
        lines.append(content["note"])
    if content.get("status"):
        lines.append(f"匹配结果：{content['status']}（以原文和主管部门审核为准）")
    lines.append(f"详情：{content.get('url', '')}")
    lines.append("回复“退订”停止推送，回复“删除我的信息”删除您的企业信息。")
    return "\n".join(lines)


def _thing(text: str, limit: int = 20) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


class Delivery:
    """Sends one push through the channel of its subscriber."""

    def __init__(self, settings: PushSettings, mp: PlatformApi | None, work: PlatformApi | None,
                 *, recent_writers: Callable[[str, list[str]], set[str]] | None = None):
        self.settings = settings
        self.mp = mp
        self.work = work
        self.recent_writers = recent_writers or (lambda channel, users: set())

    def send(self, channel: str, user: str, content: dict[str, Any], *, wrote_recently: bool) -> Outcome:
        if channel == "wework":
            if self.work is None:
                return Outcome("failed", "wework", None, "企业微信未配置")
            return self._text(self.work, user, content, "wework")
        if self.mp is None:
            return Outcome("failed", "subscribe", None, "公众号未配置")
        if wrote_recently:
            out = self._text(self.mp, user, content, "custom")
            if out.errcode not in CS_FALLBACK:
                return out
        return self._bizsend(user, content)

    def _text(self, api: PlatformApi, user: str, content: dict[str, Any], via: str) -> Outcome:
        result = api.send_text(user, render_text(content))
        if result.ok:
            return Outcome("sent", via, 0)
        if result.errcode == 0 and result.errmsg.startswith("invaliduser"):
            return Outcome("failed", via, 0, "用户不在企业微信应用可见范围或不存在", pause=True)
        return self._classify(result.errcode, result.errmsg, via)

    def _classify(self, errcode: int | None, errmsg: str, via: str) -> Outcome:
        if errcode in PERMANENT:
            return Outcome("failed", via, errcode, PERMANENT[errcode], pause=True)
        if errcode is None or errcode in RETRY or errcode in TOKEN_ERRORS or errcode in CS_FALLBACK:
            return Outcome("retry", via, errcode, errmsg)
        return Outcome("failed", via, errcode, errmsg)

    def _bizsend(self, user: str, content: dict[str, Any]) -> Outcome:
        if not self.settings.template_id:
            return Outcome("failed", "subscribe", None, "未配置订阅消息模板（KUNRUYI_PUSH_TEMPLATE_ID）")
        names = [n.strip() for n in self.settings.template_fields.split(",") if n.strip()]
        values = [content.get("programme") or content.get("title", ""), content.get("amount_short") or content.get("amount", ""),
                  content.get("window", ""), content.get("note") or content.get("status", "")]
        payload = {"touser": user, "template_id": self.settings.template_id, "page": content.get("url", ""),
                   "data": {name: {"value": _thing(value or "—")} for name, value in zip(names, values)}}
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        api = self.mp
        try:
            body = self._post(api, data, api.access_token())
            if int(body.get("errcode") or 0) in TOKEN_ERRORS:
                body = self._post(api, data, api.access_token(refresh=True))
        except ApiError as exc:
            return self._classify(exc.errcode, exc.errmsg, "subscribe")
        errcode = int(body.get("errcode") or 0)
        if errcode == 0:
            return Outcome("sent", "subscribe", 0)
        return self._classify(errcode, str(body.get("errmsg", "")), "subscribe")

    @staticmethod
    def _post(api: PlatformApi, data: bytes, token: str) -> dict[str, Any]:
        return api._call("POST", BIZSEND_PATH, params={"access_token": token}, content=data,
                         headers={"Content-Type": "application/json; charset=utf-8"})


class Sender:
    def __init__(self, sessions: sessionmaker, state: SharedState, delivery: Delivery, settings: PushSettings, *,
                 clock: Callable[[], float] = time.time,
                 local_now: Callable[[], dt.datetime] | None = None):
        self._sessions = sessions
        self.state = state
        self.delivery = delivery
        self.settings = settings
        self.clock = clock
        self.local_now = local_now or (lambda: dt.datetime.fromtimestamp(
            clock(), dt.timezone(dt.timedelta(hours=settings.utc_offset_hours))))
        self.owner = secrets.token_hex(8)
        self.after_send: Callable[[int], None] | None = None  # tests: called after each push is recorded
        self._pool = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="pushes-send")

    # -- rules ------------------------------------------------------------------------------------

    def quiet_until(self) -> float | None:
        """Epoch seconds when quiet hours end, or None outside them."""
        spec = self.settings.quiet_hours
        if not spec:
            return None
        start, end = (dt.time.fromisoformat(p) for p in spec.split("-"))
        now = self.local_now()
        t = now.time()
        inside = (start <= t < end) if start < end else (t >= start or t < end)
        if not inside:
            return None
        until = now.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
        if until <= now:
            until += dt.timedelta(days=1)
        return until.timestamp()

    # -- the loop ---------------------------------------------------------------------------------

    def send_due(self, *, max_batches: int = 20) -> dict[str, int]:
        """Send what is due in every approved batch this worker can lock. Returns counts."""
        totals = {"sent": 0, "failed": 0, "retry": 0, "skipped": 0, "locked": 0}
        if self.quiet_until() is not None:
            return totals
        with self._sessions() as session:
            ids = list(session.scalars(select(PushBatchRow.id).where(PushBatchRow.status.in_((APPROVED, SENDING)))
                                       .order_by(PushBatchRow.id).limit(max_batches)))
        for batch_id in ids:
            done = self.send_batch(batch_id)
            for key, value in done.items():
                totals[key] = totals.get(key, 0) + value
        return totals

    def send_batch(self, batch_id: int) -> dict[str, int]:
        counts = {"sent": 0, "failed": 0, "retry": 0, "skipped": 0, "locked": 0}
        lock = f"pushes:batch:{batch_id}"
        if not self.state.claim(lock, self.settings.lease_seconds, value=self.owner):
            counts["locked"] = 1
            return counts
        renewed = time.monotonic()
        try:
            with self._sessions.begin() as session:
                batch = session.get(PushBatchRow, batch_id)
                if batch is None or batch.status not in (APPROVED, SENDING):
                    return counts
                batch.status = SENDING
                # We hold the lock: whatever is in flight was cut off by a sender that died.
                session.execute(update(PushRow).where(PushRow.batch_id == batch_id, PushRow.status == INFLIGHT)
                                .values(status=UNKNOWN, error="发送进程中断，无法确认是否送达（不重发）"))
            while True:
                if self.quiet_until() is not None:
                    break
                page = self._page(batch_id)
                if not page:
                    break
                if time.monotonic() - renewed > self.settings.lease_seconds / 3:
                    self.state.set(lock, self.owner, ttl_seconds=self.settings.lease_seconds)
                    renewed = time.monotonic()
                # Each subscriber's pushes in order on one thread (the weekly count stays exact);
                # subscribers side by side, so the platform's rate is the limit, not the round trips.
                groups: dict[int, list] = {}
                for push, sub in page:
                    groups.setdefault(sub["id"] if sub else -push["id"], []).append((push, sub))
                for results in self._pool.map(self._group, groups.values()):
                    for result in results:
                        counts[result] = counts.get(result, 0) + 1
            self._finish(batch_id)
        finally:
            if self.state.get(lock) == self.owner:
                self.state.delete(lock)
        return counts

    def _group(self, pairs: list) -> list[str]:
        out = []
        for push, sub in pairs:
            out.append(self._one(push, sub))
            if self.after_send:
                self.after_send(push["id"])
        return out

    def _page(self, batch_id: int) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
        now = self.clock()
        with self._sessions() as session:
            pushes = session.execute(
                select(PushRow.id, PushRow.subscription_id, PushRow.content, PushRow.attempts)
                .where(PushRow.batch_id == batch_id, PushRow.status == QUEUED, PushRow.next_at <= now)
                .order_by(PushRow.id).limit(PAGE)).all()
            if not pushes:
                return []
            sub_ids = list({p.subscription_id for p in pushes})
            subs = {r.id: {"id": r.id, "channel": r.channel, "user_ref": r.user_ref, "status": r.status}
                    for r in session.execute(select(SubscriptionRow.id, SubscriptionRow.channel,
                                                    SubscriptionRow.user_ref, SubscriptionRow.status)
                                             .where(SubscriptionRow.id.in_(sub_ids)))}
            week = dt.datetime.fromtimestamp(now - 7 * 86400, dt.timezone.utc)
            sent = dict(session.execute(select(PushRow.subscription_id, func.count()).where(
                PushRow.subscription_id.in_(sub_ids), PushRow.status == SENT, PushRow.sent_at >= week)
                .group_by(PushRow.subscription_id)).all())
        recent: set[str] = set()
        mp_users = [s["user_ref"] for s in subs.values() if s["channel"] == "wechat"]
        if mp_users:
            recent = self.delivery.recent_writers("wechat", mp_users)
        for sub in subs.values():
            sub["sent_week"] = sent.get(sub["id"], 0)
            sub["recent"] = sub["user_ref"] in recent
        return [({"id": p.id, "content": p.content, "attempts": p.attempts}, subs.get(p.subscription_id))
                for p in pushes]

    def _record(self, push_id: int, **values) -> None:
        with self._sessions.begin() as session:
            session.execute(update(PushRow).where(PushRow.id == push_id).values(**values))

    def _one(self, push: dict[str, Any], sub: dict[str, Any] | None) -> str:
        if sub is None or sub["status"] != ACTIVE:
            self._record(push["id"], status=SKIPPED, error="订阅已结束或暂停")
            return "skipped"
        limit = self.settings.weekly_limit
        if limit and sub["sent_week"] >= limit:
            self._record(push["id"], status=SKIPPED, error=f"超过每周推送上限（{limit}条）")
            return "skipped"
        attempts = push["attempts"] + 1
        self._record(push["id"], status=INFLIGHT, attempts=attempts)
        try:
            out = self.delivery.send(sub["channel"], sub["user_ref"], push["content"], wrote_recently=sub["recent"])
        except Exception as exc:  # noqa: BLE001 - an unexpected failure is retried like a 5xx
            log.exception("pushes: push %s failed unexpectedly", push["id"])
            out = Outcome("retry", "", None, type(exc).__name__)
        if out.status == "sent":
            self._record(push["id"], status=SENT, via=out.via, errcode=0, error=None, sent_at=dt.datetime.now(dt.timezone.utc))
            sub["sent_week"] += 1
            return "sent"
        if out.status == "retry" and attempts < self.settings.max_attempts:
            delay = self.settings.backoff_seconds * (2 ** (attempts - 1))
            self._record(push["id"], status=QUEUED, via=out.via, errcode=out.errcode, error=out.error[:500],
                         next_at=self.clock() + delay)
            return "retry"
        self._record(push["id"], status=FAILED, via=out.via, errcode=out.errcode, error=out.error[:500])
        if out.pause:
            with self._sessions.begin() as session:
                row = session.get(SubscriptionRow, sub["id"])
                if row is not None and row.status == ACTIVE:
                    row.status, row.paused_reason = "paused", f"{out.errcode}: {out.error}"[:200]
                session.execute(update(PushRow).where(PushRow.subscription_id == sub["id"], PushRow.status == QUEUED)
                                .values(status=SKIPPED, error="订阅已暂停"))
            sub["status"] = "paused"
        return "failed"

    def _finish(self, batch_id: int) -> None:
        with self._sessions.begin() as session:
            left = session.scalar(select(func.count(PushRow.id)).where(
                PushRow.batch_id == batch_id, PushRow.status.in_((QUEUED, INFLIGHT))))
            batch = session.get(PushBatchRow, batch_id)
            if not left and batch is not None and batch.status == SENDING:
                batch.status, batch.finished_at = DONE, dt.datetime.now(dt.timezone.utc)


def recent_writers_from(sessions: sessionmaker, hours: float, clock: Callable[[], float] = time.time):
    """users -> those who wrote to the channel within ``hours`` (the customer-service window)."""
    from app.components.conversations import ConversationRow, MessageRow

    def recent(channel: str, users: list[str]) -> set[str]:
        if hours <= 0:
            return set()
        since = dt.datetime.fromtimestamp(clock() - hours * 3600, dt.timezone.utc)
        with sessions() as session:
            return set(session.scalars(
                select(ConversationRow.user_ref).join(MessageRow, MessageRow.conversation_id == ConversationRow.id)
                .where(ConversationRow.channel == channel, ConversationRow.user_ref.in_(users),
                       MessageRow.role == "user", MessageRow.created_at >= since).distinct()))

    return recent

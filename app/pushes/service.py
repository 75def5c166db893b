"""Subscriptions, triggers and the push queue.

Triggers put rows in ``pushes`` (unique per subscriber × item × trigger key, so no event pushes
the same thing twice), grouped in a batch per event that waits for staff approval when
KUNRUYI_PUSH_REVIEW is on:

* ``on_version(doc_id)`` — a document version became live (the watcher calls it once per
  version): its items that are eligible or possible for a subscriber, and a 替代 notice to those
  who asked about or were pushed a document it replaces;
* ``scan(today)`` — once a day: windows that opened (up to 2 days ago) or close within
  ``remind_days``, and documents that expired (up to 3 days ago) for those who asked about or
  were pushed them.

The sender (``app.pushes.sender``) delivers the queue.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import sessionmaker

from app.facts.matching import ELIGIBLE, POSSIBLE, STATUS_CN, CompanyProfile, Match, Matcher, window_dates
from app.facts.store import REJECTED, PolicyItemRow
from app.pushes.models import (
    ACTIVE, APPROVED, CANCELLED, DONE, ENDED, PAUSED, QUEUED, REVIEW, SENDING, SENT, SKIPPED, PushBatchRow, PushRow,
    SeenVersionRow, SubscriptionRow,
)
from app.settings import PushSettings
from zhtext.validity import cn_date, in_force

log = logging.getLogger(__name__)

# Subscription topics -> the item benefits (app.facts.extract.BENEFITS) they cover.
TOPICS: dict[str, tuple[str, ...]] = {
    "资金奖补": ("补贴", "奖励", "贴息"),
    "人才": ("人才",),
    "用地": ("用地",),
    "资质认定": ("资质认定",),
}
BASELINE = ("", "baseline")  # the watcher's row saying "versions live before pushes existed are not news"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def doc_key(doc_id: str) -> str:
    """A document-level push's item id (fits the item_id column)."""
    return "d" + hashlib.sha1(doc_id.encode()).hexdigest()[:15]


@dataclass
class Subscriber:
    id: int
    channel: str
    user_ref: str
    profile: CompanyProfile
    topics: tuple[str, ...]

    def wants(self, benefit: str) -> bool:
        if not self.topics:
            return True
        return any(benefit in TOPICS.get(t, (t,)) for t in self.topics)


def window_text(m: Match) -> str:
    if m.opens and m.closes:
        end = f"{m.closes.month}月{m.closes.day}日" if m.closes.year == m.opens.year else cn_date(m.closes)
        return f"{cn_date(m.opens)}至{end}"
    if m.closes:
        return f"{cn_date(m.closes)}前"
    return m.item.window.text or "以原文为准"


class PushService:
    def __init__(self, sessions: sessionmaker, matcher: Matcher, registry, settings: PushSettings, *,
                 public_base_url: str = "", clock: Callable[[], float] = time.time):
        self._sessions = sessions
        self.matcher = matcher
        self.registry = registry
        self.settings = settings
        self.public_base_url = public_base_url.rstrip("/")
        self.clock = clock
        self._watched = -1  # the index generation watch() last handled
        dialect = sessions.kw["bind"].dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        self._insert = insert

    # -- time -------------------------------------------------------------------------------------

    def local_now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), dt.timezone(dt.timedelta(hours=self.settings.utc_offset_hours)))

    def today(self) -> dt.date:
        return self.local_now().date()

    # -- subscriptions ----------------------------------------------------------------------------

    def subscription(self, channel: str, user_ref: str) -> SubscriptionRow | None:
        with self._sessions() as session:
            return session.scalars(select(SubscriptionRow).where(SubscriptionRow.channel == channel,
                                                                 SubscriptionRow.user_ref == user_ref)).first()

    def subscribe(self, channel: str, user_ref: str, profile: CompanyProfile | dict[str, Any], *,
                  topics: Iterable[str] = (), region: str | None = None) -> SubscriptionRow:
        """Create or renew a subscription (a paused or ended one becomes active again)."""
        data = (profile if isinstance(profile, CompanyProfile) else CompanyProfile(**profile)).model_dump(exclude_none=True)
        topics = [t for t in topics if t in TOPICS]
        with self._sessions.begin() as session:
            row = session.scalars(select(SubscriptionRow).where(SubscriptionRow.channel == channel,
                                                                SubscriptionRow.user_ref == user_ref)).first()
            if row is None:
                row = SubscriptionRow(channel=channel, user_ref=user_ref)
                session.add(row)
            row.profile, row.topics, row.region = data, topics, region or data.get("district")
            row.status, row.paused_reason, row.step = ACTIVE, None, None
            session.flush()
            return row

    def set_step(self, channel: str, user_ref: str, step: str | None) -> None:
        """Remember a question awaiting the user's answer (a row with status ended holds it)."""
        with self._sessions.begin() as session:
            row = session.scalars(select(SubscriptionRow).where(SubscriptionRow.channel == channel,
                                                                SubscriptionRow.user_ref == user_ref)).first()
            if row is None:
                if step is None:
                    return
                row = SubscriptionRow(channel=channel, user_ref=user_ref, profile={}, topics=[], status=ENDED)
                session.add(row)
            row.step = step

    def unsubscribe(self, channel: str, user_ref: str) -> bool:
        """End a subscription; its queued pushes are dropped. False if there was none."""
        with self._sessions.begin() as session:
            row = session.scalars(select(SubscriptionRow).where(SubscriptionRow.channel == channel,
                                                                SubscriptionRow.user_ref == user_ref)).first()
            if row is None or row.status == ENDED:
                if row is not None:
                    row.step = None
                return False
            row.status, row.step = ENDED, None
            session.execute(update(PushRow).where(PushRow.subscription_id == row.id, PushRow.status == QUEUED)
                            .values(status=SKIPPED, error="unsubscribed"))
            return True

    def forget(self, channel: str, user_ref: str) -> bool:
        """删除我的信息: the subscription, its company profile and every push record of it."""
        with self._sessions.begin() as session:
            row = session.scalars(select(SubscriptionRow).where(SubscriptionRow.channel == channel,
                                                                SubscriptionRow.user_ref == user_ref)).first()
            if row is None:
                return False
            session.execute(delete(PushRow).where(PushRow.subscription_id == row.id))
            session.delete(row)
            return True

    def pause(self, subscription_id: int, reason: str) -> None:
        with self._sessions.begin() as session:
            row = session.get(SubscriptionRow, subscription_id)
            if row is not None and row.status == ACTIVE:
                row.status, row.paused_reason = PAUSED, reason[:200]

    def subscribers(self, ids: Iterable[int] | None = None) -> list[Subscriber]:
        with self._sessions() as session:
            query = select(SubscriptionRow.id, SubscriptionRow.channel, SubscriptionRow.user_ref,
                           SubscriptionRow.profile, SubscriptionRow.topics, SubscriptionRow.region
                           ).where(SubscriptionRow.status == ACTIVE)
            if ids is not None:
                query = query.where(SubscriptionRow.id.in_(list(ids)))
            rows = session.execute(query).all()
        out = []
        for sid, channel, user_ref, profile, topics, region in rows:
            data = dict(profile or {})
            if region and not data.get("district"):
                data["district"] = region
            try:
                parsed = CompanyProfile(**data)
            except ValueError:
                parsed = CompanyProfile()
            out.append(Subscriber(sid, channel, user_ref, parsed, tuple(topics or ())))
        return out

    # -- queueing ---------------------------------------------------------------------------------

    def _batch(self, session, key: str, trigger: str, title: str, doc_id: str | None) -> PushBatchRow:
        stmt = self._insert(PushBatchRow.__table__).values(
            key=key[:200], trigger=trigger, title=title[:500], doc_id=doc_id,
            status=REVIEW if self.settings.review else APPROVED, total=0, created_at=_now())
        session.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))
        return session.scalars(select(PushBatchRow).where(PushBatchRow.key == key[:200])).one()

    def _enqueue(self, key: str, trigger: str, title: str, doc_id: str | None,
                 rows: list[dict[str, Any]]) -> int | None:
        """One batch per event; rows already queued for the same subscriber × item × trigger are
        left out. Returns the batch id, or None when nothing new was queued."""
        if not rows:
            return None
        with self._sessions.begin() as session:
            batch = self._batch(session, key, trigger, title, doc_id)
            status = SKIPPED if batch.status == CANCELLED else QUEUED
            for row in rows:
                row.update(batch_id=batch.id, status=status, attempts=0, next_at=0.0, created_at=_now())
            before = batch.total
            table = PushRow.__table__
            for start in range(0, len(rows), 2000):
                stmt = self._insert(table).on_conflict_do_nothing(
                    index_elements=["subscription_id", "item_id", "trigger_key"])
                session.execute(stmt, rows[start:start + 2000])
            total = session.scalar(select(func.count(PushRow.id)).where(PushRow.batch_id == batch.id))
            batch.total = total
            if total > before and batch.status == DONE:
                batch.status, batch.finished_at = SENDING, None
            added = total - before
        if added:
            log.info("pushes: batch %s (%s) queued %d", batch.id, key, added)
        return batch.id if added else None

    def content(self, m: Match, kind: str, today: dt.date, note: str = "") -> dict[str, Any]:
        i = m.item
        amount = i.amount_text or (f"最高{i.amount_max_wan:g}万元" if i.amount_max_wan else "以原文为准")
        short = f"最高{i.amount_max_wan:g}万元" if i.amount_max_wan else amount
        return {"kind": kind, "title": m.title, "article": i.article, "programme": i.programme or m.title,
                "amount": amount, "amount_short": short, "window": window_text(m), "status": STATUS_CN[m.status],
                "url": self.public_base_url + m.url, "note": note,
                "closes": m.closes.isoformat() if m.closes else None}

    def _doc_items(self, doc_id: str, version) -> list[tuple[Any, Any]]:
        with self._sessions() as session:
            rows = session.scalars(select(PolicyItemRow).where(PolicyItemRow.doc_id == doc_id,
                                                               PolicyItemRow.content_hash == version.content_hash,
                                                               PolicyItemRow.review != REJECTED)).all()
        return [(r.item(), version) for r in rows]

    def on_version(self, doc_id: str, content_hash: str | None = None) -> list[int]:
        """A version became live: queue its matching items for every subscriber they fit, and a
        替代 notice for the documents it replaces. Idempotent (the same version twice queues nothing)."""
        served = self.registry.serving_versions()
        version = served.get(doc_id)
        if version is None or (content_hash and version.content_hash != content_hash):
            return []
        today = self.today()
        items = self._doc_items(doc_id, version)
        batches = []
        if items:
            rows = []
            for sub in self.subscribers():
                for m in self.matcher.match(sub.profile, today=today, items=items):
                    if m.status in (ELIGIBLE, POSSIBLE) and sub.wants(m.item.benefit):
                        rows.append({"subscription_id": sub.id, "item_id": m.item.item_id, "doc_id": doc_id,
                                     "trigger_key": "new", "content": self.content(m, "new", today)})
            batch = self._enqueue(f"new:{doc_id}:{version.content_hash[:16]}", "new", version.title, doc_id, rows)
            if batch:
                batches.append(batch)
        for old in version.replaces:
            note = f"已被《{version.title}》替代，请以新政策为准"
            batch = self._doc_notice(old, "replaced", f"replaced:{old}:{doc_id}"[:200], version.title, note,
                                     url=f"{self.public_base_url}/documents/{doc_id}")
            if batch:
                batches.append(batch)
        return batches

    def _title(self, doc_id: str) -> str:
        row = self.registry.get(doc_id)
        return row.title if row is not None else doc_id

    def interested(self, doc_id: str) -> set[int]:
        """Subscribers who were pushed this document or asked about it (an answer cited it)."""
        from app.components.conversations import ConversationRow, MessageRow

        with self._sessions() as session:
            ids = set(session.scalars(select(PushRow.subscription_id).where(PushRow.doc_id == doc_id,
                                                                            PushRow.status == SENT)))
            subs = {(c, u): i for i, c, u in session.execute(
                select(SubscriptionRow.id, SubscriptionRow.channel, SubscriptionRow.user_ref)
                .where(SubscriptionRow.status == ACTIVE))}
            if subs:
                since = _now() - dt.timedelta(days=365)
                cited = session.execute(
                    select(ConversationRow.channel, ConversationRow.user_ref, MessageRow.citations)
                    .join(MessageRow, MessageRow.conversation_id == ConversationRow.id)
                    .where(ConversationRow.user_ref.in_([u for _, u in subs]), MessageRow.role == "assistant",
                           MessageRow.created_at >= since))
                for channel, user_ref, citations in cited:
                    if any((c or {}).get("doc_id") == doc_id for c in citations or []):
                        if (channel, user_ref) in subs:
                            ids.add(subs[(channel, user_ref)])
        return ids

    def _doc_notice(self, doc_id: str, kind: str, key: str, title: str, note: str, *, url: str) -> int | None:
        ids = self.interested(doc_id)
        active = {s.id for s in self.subscribers(ids)} if ids else set()
        content = {"kind": kind, "title": self._title(doc_id), "article": "", "programme": self._title(doc_id),
                   "amount": "—", "window": "—", "status": "", "url": url, "note": note, "closes": None}
        rows = [{"subscription_id": sid, "item_id": doc_key(doc_id), "doc_id": doc_id,
                 "trigger_key": key.split(":", 1)[0] + ":" + hashlib.sha1(key.encode()).hexdigest()[:16],
                 "content": content} for sid in sorted(active)]
        return self._enqueue(key, kind, title, doc_id, rows)

    def scan(self, today: dt.date | None = None) -> list[int]:
        """The daily triggers: windows opening, windows closing within remind_days, expiries."""
        today = today or self.today()
        remind = self.settings.remind_days
        due: list[tuple[Any, Any, str, dt.date]] = []
        for item, version in self.matcher.live():
            if not in_force(getattr(version, "expires", None), today):
                continue
            opens, closes = window_dates(item.window, today)
            opening = bool(opens and closes and 0 <= (today - opens).days <= 2 and closes >= today)
            if opening:  # the opening notice names the closing date: no reminder the same days
                due.append((item, version, "open", opens))
            elif closes and 0 <= (closes - today).days <= remind and (not opens or opens <= today):
                due.append((item, version, "closing", closes))
        batches = []
        if due:
            subs = self.subscribers()
            for kind in ("open", "closing"):
                picked = [(i, v, d) for i, v, k, d in due if k == kind]
                if not picked:
                    continue
                rows = []
                pairs = [(i, v) for i, v, _ in picked]
                dates = {i.item_id: d for i, _, d in picked}
                for sub in subs:
                    for m in self.matcher.match(sub.profile, today=today, items=pairs):
                        if m.status not in (ELIGIBLE, POSSIBLE) or not sub.wants(m.item.benefit):
                            continue
                        date = dates[m.item.item_id]
                        note = (f"已开始申报，{cn_date(date)}起" if kind == "open"
                                else f"将于{cn_date(date)}截止，还有{(date - today).days}天")
                        rows.append({"subscription_id": sub.id, "item_id": m.item.item_id, "doc_id": m.item.doc_id,
                                     "trigger_key": f"{kind}:{date.isoformat()}",
                                     "content": self.content(m, kind, today, note)})
                title = "申报开始提醒" if kind == "open" else f"申报截止提醒（{remind}天内截止）"
                batch = self._enqueue(f"{kind}:{today.isoformat()}", kind, f"{title} {today.isoformat()}", None, rows)
                if batch:
                    batches.append(batch)
        for doc_id, version in self.registry.serving_versions().items():
            if version.expires and 0 < (today - version.expires).days <= 3:
                note = f"已于{cn_date(version.expires)}到期失效，不能再申报"
                batch = self._doc_notice(doc_id, "expired", f"expired:{doc_id}:{version.expires.isoformat()}",
                                         f"政策到期：{version.title}", note,
                                         url=f"{self.public_base_url}/documents/{doc_id}")
                if batch:
                    batches.append(batch)
        return batches

    # -- the watcher ------------------------------------------------------------------------------

    def watch(self) -> list[int]:
        """Versions that became live since the last call (any process activated them): each is
        claimed by inserting its row, so exactly one worker pushes it. The first call records
        what is live as the baseline and pushes nothing."""
        generation = self.registry.generation()
        if generation == self._watched:
            return []
        served = self.registry.serving_versions()
        table = SeenVersionRow.__table__
        batches: list[int] = []
        with self._sessions.begin() as session:
            seen = set(session.execute(select(SeenVersionRow.doc_id, SeenVersionRow.content_hash)).all())
            if BASELINE not in seen:
                values = [{"doc_id": d, "content_hash": v.content_hash, "seen_at": _now()} for d, v in served.items()]
                values.append({"doc_id": BASELINE[0], "content_hash": BASELINE[1], "seen_at": _now()})
                session.execute(self._insert(table).on_conflict_do_nothing(), values)
                baseline = True
            else:
                baseline = False
        if baseline:
            self._watched = generation
            return []
        for doc_id, version in served.items():
            if (doc_id, version.content_hash) in seen:
                continue
            with self._sessions.begin() as session:
                won = session.execute(self._insert(table).values(doc_id=doc_id, content_hash=version.content_hash,
                                                                 seen_at=_now())
                                      .on_conflict_do_nothing().returning(table.c.doc_id)).first()
            if not won:
                continue
            try:
                batches += self.on_version(doc_id, version.content_hash)
            except Exception:
                with self._sessions.begin() as session:  # not handled: the next tick tries again
                    session.execute(delete(SeenVersionRow).where(SeenVersionRow.doc_id == doc_id,
                                                                 SeenVersionRow.content_hash == version.content_hash))
                raise
        self._watched = generation
        return batches

    # -- staff ------------------------------------------------------------------------------------

    def counts(self, batch_ids: list[int] | None = None) -> dict[int, dict[str, int]]:
        with self._sessions() as session:
            query = select(PushRow.batch_id, PushRow.status, func.count()).group_by(PushRow.batch_id, PushRow.status)
            if batch_ids is not None:
                query = query.where(PushRow.batch_id.in_(batch_ids))
            out: dict[int, dict[str, int]] = {}
            for batch_id, status, n in session.execute(query):
                out.setdefault(batch_id, {})[status] = n
        return out

    def batches(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._sessions() as session:
            rows = list(session.scalars(select(PushBatchRow).order_by(PushBatchRow.id.desc()).limit(limit)))
        counts = self.counts([r.id for r in rows]) if rows else {}
        return [self._batch_dict(r, counts.get(r.id, {})) for r in rows]

    @staticmethod
    def _batch_dict(r: PushBatchRow, counts: dict[str, int]) -> dict[str, Any]:
        return {"id": r.id, "key": r.key, "trigger": r.trigger, "title": r.title, "doc_id": r.doc_id,
                "status": r.status, "total": r.total,
                "counts": {s: counts.get(s, 0) for s in ("queued", "inflight", "sent", "failed", "skipped", "unknown")},
                "decided_by": r.decided_by, "decided_at": r.decided_at.isoformat() if r.decided_at else None,
                "created_at": r.created_at.isoformat() if r.created_at else None,
                "finished_at": r.finished_at.isoformat() if r.finished_at else None}

    def batch(self, batch_id: int, sample: int | None = None) -> dict[str, Any] | None:
        with self._sessions() as session:
            row = session.get(PushBatchRow, batch_id)
            if row is None:
                return None
            recipients = session.execute(
                select(PushRow, SubscriptionRow.channel, SubscriptionRow.user_ref)
                .join(SubscriptionRow, SubscriptionRow.id == PushRow.subscription_id, isouter=True)
                .where(PushRow.batch_id == batch_id).order_by(PushRow.id).limit(sample or self.settings.sample_size)).all()
            subscribers = session.scalar(select(func.count(func.distinct(PushRow.subscription_id)))
                                         .where(PushRow.batch_id == batch_id))
        out = self._batch_dict(row, self.counts([batch_id]).get(batch_id, {}))
        out["subscribers"] = subscribers
        out["sample"] = [{"subscriber": mask(user_ref or ""), "channel": channel, "status": p.status,
                          "errcode": p.errcode, "error": p.error, "via": p.via, "attempts": p.attempts,
                          **{k: p.content.get(k) for k in ("programme", "amount", "window", "url", "note", "title")}}
                         for p, channel, user_ref in recipients]
        return out

    def decide(self, batch_id: int, approve: bool, who: str) -> PushBatchRow | None:
        """Approve (the sender picks it up) or cancel (queued pushes are dropped) a batch."""
        with self._sessions.begin() as session:
            row = session.get(PushBatchRow, batch_id, with_for_update=True)
            if row is None:
                return None
            if approve and row.status == REVIEW:
                row.status = APPROVED
            elif not approve and row.status in (REVIEW, APPROVED, SENDING):
                row.status = CANCELLED
                session.execute(update(PushRow).where(PushRow.batch_id == batch_id, PushRow.status == QUEUED)
                                .values(status=SKIPPED, error="cancelled"))
            else:
                return row
            row.decided_by, row.decided_at = who, _now()
            return row

    def subscriber_counts(self) -> dict[str, int]:
        with self._sessions() as session:
            return {s: n for s, n in session.execute(select(SubscriptionRow.status, func.count())
                                                     .group_by(SubscriptionRow.status))}


def mask(user_ref: str) -> str:
    """An OpenID shown to staff: enough to recognise, not to copy."""
    return user_ref if len(user_ref) <= 8 else f"{user_ref[:4]}…{user_ref[-4:]}"


__all__ = ["PushService", "Subscriber", "TOPICS", "mask", "doc_key", "SENDING", "DONE"]

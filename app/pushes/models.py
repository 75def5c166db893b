"""Push tables: subscriptions, batches (one per trigger event), pushes (one per subscriber × item ×
trigger, unique), and the versions the watcher has seen."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.components.orm import Base


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# subscription status
ACTIVE, PAUSED, ENDED = "active", "paused", "ended"
# batch status
REVIEW, APPROVED, SENDING, DONE, CANCELLED = "review", "approved", "sending", "done", "cancelled"
# push status
QUEUED, INFLIGHT, SENT, FAILED, SKIPPED, UNKNOWN = "queued", "inflight", "sent", "failed", "skipped", "unknown"


class SubscriptionRow(Base):
    __tablename__ = "push_subscriptions"
    __table_args__ = (UniqueConstraint("channel", "user_ref", name="uq_push_subscriber"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))            # wechat | wework | test
    user_ref: Mapped[str] = mapped_column(String(200))          # OpenID or WeCom UserID
    profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # CompanyProfile fields
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)        # empty = every topic
    region: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE, index=True)
    paused_reason: Mapped[str | None] = mapped_column(String(200))
    step: Mapped[str | None] = mapped_column(String(32))        # a confirmation or question awaiting an answer
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)


class PushBatchRow(Base):
    __tablename__ = "push_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)   # the trigger event: new:doc:hash, close:2026-12-07…
    trigger: Mapped[str] = mapped_column(String(16))             # new | open | closing | expired | replaced | test
    title: Mapped[str] = mapped_column(String(500), default="")
    doc_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default=REVIEW, index=True)
    total: Mapped[int] = mapped_column(Integer, default=0)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class PushRow(Base):
    __tablename__ = "pushes"
    __table_args__ = (UniqueConstraint("subscription_id", "item_id", "trigger_key", name="uq_push_once"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(Integer, index=True)
    subscription_id: Mapped[int] = mapped_column(Integer, index=True)
    item_id: Mapped[str] = mapped_column(String(32))
    doc_id: Mapped[str] = mapped_column(String(128), index=True)
    trigger_key: Mapped[str] = mapped_column(String(64))         # new | open:2026-12-01 | closing:2026-12-07 | …
    status: Mapped[str] = mapped_column(String(16), default=QUEUED, index=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)         # programme, amount, window, url, title, status
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[float] = mapped_column(Float(precision=53), default=0.0)  # epoch seconds
    via: Mapped[str | None] = mapped_column(String(16))            # subscribe | custom | wework
    errcode: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class SeenVersionRow(Base):
    """Versions the watcher has handled (doc_id + content hash): an activation is pushed once."""

    __tablename__ = "push_seen_versions"

    doc_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires: Mapped[dt.date | None] = mapped_column(String(10))   # ISO date, for the expiry trigger
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)

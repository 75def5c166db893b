"""Conversations, messages and feedback in the SQL store.

A user's question is written before the answer is computed, so that a failure while
answering never loses it (the message stays, marked ``failed``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, and_, cast, exists, func,
                        insert, literal, or_, select, true, update)
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from app.components.orm import Base

if TYPE_CHECKING:
    from app.ops.ratelimit import Counters


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def new_id() -> str:
    return uuid.uuid4().hex


class ConversationRow(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    channel: Mapped[str] = mapped_column(String(32), default="web")
    user_ref: Mapped[str | None] = mapped_column(String(200), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)


class MessageRow(Base):
    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # user | assistant
    content: Mapped[str] = mapped_column(Text, default="")
    standalone_question: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="ok")  # ok | pending | failed
    grounded: Mapped[bool | None] = mapped_column(Boolean)
    fallback: Mapped[bool | None] = mapped_column(Boolean)
    refusal_reason: Mapped[str | None] = mapped_column(String(32))
    citations: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    reply_to: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)


class FeedbackRow(Base):
    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    rating: Mapped[str] = mapped_column(String(8))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class HandoffRow(Base):
    """A request to reach a person ("转人工"), with the contact details the user chose to give."""

    __tablename__ = "handoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(50))
    company: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="new")  # new | contacted | closed
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)


HANDOFF_STATUSES = ("new", "contacted", "closed")


def _recent_select(what, conversation_id, limit: int):
    """``what`` (an entity or columns) of a conversation's last ``limit`` messages, newest first."""
    return (select(what).where(MessageRow.conversation_id == conversation_id)
            .order_by(MessageRow.created_at.desc()).limit(limit))


def _recent(session, conversation_id: str, limit: int) -> list[MessageRow]:
    """The conversation's last ``limit`` messages, oldest first."""
    return list(reversed(list(session.scalars(_recent_select(MessageRow, conversation_id, limit)))))


class ConversationStore:
    """Each chat turn costs two round trips to the database: ``start_turn`` (rate-limit counters,
    conversation, history, question) and ``add_answer`` (answer, question status, conversation time).

    On PostgreSQL each is ONE statement (data-modifying CTEs) sent outside an explicit transaction
    (a single statement is atomic), so a turn is two network round trips. On SQLite each is one
    transaction of a few statements in the same process, with no network between them (issue 14)."""

    def __init__(self, session_factory: sessionmaker):
        self._sessions = session_factory
        self._engine = session_factory.kw["bind"]
        self._one_statement = self._engine.dialect.name == "postgresql"

    def start_turn(self, conversation_id: str | None, content: str, *, channel: str = "web",
                   user_ref: str | None = None, history_limit: int = 50,
                   counters: "Counters | None" = None) -> tuple[str, str, list["MessageRow"]]:
        """Count the rate limits, open (or start) the conversation, read its recent history and store
        the question, in one statement (PostgreSQL) or transaction (SQLite): (conversation id, question
        id, history before this question). An unknown conversation id starts a new conversation, which
        has no history. With ``counters`` (app.ops.ratelimit), the question is stored only when every
        count is within its limit; otherwise the counts are kept and RateLimited is raised."""
        now = _now()
        question_id, new_conversation_id = new_id(), new_id()
        if self._one_statement:
            counts, conversation_id, history = self._start_turn_statement(
                conversation_id, content, channel, user_ref, history_limit, counters, now, question_id,
                new_conversation_id)
        else:
            counts, conversation_id, history = self._start_turn_transaction(
                conversation_id, content, channel, user_ref, history_limit, counters, now, question_id,
                new_conversation_id)
        if counters is not None:
            counters.judge(counts)
        return conversation_id, question_id, history

    def _start_turn_transaction(self, conversation_id, content, channel, user_ref, history_limit, counters,
                                now, question_id, new_conversation_id):
        with self._sessions.begin() as session:
            counts: dict[str, int] = {}
            if counters is not None:  # the write first: the transaction takes SQLite's write lock at once
                counts = {key: int(value) for key, value in session.execute(counters.statement)}
                if any(counts[key] > limit for key, limit in counters.limits.items()):
                    return counts, conversation_id, []
            history: list[MessageRow] = []
            known = False
            if conversation_id:
                # The conversation and its recent messages in one read (no row at all: unknown id).
                recent = _recent_select(MessageRow.id, conversation_id, history_limit)
                rows = session.execute(
                    select(ConversationRow.id, MessageRow).select_from(ConversationRow)
                    .outerjoin(MessageRow, MessageRow.id.in_(recent))
                    .where(ConversationRow.id == conversation_id)).all()
                known = bool(rows)
                history = sorted((m for _cid, m in rows if m is not None), key=lambda m: m.created_at)
            if not known:
                conversation_id = new_conversation_id
                session.execute(insert(ConversationRow).values(id=conversation_id, channel=channel,
                                                               user_ref=user_ref, created_at=now, updated_at=now))
            session.execute(insert(MessageRow).values(id=question_id, conversation_id=conversation_id, role="user",
                                                      content=content, status="pending", created_at=now))
            return counts, conversation_id, history

    def _start_turn_statement(self, conversation_id, content, channel, user_ref, history_limit, counters,
                              now, question_id, new_conversation_id):
        """PostgreSQL: every step a data-modifying CTE of one statement. The CTEs share one snapshot, so
        the history read does not see the question stored beside it."""
        conversations, messages = ConversationRow.__table__, MessageRow.__table__
        admitted = true()
        counted = None
        if counters is not None:
            counted = counters.statement.cte("counted")
            over = [and_(counted.c.key == key, cast(counted.c.value, Integer) > limit)
                    for key, limit in counters.limits.items()]
            admitted = ~exists(select(1).select_from(counted).where(or_(*over)))
        existing = (select(conversations.c.id).where(conversations.c.id == (conversation_id or ""))
                    .cte("existing"))
        known = exists(select(1).select_from(existing))
        opened = (insert(conversations)
                  .from_select(["id", "channel", "user_ref", "created_at", "updated_at"],
                               select(literal(new_conversation_id), literal(channel), literal(user_ref, String),
                                      literal(now, DateTime(timezone=True)),
                                      literal(now, DateTime(timezone=True))).where(admitted, ~known))
                  .returning(conversations.c.id).cte("opened"))
        turn_conversation = func.coalesce(select(existing.c.id).scalar_subquery(),
                                          select(opened.c.id).scalar_subquery())
        stored = (insert(messages)
                  .from_select(["id", "conversation_id", "role", "content", "status", "created_at"],
                               select(literal(question_id), turn_conversation, literal("user"), literal(content),
                                      literal("pending"), literal(now, DateTime(timezone=True))).where(admitted))
                  .returning(messages.c.conversation_id).cte("stored"))
        history = _recent_select(messages, select(existing.c.id).scalar_subquery(), history_limit).subquery("history")
        head = select(select(stored.c.conversation_id).scalar_subquery().label("turn_conversation"),
                      *[select(counted.c.value).where(counted.c.key == key).scalar_subquery().label(f"count_{i}")
                        for i, key in enumerate(counters.limits if counters else ())]).subquery("head")
        stmt = (select(head, *history.c).select_from(head).outerjoin(history, true())
                .order_by(history.c.created_at))
        with self._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            rows = conn.execute(stmt).all()
        first = rows[0]
        counts = {key: int(getattr(first, f"count_{i}"))
                  for i, key in enumerate(counters.limits if counters else ())}
        history_rows = [MessageRow(**{c.name: getattr(row, c.name) for c in messages.c})
                        for row in rows if row.id is not None]
        return counts, first.turn_conversation or conversation_id, history_rows

    def add_answer(self, conversation_id: str, question_id: str, *, content: str, standalone: str,
                   grounded: bool, fallback: bool, citations: list[dict[str, Any]], latency_ms: float,
                   refusal_reason: str | None = None, message_id: str | None = None) -> str:
        """Store the answer, mark the question answered and move the conversation's time: one statement on
        PostgreSQL (the two updates as CTEs of the insert), one transaction of three on SQLite."""
        now = _now()
        answer = insert(MessageRow).values(
            id=message_id or new_id(), conversation_id=conversation_id, role="assistant", content=content,
            standalone_question=standalone, grounded=grounded, fallback=fallback, citations=citations,
            latency_ms=latency_ms, refusal_reason=refusal_reason, reply_to=question_id, status="ok",
            created_at=now).returning(MessageRow.id)
        answered = (update(MessageRow).where(MessageRow.id == question_id)
                    .values(status="ok", standalone_question=standalone))
        touched = update(ConversationRow).where(ConversationRow.id == conversation_id).values(updated_at=now)
        if self._one_statement:
            stmt = answer.add_cte(answered.returning(MessageRow.id).cte("answered"),
                                  touched.returning(ConversationRow.id).cte("touched"))
            with self._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                return conn.execute(stmt).scalar_one()
        with self._sessions.begin() as session:
            session.execute(answered)
            answer_id = session.execute(answer).scalar_one()
            session.execute(touched)
            return answer_id

    def mark_failed(self, question_id: str) -> None:
        with self._sessions.begin() as session:
            row = session.get(MessageRow, question_id)
            if row is not None:
                row.status = "failed"

    def history(self, conversation_id: str, limit: int = 50) -> list[MessageRow]:
        with self._sessions() as session:
            return _recent(session, conversation_id, limit)

    def get_conversation(self, conversation_id: str) -> ConversationRow | None:
        with self._sessions() as session:
            return session.get(ConversationRow, conversation_id)

    def latest_for(self, channel: str, user_ref: str) -> str | None:
        """The most recent conversation of one user on one channel (a WeChat OpenID), if any."""
        with self._sessions() as session:
            return session.scalars(
                select(ConversationRow.id).where(ConversationRow.channel == channel,
                                                 ConversationRow.user_ref == user_ref)
                .order_by(ConversationRow.updated_at.desc()).limit(1)
            ).first()

    def get_message(self, message_id: str) -> MessageRow | None:
        with self._sessions() as session:
            return session.get(MessageRow, message_id)

    def add_feedback(self, message_id: str, rating: str, comment: str | None) -> int:
        """One feedback row per answer: a second click or a later comment updates it (the widget
        sends the thumb first and the comment afterwards), so staff counts each answer once."""
        with self._sessions.begin() as session:
            row = session.scalars(select(FeedbackRow).where(FeedbackRow.message_id == message_id)
                                  .order_by(FeedbackRow.id.desc()).limit(1)).first()
            if row is None:
                row = FeedbackRow(message_id=message_id, rating=rating, comment=comment)
                session.add(row)
            else:
                row.rating = rating
                if comment:
                    row.comment = comment
                row.created_at = _now()
            session.flush()
            return row.id

    def add_handoff(self, conversation_id: str, *, name: str | None = None, phone: str | None = None,
                    company: str | None = None, note: str | None = None) -> int:
        with self._sessions.begin() as session:
            row = HandoffRow(conversation_id=conversation_id, name=name, phone=phone, company=company, note=note)
            session.add(row)
            session.flush()
            return row.id

    def handoffs(self, status: str | None = None, limit: int = 200) -> list[HandoffRow]:
        with self._sessions() as session:
            query = select(HandoffRow).order_by(HandoffRow.created_at.desc()).limit(limit)
            if status:
                query = query.where(HandoffRow.status == status)
            return list(session.scalars(query))

    def set_handoff_status(self, handoff_id: int, status: str) -> HandoffRow | None:
        if status not in HANDOFF_STATUSES:
            raise ValueError(status)
        with self._sessions.begin() as session:
            row = session.get(HandoffRow, handoff_id)
            if row is not None:
                row.status = status
                session.flush()
                session.expunge(row)
            return row

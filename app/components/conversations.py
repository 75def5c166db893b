"""Conversations, messages and feedback in the SQL store.

A user's question is written before the answer is computed, so that a failure while
answering never loses it (the message stays, marked ``failed``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, and_, bindparam, cast,
                        exists, func, insert, literal, or_, select, true)
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


_MESSAGES, _CONVERSATIONS = MessageRow.__table__, ConversationRow.__table__
_AT = DateTime(timezone=True)


def _param(name: str, type_=String):
    return bindparam(name, type_=type_)


# A turn's statements, built once and bound per call (SQLAlchemy then reuses their compiled form).
_INSERT_MESSAGE = _MESSAGES.insert()
_INSERT_CONVERSATION = _CONVERSATIONS.insert()
# The conversation and its recent messages in one read: no row at all for an unknown id.
_OPEN = (select(_CONVERSATIONS.c.id.label("conversation"), *_MESSAGES.c).select_from(_CONVERSATIONS)
         .outerjoin(_MESSAGES, _MESSAGES.c.id.in_(_recent_select(_MESSAGES.c.id, _param("turn_conversation"),
                                                                 _param("turn_history", Integer))))
         .where(_CONVERSATIONS.c.id == _param("turn_conversation")))
_ANSWERED = (_MESSAGES.update().where(_MESSAGES.c.id == _param("answer_question"))
             .values(status="ok", standalone_question=_param("answer_standalone", Text)))
_TOUCHED = _CONVERSATIONS.update().where(_CONVERSATIONS.c.id == _param("answer_conversation")).values(
    updated_at=_param("answer_at", _AT))
_STORE_ANSWER = _MESSAGES.insert().values(
    id=_param("answer_id"), conversation_id=_param("answer_conversation"), role="assistant",
    content=_param("answer_content", Text), standalone_question=_param("answer_standalone", Text),
    grounded=_param("answer_grounded", Boolean), fallback=_param("answer_fallback", Boolean),
    citations=_param("answer_citations", JSON), latency_ms=_param("answer_latency", Float),
    refusal_reason=_param("answer_refusal"), reply_to=_param("answer_question"), status="ok",
    created_at=_param("answer_at", _AT)).returning(_MESSAGES.c.id)
# PostgreSQL: the three as one statement, the updates as CTEs of the insert.
_ANSWER_STATEMENT = _STORE_ANSWER.add_cte(_ANSWERED.returning(_MESSAGES.c.id).cte("answered"),
                                          _TOUCHED.returning(_CONVERSATIONS.c.id).cte("touched"))


def _turn_statement(counters_statement, limits: int):
    """PostgreSQL: counting, opening, reading the history and storing the question as data-modifying
    CTEs of one statement (they share one snapshot: the history read does not see the question
    stored beside it). ``limits`` counters, their keys bound as SqlState.incr_params names them
    (``incr_key_0``…) and their limits as ``turn_limit_0``…: one over its limit, nothing is stored."""
    admitted = true()
    counted = None
    if counters_statement is not None:
        counted = counters_statement.cte("counted")
        over = [and_(counted.c.key == _param(f"incr_key_{i}"),
                     cast(counted.c.value, Integer) > _param(f"turn_limit_{i}", Integer)) for i in range(limits)]
        admitted = ~exists(select(1).select_from(counted).where(or_(*over)))
    existing = select(_CONVERSATIONS.c.id).where(_CONVERSATIONS.c.id == _param("turn_conversation")).cte("existing")
    known = exists(select(1).select_from(existing))
    opened = (insert(_CONVERSATIONS)
              .from_select(["id", "channel", "user_ref", "created_at", "updated_at"],
                           select(_param("turn_new_conversation"), _param("turn_channel"), _param("turn_user"),
                                  _param("turn_at", _AT), _param("turn_at", _AT)).where(admitted, ~known))
              .returning(_CONVERSATIONS.c.id).cte("opened"))
    conversation = func.coalesce(select(existing.c.id).scalar_subquery(), select(opened.c.id).scalar_subquery())
    stored = (insert(_MESSAGES)
              .from_select(["id", "conversation_id", "role", "content", "status", "created_at"],
                           select(_param("turn_question"), conversation, literal("user"), _param("turn_content", Text),
                                  literal("pending"), _param("turn_at", _AT)).where(admitted))
              .returning(_MESSAGES.c.conversation_id).cte("stored"))
    history = _recent_select(_MESSAGES, select(existing.c.id).scalar_subquery(),
                             _param("turn_history", Integer)).subquery("history")
    head = select(select(stored.c.conversation_id).scalar_subquery().label("stored_in"),
                  *[select(counted.c.value).where(counted.c.key == _param(f"incr_key_{i}")).scalar_subquery()
                    .label(f"count_{i}") for i in range(limits)]).subquery("head")
    return select(head, *history.c).select_from(head).outerjoin(history, true()).order_by(history.c.created_at)


class ConversationStore:
    """Each chat turn costs two round trips to the database: ``start_turn`` (rate-limit counters,
    conversation, history, question) and ``add_answer`` (answer, question status, conversation time).

    On PostgreSQL each is ONE statement (data-modifying CTEs) sent outside an explicit transaction
    (a single statement is atomic), so a turn is two network round trips. On SQLite each is one
    transaction of a few statements in the same process, with no network between them (issue 14).
    The statements are built once and bound per call: building and compiling them cost more Python
    time than the database took."""

    def __init__(self, session_factory: sessionmaker):
        self._sessions = session_factory
        self._engine = session_factory.kw["bind"]
        self._one_statement = self._engine.dialect.name == "postgresql"
        self._turn_statements: dict[tuple, Any] = {}

    def start_turn(self, conversation_id: str | None, content: str, *, channel: str = "web",
                   user_ref: str | None = None, history_limit: int = 50,
                   counters: "Counters | None" = None) -> tuple[str, str, list]:
        """Count the rate limits, open (or start) the conversation, read its recent history and store
        the question, in one statement (PostgreSQL) or transaction (SQLite): (conversation id, question
        id, history before this question, oldest first: rows with MessageRow's attributes). An unknown
        conversation id starts a new conversation, which has no history. With ``counters``
        (app.ops.ratelimit), the question is stored only when every count is within its limit;
        otherwise the counts are kept and RateLimited is raised."""
        params = {"turn_conversation": conversation_id or "", "turn_history": history_limit,
                  "turn_new_conversation": new_id(), "turn_question": new_id(), "turn_content": content,
                  "turn_channel": channel, "turn_user": user_ref, "turn_at": _now(),
                  **(counters.params if counters is not None else {})}
        if self._one_statement:
            counts, conversation_id, history = self._start_turn_statement(params, counters)
        else:
            counts, conversation_id, history = self._start_turn_transaction(params, counters)
        if counters is not None:
            counters.judge(counts)
        return conversation_id, params["turn_question"], history

    def _start_turn_transaction(self, params: dict, counters):
        with self._engine.begin() as conn:
            counts: dict[str, int] = {}
            if counters is not None:  # the write first: the transaction takes SQLite's write lock at once
                counts = {key: int(value) for key, value in conn.execute(counters.statement, params)}
                if any(counts[key] > limit for key, limit in counters.limits.items()):
                    return counts, params["turn_conversation"], []
            rows = conn.execute(_OPEN, params).all() if params["turn_conversation"] else []
            history = sorted((row for row in rows if row.id is not None), key=lambda row: row.created_at)
            conversation_id = params["turn_conversation"] if rows else params["turn_new_conversation"]
            if not rows:
                conn.execute(_INSERT_CONVERSATION, {"id": conversation_id, "channel": params["turn_channel"],
                                                    "user_ref": params["turn_user"], "created_at": params["turn_at"],
                                                    "updated_at": params["turn_at"]})
            conn.execute(_INSERT_MESSAGE, {"id": params["turn_question"], "conversation_id": conversation_id,
                                           "role": "user", "content": params["turn_content"], "status": "pending",
                                           "created_at": params["turn_at"]})
            return counts, conversation_id, history

    def _start_turn_statement(self, params: dict, counters):
        limits = list(counters.limits.values()) if counters is not None else []
        shape = (counters.statement if counters is not None else None, len(limits))
        stmt = self._turn_statements.get(shape)
        if stmt is None:
            stmt = self._turn_statements[shape] = _turn_statement(*shape)
        params.update({f"turn_limit_{i}": limit for i, limit in enumerate(limits)})
        with self._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            rows = conn.execute(stmt, params).all()
        first = rows[0]
        counts = {key: int(getattr(first, f"count_{i}")) for i, key in enumerate(counters.limits if counters else ())}
        history = [row for row in rows if row.id is not None]
        return counts, first.stored_in or params["turn_conversation"], history

    def add_answer(self, conversation_id: str, question_id: str, *, content: str, standalone: str,
                   grounded: bool, fallback: bool, citations: list[dict[str, Any]], latency_ms: float,
                   refusal_reason: str | None = None, message_id: str | None = None) -> str:
        """Store the answer, mark the question answered and move the conversation's time: one statement on
        PostgreSQL (the two updates as CTEs of the insert), one transaction of three on SQLite."""
        params = {"answer_id": message_id or new_id(), "answer_conversation": conversation_id,
                  "answer_question": question_id, "answer_content": content, "answer_standalone": standalone,
                  "answer_grounded": grounded, "answer_fallback": fallback, "answer_citations": citations,
                  "answer_latency": latency_ms, "answer_refusal": refusal_reason, "answer_at": _now()}
        if self._one_statement:
            with self._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                return conn.execute(_ANSWER_STATEMENT, params).scalar_one()
        with self._engine.begin() as conn:
            conn.execute(_ANSWERED, params)
            answer_id = conn.execute(_STORE_ANSWER, params).scalar_one()
            conn.execute(_TOUCHED, params)
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

"""Conversations, messages and feedback in the SQL store.

A user's question is written before the answer is computed, so that a failure while
answering never loses it (the message stays, marked ``failed``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from app.components.orm import Base


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


def _recent(session, conversation_id: str, limit: int) -> list[MessageRow]:
    """The conversation's last ``limit`` messages, oldest first."""
    rows = session.scalars(select(MessageRow).where(MessageRow.conversation_id == conversation_id)
                           .order_by(MessageRow.created_at.desc()).limit(limit))
    return list(reversed(list(rows)))


class ConversationStore:
    def __init__(self, session_factory: sessionmaker):
        self._sessions = session_factory

    def start_turn(self, conversation_id: str | None, content: str, *, channel: str = "web",
                   user_ref: str | None = None, history_limit: int = 50) -> tuple[str, str, list["MessageRow"]]:
        """Open (or start) the conversation, read its recent history and store the question, in one
        transaction: (conversation id, question id, history before this question). A new
        conversation reads no history."""
        with self._sessions.begin() as session:
            history: list[MessageRow] = []
            if conversation_id and session.get(ConversationRow, conversation_id) is not None:
                history = _recent(session, conversation_id, history_limit)
            else:
                conversation = ConversationRow(channel=channel, user_ref=user_ref)
                session.add(conversation)
                session.flush()
                conversation_id = conversation.id
            row = MessageRow(conversation_id=conversation_id, role="user", content=content, status="pending")
            session.add(row)
            session.flush()
            return conversation_id, row.id, history

    def add_answer(self, conversation_id: str, question_id: str, *, content: str, standalone: str,
                   grounded: bool, fallback: bool, citations: list[dict[str, Any]], latency_ms: float,
                   refusal_reason: str | None = None, message_id: str | None = None) -> str:
        # Plain UPDATEs (no read first): the answer costs three statements in one transaction.
        with self._sessions.begin() as session:
            session.execute(update(MessageRow).where(MessageRow.id == question_id)
                            .values(status="ok", standalone_question=standalone))
            row = MessageRow(id=message_id or new_id(), conversation_id=conversation_id, role="assistant",
                             content=content, standalone_question=standalone, grounded=grounded,
                             fallback=fallback, citations=citations, latency_ms=latency_ms,
                             refusal_reason=refusal_reason, reply_to=question_id)
            session.add(row)
            session.flush()
            session.execute(update(ConversationRow).where(ConversationRow.id == conversation_id).values(updated_at=_now()))
            return row.id

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

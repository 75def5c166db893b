"""What citizens could not get answered: refusals grouped by similarity, answers rated down,
daily counts and a CSV export of conversations.

Days are counted in China Standard Time (UTC+8), the staff's calendar; timestamps are stored in UTC.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased, sessionmaker

from app.components.conversations import ConversationRow, FeedbackRow, HandoffRow, MessageRow
from app.components.embeddings import Embedder
from zhtext.normalize import normalize

CST = dt.timezone(dt.timedelta(hours=8), "CST")
MAX_EXPORT_DAYS = 366
REFUSAL_LABELS = {"no_evidence": "政策库无依据", "model_not_found": "模型判断无依据", "injection": "疑似注入",
                  "off_topic": "超出服务范围"}


def _utc(value: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes; they are UTC."""
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value


def local_day(value: dt.datetime) -> dt.date:
    return _utc(value).astimezone(CST).date()


def day_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start 00:00, end+1 00:00) in CST, as UTC datetimes."""
    low = dt.datetime.combine(start, dt.time(), CST).astimezone(dt.timezone.utc)
    high = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), CST).astimezone(dt.timezone.utc)
    return low, high


@dataclass
class QuestionGroup:
    question: str                     # the most recent wording
    count: int = 0
    examples: list[str] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
    last_at: dt.datetime | None = None
    conversation_ids: list[str] = field(default_factory=list)


class InsightService:
    def __init__(self, session_factory: sessionmaker, embedder: Embedder):
        self._sessions = session_factory
        self.embedder = embedder

    def _refusals(self, since: dt.datetime, limit: int) -> list[tuple[MessageRow, MessageRow | None]]:
        question = aliased(MessageRow)
        with self._sessions() as session:
            rows = session.execute(
                select(MessageRow, question)
                .outerjoin(question, question.id == MessageRow.reply_to)
                .where(MessageRow.role == "assistant", MessageRow.grounded.is_(False), MessageRow.created_at >= since)
                .order_by(MessageRow.created_at.desc()).limit(limit))
            return [(answer, asked) for answer, asked in rows]

    def unanswered(self, *, days: int = 30, threshold: float = 0.9, limit: int = 1000) -> list[QuestionGroup]:
        """Refused questions, grouped when their embeddings are at least ``threshold`` similar
        (or their normalised text is equal), most frequent first."""
        since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)
        refusals = [(a, q) for a, q in self._refusals(since, limit) if q is not None and q.content.strip()]
        if not refusals:
            return []
        texts = [normalize(q.content) for _, q in refusals]
        # Question against question is a symmetric comparison: both sides embedded the same way.
        vectors = np.asarray(self.embedder.embed_passages(texts), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
        groups: list[QuestionGroup] = []
        heads: list[int] = []  # index of each group's first (most recent) question
        for i, ((answer, asked), text) in enumerate(zip(refusals, texts)):
            target = None
            for g, head in enumerate(heads):
                if texts[head] == text or float(vectors[head] @ vectors[i]) >= threshold:
                    target = groups[g]
                    break
            if target is None:
                target = QuestionGroup(question=asked.content, last_at=_utc(answer.created_at))
                groups.append(target)
                heads.append(i)
            target.count += 1
            if asked.content not in target.examples and len(target.examples) < 5:
                target.examples.append(asked.content)
            reason = answer.refusal_reason or "no_evidence"
            target.reasons[reason] = target.reasons.get(reason, 0) + 1
            if len(target.conversation_ids) < 20:
                target.conversation_ids.append(answer.conversation_id)
        return sorted(groups, key=lambda g: (-g.count, -g.last_at.timestamp()))

    def rated_down_count(self, *, days: int = 30) -> int:
        since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)
        with self._sessions() as session:
            return session.scalar(select(func.count()).select_from(FeedbackRow).where(
                FeedbackRow.rating == "down", FeedbackRow.created_at >= since)) or 0

    def rated_down(self, *, days: int = 30, limit: int = 200, offset: int = 0) -> list[dict[str, Any]]:
        """Answers rated down, newest first, with the comment, the question, the answer and its citations."""
        since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)
        question = aliased(MessageRow)
        with self._sessions() as session:
            rows = session.execute(
                select(FeedbackRow, MessageRow, question)
                .join(MessageRow, MessageRow.id == FeedbackRow.message_id)
                .outerjoin(question, question.id == MessageRow.reply_to)
                .where(FeedbackRow.rating == "down", FeedbackRow.created_at >= since)
                .order_by(FeedbackRow.created_at.desc(), FeedbackRow.id.desc()).limit(limit).offset(offset))
            return [{
                "feedback_id": fb.id, "created_at": _utc(fb.created_at), "comment": fb.comment or "",
                "conversation_id": answer.conversation_id, "message_id": answer.id,
                "question": asked.content if asked else "", "answer": answer.content,
                "grounded": answer.grounded, "citations": answer.citations or [],
            } for fb, answer, asked in rows]

    def handoffs(self, status: str | None = None, *, limit: int = 50, offset: int = 0) -> tuple[list[HandoffRow], int]:
        """One page of 转人工 requests, newest first, and how many there are in all: a flood on one
        conversation must not push real requests out of reach."""
        with self._sessions() as session:
            where = [HandoffRow.status == status] if status else []
            total = session.scalar(select(func.count()).select_from(HandoffRow).where(*where)) or 0
            rows = list(session.scalars(select(HandoffRow).where(*where)
                                        .order_by(HandoffRow.created_at.desc(), HandoffRow.id.desc())
                                        .limit(limit).offset(offset)))
            return rows, total

    def daily(self, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
        """Per CST day: questions, refusals, answers rated down, handoff requests."""
        low, high = day_bounds(start, end)
        days = {start + dt.timedelta(days=i): {"questions": 0, "refusals": 0, "rated_down": 0, "handoffs": 0}
                for i in range((end - start).days + 1)}

        def count(key: str, stamps) -> None:
            for (stamp,) in stamps:
                bucket = days.get(local_day(stamp))
                if bucket is not None:
                    bucket[key] += 1

        with self._sessions() as session:
            between = lambda column: and_(column >= low, column < high)  # noqa: E731
            count("questions", session.execute(select(MessageRow.created_at).where(
                MessageRow.role == "user", between(MessageRow.created_at))))
            count("refusals", session.execute(select(MessageRow.created_at).where(
                MessageRow.role == "assistant", MessageRow.grounded.is_(False), between(MessageRow.created_at))))
            count("rated_down", session.execute(select(FeedbackRow.created_at).where(
                FeedbackRow.rating == "down", between(FeedbackRow.created_at))))
            count("handoffs", session.execute(select(HandoffRow.created_at).where(between(HandoffRow.created_at))))
        return [{"day": day, **values} for day, values in days.items()]

    def export_csv(self, start: dt.date, end: dt.date) -> Iterator[str]:
        """Every message of conversations active in [start, end] (CST days), as CSV with a BOM for Excel."""
        low, high = day_bounds(start, end)
        header = ["会话ID", "渠道", "消息ID", "时间", "角色", "内容", "是否有依据", "未回答原因", "引用文件", "评价", "评价意见"]
        with self._sessions() as session:
            conversations = {c.id: c for c in session.scalars(
                select(ConversationRow).where(ConversationRow.id.in_(
                    select(MessageRow.conversation_id).where(MessageRow.created_at >= low,
                                                             MessageRow.created_at < high))))}
            messages = list(session.scalars(
                select(MessageRow).where(MessageRow.conversation_id.in_(list(conversations)),
                                         MessageRow.created_at >= low, MessageRow.created_at < high)
                .order_by(MessageRow.conversation_id, MessageRow.created_at)))
            feedback = {fb.message_id: fb for fb in session.scalars(
                select(FeedbackRow).where(FeedbackRow.message_id.in_([m.id for m in messages])))}
        yield "\ufeff" + _csv_line(header)
        for m in messages:
            fb = feedback.get(m.id)
            titles = "；".join(dict.fromkeys(c.get("title", "") for c in (m.citations or []) if c.get("title")))
            grounded = "" if m.grounded is None else ("是" if m.grounded else "否")
            yield _csv_line([
                m.conversation_id, conversations[m.conversation_id].channel, m.id,
                local_day_time(m.created_at), "用户" if m.role == "user" else "助手", m.content, grounded,
                REFUSAL_LABELS.get(m.refusal_reason or "", m.refusal_reason or ""), titles,
                {"up": "赞", "down": "踩"}.get(fb.rating, fb.rating) if fb else "", (fb.comment or "") if fb else "",
            ])


def local_day_time(value: dt.datetime) -> str:
    return _utc(value).astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")


def _csv_line(values: list[Any]) -> str:
    out = io.StringIO()
    csv.writer(out).writerow([neutralise_cell(v) for v in values])
    return out.getvalue()


# Excel, LibreOffice and Google Sheets read a cell starting with one of these as a formula; a leading
# TAB or CR is skipped by some of them and the formula after it runs (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    """A text cell that a spreadsheet could run as a formula, prefixed with a quote so it stays text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value

"""Conversation log (list with filters, transcripts) and the dashboard figures.

Days are China Standard Time, as everywhere in the console; times are stored in UTC.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from app.admin.insight import CST, day_bounds, local_day
from app.components.conversations import ConversationRow, FeedbackRow, HandoffRow, MessageRow
from app.curation.answers import MARK
from app.errors import ConversationNotFound, InvalidAdminRequest

STATUSES = ("answered", "refused", "fallback", "curated", "rated_down", "handed_off")
STATUS_LABELS = {"answered": "已回答", "refused": "未能回答", "fallback": "降级回答", "curated": "工作人员答复",
                 "rated_down": "差评", "handed_off": "转人工"}
CHANNEL_LABELS = {"web": "网页", "wechat_mp": "微信公众号", "wework": "企业微信", "api": "接口"}
MAX_SCAN = 20_000


def answer_kind(m: MessageRow) -> str:
    if (m.content or "").startswith(MARK):
        return "curated"
    if not m.grounded:
        return "refused"
    return "fallback" if m.fallback else "answered"


class ConversationLog:
    def __init__(self, sessions: sessionmaker):
        self._sessions = sessions

    def _range(self, since: dt.date | None, until: dt.date | None) -> tuple[dt.datetime, dt.datetime]:
        until = until or dt.datetime.now(CST).date()
        since = since or until - dt.timedelta(days=29)
        if since > until:
            raise InvalidAdminRequest("开始日期不能晚于结束日期")
        if (until - since).days > 366:
            raise InvalidAdminRequest("日期范围最长 366 天")
        return day_bounds(since, until)

    def find(self, *, channel: str | None = None, since: dt.date | None = None, until: dt.date | None = None,
             status: str | None = None, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        if status and status not in STATUSES:
            raise InvalidAdminRequest(f"status 只能是 {' | '.join(STATUSES)}")
        low, high = self._range(since, until)
        with self._sessions() as session:
            query = (select(ConversationRow).where(ConversationRow.updated_at >= low, ConversationRow.created_at < high)
                     .order_by(ConversationRow.updated_at.desc()).limit(MAX_SCAN))
            if channel:
                query = query.where(ConversationRow.channel == channel)
            conversations = list(session.scalars(query))
            ids = [c.id for c in conversations]
            messages: dict[str, list[MessageRow]] = defaultdict(list)
            down: set[str] = set()
            handed: Counter = Counter()
            for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
                for m in session.scalars(select(MessageRow).where(MessageRow.conversation_id.in_(chunk))
                                         .order_by(MessageRow.created_at)):
                    messages[m.conversation_id].append(m)
                down |= set(session.scalars(
                    select(MessageRow.conversation_id).join(FeedbackRow, FeedbackRow.message_id == MessageRow.id)
                    .where(MessageRow.conversation_id.in_(chunk), FeedbackRow.rating == "down")))
                for cid, n in session.execute(select(HandoffRow.conversation_id, func.count())
                                              .where(HandoffRow.conversation_id.in_(chunk))
                                              .group_by(HandoffRow.conversation_id)):
                    handed[cid] = n
        rows = []
        for c in conversations:
            msgs = messages.get(c.id, [])
            kinds = Counter(answer_kind(m) for m in msgs if m.role == "assistant")
            flags = {k for k in kinds} | ({"rated_down"} if c.id in down else set()) | (
                {"handed_off"} if handed[c.id] else set())
            if status and status not in flags:
                continue
            first = next((m.content for m in msgs if m.role == "user"), "")
            rows.append({"id": c.id, "channel": c.channel, "channel_label": CHANNEL_LABELS.get(c.channel, c.channel),
                         "created_at": c.created_at, "updated_at": c.updated_at, "first_question": first[:200],
                         "questions": sum(1 for m in msgs if m.role == "user"), "answered": kinds["answered"],
                         "refused": kinds["refused"], "fallback": kinds["fallback"], "curated": kinds["curated"],
                         "rated_down": c.id in down, "handoffs": handed[c.id],
                         "labels": [STATUS_LABELS[s] for s in STATUSES if s in flags]})
        return rows[offset:offset + limit], len(rows)

    def transcript(self, conversation_id: str) -> dict[str, Any]:
        with self._sessions() as session:
            c = session.get(ConversationRow, conversation_id)
            if c is None:
                raise ConversationNotFound("未找到该会话")
            msgs = list(session.scalars(select(MessageRow).where(MessageRow.conversation_id == conversation_id)
                                        .order_by(MessageRow.created_at)))
            feedback = {f.message_id: f for f in session.scalars(
                select(FeedbackRow).where(FeedbackRow.message_id.in_([m.id for m in msgs])))}
            handoffs = list(session.scalars(select(HandoffRow).where(HandoffRow.conversation_id == conversation_id)
                                            .order_by(HandoffRow.created_at)))
        out = []
        for m in msgs:
            item = {"id": m.id, "role": m.role, "content": m.content, "created_at": m.created_at, "status": m.status}
            if m.role == "assistant":
                kind = answer_kind(m)
                fb = feedback.get(m.id)
                item |= {"kind": kind, "kind_label": STATUS_LABELS[kind], "grounded": m.grounded,
                         "fallback": m.fallback, "refusal_reason": m.refusal_reason, "latency_ms": m.latency_ms,
                         "standalone": m.standalone_question, "citations": m.citations or [],
                         "rating": fb.rating if fb else None, "comment": fb.comment if fb else None,
                         "reply_to": m.reply_to}
            out.append(item)
        return {"id": c.id, "channel": c.channel, "channel_label": CHANNEL_LABELS.get(c.channel, c.channel),
                "created_at": c.created_at, "updated_at": c.updated_at, "messages": out,
                "handoffs": [{"id": h.id, "name": h.name, "phone": h.phone, "company": h.company, "note": h.note,
                              "status": h.status, "created_at": h.created_at} for h in handoffs]}

    # -- dashboard ------------------------------------------------------------------------------

    def dashboard(self, days: int, unanswered: list | None = None) -> dict[str, Any]:
        end = dt.datetime.now(CST).date()
        start = end - dt.timedelta(days=days - 1)
        low, high = day_bounds(start, end)
        day_list = [start + dt.timedelta(days=i) for i in range(days)]
        per_channel: dict[str, Counter] = defaultdict(Counter)
        outcome: dict[str, Counter] = {k: Counter() for k in ("answered", "refused", "handed_off")}
        latency: dict[dt.date, list[float]] = defaultdict(list)
        questions: Counter = Counter()
        with self._sessions() as session:
            rows = session.execute(select(MessageRow.role, MessageRow.content, MessageRow.created_at,
                                          MessageRow.grounded, MessageRow.latency_ms, ConversationRow.channel)
                                   .join(ConversationRow, ConversationRow.id == MessageRow.conversation_id)
                                   .where(MessageRow.created_at >= low, MessageRow.created_at < high))
            for role, content, at, grounded, ms, channel in rows:
                day = local_day(at)
                if role == "user":
                    per_channel[channel][day] += 1
                    questions[(content or "").strip()[:60]] += 1
                elif role == "assistant":
                    outcome["answered" if grounded else "refused"][day] += 1
                    if ms is not None:
                        latency[day].append(float(ms))
            for at, in session.execute(select(HandoffRow.created_at).where(HandoffRow.created_at >= low,
                                                                           HandoffRow.created_at < high)):
                outcome["handed_off"][local_day(at)] += 1
            ratings = Counter()
            rating_days: dict[dt.date, Counter] = defaultdict(Counter)
            for rating, at in session.execute(select(FeedbackRow.rating, FeedbackRow.created_at)
                                              .where(FeedbackRow.created_at >= low, FeedbackRow.created_at < high)):
                ratings[rating] += 1
                rating_days[local_day(at)][rating] += 1
        rated = ratings["up"] + ratings["down"]
        all_latency = [x for v in latency.values() for x in v]
        return {
            "start": start, "end": end, "days": [d.isoformat() for d in day_list],
            "questions_by_channel": {CHANNEL_LABELS.get(ch, ch): [c[d] for d in day_list]
                                     for ch, c in sorted(per_channel.items())},
            "outcomes": {"已回答": [outcome["answered"][d] for d in day_list],
                         "未能回答": [outcome["refused"][d] for d in day_list],
                         "转人工": [outcome["handed_off"][d] for d in day_list]},
            "satisfaction": {"up": ratings["up"], "down": ratings["down"],
                             "rate": round(ratings["up"] / rated, 3) if rated else None,
                             "by_day": [round(rating_days[d]["up"] / sum(rating_days[d].values()), 3)
                                        if rating_days[d] else None for d in day_list]},
            "latency": {"average_ms": round(sum(all_latency) / len(all_latency), 1) if all_latency else None,
                        "by_day": [round(sum(latency[d]) / len(latency[d]), 1) if latency[d] else None
                                   for d in day_list]},
            "totals": {"questions": sum(sum(c.values()) for c in per_channel.values()),
                       "answered": sum(outcome["answered"].values()), "refused": sum(outcome["refused"].values()),
                       "handed_off": sum(outcome["handed_off"].values())},
            "top_questions": [{"question": q, "count": n} for q, n in questions.most_common(10) if q],
            "top_unanswered": [{"question": g.question, "count": g.count, "examples": g.examples[:3]}
                               for g in (unanswered or [])[:10]],
        }

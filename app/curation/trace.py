"""命中测试: what the assistant would do with a question, step by step, without storing anything.

It calls ChatService's own steps (understand, then reply: plan and answer) — never the conversation store's
writes — so the trace cannot drift from what a citizen gets.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from app.curation.answers import CuratedAnswers
from app.facts import slots
from app.services import guard
from app.services.answering.base import drain

REASON_LABELS = {"no_evidence": "政策库无依据", "model_not_found": "模型判断无依据", "injection": "疑似注入",
                 "off_topic": "超出服务范围", "cheating": "涉及虚报骗补", "account_status": "查询个案办理进度",
                 "personal": "个人事务"}


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def trace(chat, curated: CuratedAnswers | None, message: str, conversation_id: str | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    question = chat.validate(message)
    known = bool(conversation_id) and chat.conversations.get_conversation(conversation_id) is not None
    q = chat.understand(question, conversation_id if known else None)  # reads only
    settings = chat.settings

    winner, considered = (curated.candidates(q) if curated is not None else (None, []))
    guarded = guard.classify(q.question) or slots.refusal_intent(q.question)
    result = chat.retriever.search(q)
    ev = result.evidence
    checks = [
        {"name": "相似度", "ok": ev.named or ev.top_dense >= settings.refusal_min_dense,
         "detail": f"最高相似度 {ev.top_dense:.3f}（下限 {settings.refusal_min_dense:.3f}）"
                   + ("；问题引用了文件的文号或标题" if ev.named else "")},
        {"name": "关键词覆盖", "ok": ev.coverage >= settings.refusal_min_coverage,
         "detail": f"问题用词覆盖率 {ev.coverage:.2f}（下限 {settings.refusal_min_coverage:.2f}）"
                   + (f"；未找到：{'、'.join(ev.missing_terms[:8])}" if ev.missing_terms else "")},
        {"name": "主题", "ok": not ev.missing_topic,
         "detail": ("未在片段中找到：" + "、".join(ev.missing_topic)) if ev.missing_topic else "问题的主题均有片段提及"},
        {"name": "地区", "ok": not ev.missing_places,
         "detail": ("政策库未提及：" + "、".join(ev.missing_places)) if ev.missing_places else "无政策库以外的地区"},
    ]
    sufficient = bool(result.chunks) and ev.sufficient(settings)
    if guarded:
        decision = {"answerable": False, "reason": guarded, "label": REASON_LABELS.get(guarded, guarded),
                    "why": "问题在检索前即被拒答（安全与服务范围检查）"}
    elif sufficient:
        decision = {"answerable": True, "reason": None, "label": "可回答", "why": "各项检查均通过"}
    else:
        failed = [c["name"] for c in checks if not c["ok"]] or ["没有检索到片段"]
        decision = {"answerable": False, "reason": "no_evidence", "label": REASON_LABELS["no_evidence"],
                    "why": "未通过：" + "、".join(failed)}

    if curated is not None:
        curated.dry_run.active = True  # a trace is not a citizen's question: no hit is counted
    try:
        answer = drain(chat.reply(q))
    finally:
        if curated is not None:
            curated.dry_run.active = False
    return {
        "question": question,
        "standalone": q.standalone,
        "follow_up": q.follow_up,
        "conversation_used": known,
        "asked": {"slots": q.slots, "levels": sorted(q.levels), "years": sorted(q.years), "topic": q.topic[:12]},
        "passages": [{"rank": i + 1, "chunk_id": c.id, "doc_id": c.doc_id, "title": c.meta.get("title", ""),
                      "article": c.meta.get("article", ""), "heading_path": c.meta.get("heading_path", ""),
                      "text": c.text[:400], "dense": _round(c.dense), "keyword": _round(c.keyword),
                      "fused": _round(c.fused), "rerank": _round(c.rerank), "expired": c.expired(dt.date.today())}
                     for i, c in enumerate(result.chunks)],
        "evidence": {"top_dense": _round(ev.top_dense), "coverage": _round(ev.coverage),
                     "topic_coverage": _round(ev.topic_coverage), "missing_terms": ev.missing_terms,
                     "missing_topic": ev.missing_topic, "missing_places": ev.missing_places, "named": ev.named,
                     "used_expired": result.used_expired, "checks": checks},
        "decision": decision,
        "curated": {"threshold": curated.threshold if curated is not None else None,
                    "winner": ({"answer_id": winner.row.id, "question": winner.row.question,
                                "similarity": round(winner.similarity, 4)} if winner else None),
                    "candidates": [{"answer_id": c.answer_id, "question": c.question,
                                    "similarity": round(c.similarity, 4), "accepted": c.accepted, "reason": c.reason}
                                   for c in considered]},
        "answer": {"text": answer.text, "grounded": answer.grounded, "fallback": answer.fallback,
                   "refusal_reason": answer.refusal_reason, "curated": bool(getattr(answer, "curated", False)),
                   "answer_id": getattr(answer, "answer_id", None),
                   "citations": [c.to_dict() for c in answer.citations]},
        "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
        "stored": False,
    }

"""Staff API of issue 16 under /api/admin (protected like the rest of the admin API) and the
console's extra assets."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from app.admin.assets import asset_route
from app.admin.auth import PrincipalDep, require_admin
from app.admin.schemas import JobPublic
from app.curation import charts
from app.curation.service import CurationServices
from app.curation.trace import trace


STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {"curation.js": "text/javascript; charset=utf-8", "curation.css": "text/css; charset=utf-8"}
ANSWER_STATUS_LABELS = {"active": "在用", "disabled": "已停用", "review": "待审核"}


def get_curation(request: Request) -> CurationServices:
    return request.app.state.services.curation


CurationDep = Annotated[CurationServices, Depends(get_curation)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]

api = APIRouter(prefix="/api/admin", tags=["admin: curation"], dependencies=[Depends(require_admin)])
pages = APIRouter(include_in_schema=False)


# --- corrected answers ---------------------------------------------------------------------------

class SourceIn(BaseModel):
    doc_id: str = Field(min_length=1, max_length=128)
    article: str = Field("", max_length=200, description="Article or clause, e.g. 第三条 (empty: the document)")


class AnswerIn(BaseModel):
    question: str = Field(min_length=1, max_length=500)
    answer: str = Field(min_length=1, max_length=5000)
    sources: list[SourceIn] = Field(min_length=1, max_length=8)
    origin: str | None = Field(None, max_length=200, description="Where it was written from, e.g. message:<id>")


class AnswerPatch(BaseModel):
    question: str | None = Field(None, min_length=1, max_length=500)
    answer: str | None = Field(None, min_length=1, max_length=5000)
    sources: list[SourceIn] | None = Field(None, min_length=1, max_length=8)
    status: Literal["active", "disabled"] | None = None


class AnswerOut(BaseModel):
    answer_id: str
    question: str
    answer: str
    sources: list[dict[str, Any]]
    status: str
    status_label: str
    review_reason: str = ""
    origin: str | None = None
    hits: int = 0
    created_by: str
    updated_by: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, row) -> "AnswerOut":
        return cls(answer_id=row.id, question=row.question, answer=row.answer, sources=row.sources or [],
                   status=row.status, status_label=ANSWER_STATUS_LABELS.get(row.status, row.status),
                   review_reason=row.review_reason or "", origin=row.origin, hits=row.hits or 0,
                   created_by=row.created_by, updated_by=row.updated_by, created_at=row.created_at,
                   updated_at=row.updated_at)


@api.post("/answers", response_model=AnswerOut, status_code=201)
def create_answer(body: AnswerIn, cur: CurationDep, principal: PrincipalDep) -> AnswerOut:
    """A corrected answer (标注回复, editor): served first for this question and close paraphrases,
    marked 工作人员答复（日期） with its sources."""
    row = cur.answers.create(body.question, body.answer, [s.model_dump() for s in body.sources], principal,
                             origin=body.origin)
    return AnswerOut.of(row)


@api.get("/answers", response_model=list[AnswerOut])
def list_answers(cur: CurationDep, response: Response,
                 status: Literal["active", "disabled", "review"] | None = None,
                 limit: int = Query(200, ge=1, le=2000), offset: Offset = 0) -> list[AnswerOut]:
    """Corrected answers, newest first; status=review lists those whose sources changed."""
    rows = cur.answers.list(status)
    response.headers["X-Total-Count"] = str(len(rows))
    return [AnswerOut.of(r) for r in rows[offset:offset + limit]]


@api.get("/answers/{answer_id}", response_model=AnswerOut)
def get_answer(answer_id: str, cur: CurationDep) -> AnswerOut:
    return AnswerOut.of(cur.answers.get(answer_id))


@api.patch("/answers/{answer_id}", response_model=AnswerOut)
def edit_answer(answer_id: str, body: AnswerPatch, cur: CurationDep, principal: PrincipalDep) -> AnswerOut:
    """Edit the question, answer or sources, or disable / enable it (editor)."""
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if "sources" in changes:
        changes["sources"] = [dict(s) for s in changes["sources"]]
    return AnswerOut.of(cur.answers.update(answer_id, changes, principal))


@api.delete("/answers/{answer_id}", status_code=204)
def delete_answer(answer_id: str, cur: CurationDep, principal: PrincipalDep) -> Response:
    cur.answers.delete(answer_id, principal)
    return Response(status_code=204)


# --- 命中测试 ----------------------------------------------------------------------------------------

class TraceIn(BaseModel):
    message: str = Field(min_length=1, max_length=2000)
    conversation_id: str | None = Field(None, max_length=200)


@api.post("/retrieval-test")
def retrieval_test(body: TraceIn, cur: CurationDep, request: Request) -> dict[str, Any]:
    """The standalone rewrite, ranked passages with dense / keyword / fused scores, the answerability
    decision and why, the corrected answer that would win, and the final answer. Nothing is stored."""
    chat = request.app.state.services.chat
    return trace(chat, cur.answers, body.message, body.conversation_id)


# --- conversation log --------------------------------------------------------------------------

@api.get("/conversations")
def list_conversations(cur: CurationDep, response: Response, channel: str | None = Query(None, max_length=32),
                       since: dt.date | None = None, until: dt.date | None = None,
                       status: str | None = Query(None, description="answered | refused | fallback | curated | "
                                                                     "rated_down | handed_off"),
                       limit: int = Query(50, ge=1, le=500), offset: Offset = 0) -> list[dict[str, Any]]:
    """Conversations (China-time days, both included; default the last 30 days), newest first, paged."""
    rows, total = cur.log.find(channel=channel, since=since, until=until, status=status, limit=limit, offset=offset)
    response.headers["X-Total-Count"] = str(total)
    return rows


@api.get("/conversations/{conversation_id}")
def conversation_transcript(conversation_id: str, cur: CurationDep) -> dict[str, Any]:
    """A conversation's transcript: every question and answer with its citations, ratings and handoffs."""
    return cur.log.transcript(conversation_id)


# --- versions and review -----------------------------------------------------------------------

class RollbackIn(BaseModel):
    version: int = Field(ge=1)


class RejectIn(BaseModel):
    reason: str = Field(min_length=1, max_length=1000)


@api.get("/documents/{doc_id}/versions")
def document_versions(doc_id: str, cur: CurationDep) -> list[dict[str, Any]]:
    """Version history: 在用 / 处理中 / 已替换 / 已删除 / 待审核 / 已退回, and whether it can be compared."""
    return cur.versions.history(doc_id)


@api.get("/documents/{doc_id}/diff")
def document_diff(doc_id: str, cur: CurationDep, old: int = Query(alias="from", ge=1),
                  new: int = Query(alias="to", ge=1)) -> dict[str, Any]:
    """A line diff of the text of two versions."""
    return cur.versions.diff(doc_id, old, new)


@api.post("/documents/{doc_id}/rollback", response_model=JobPublic, status_code=202)
def rollback(doc_id: str, body: RollbackIn, cur: CurationDep, principal: PrincipalDep) -> JobPublic:
    """Make an older version live again: its stored original is indexed through the upload job path."""
    return JobPublic.from_row(cur.versions.rollback(doc_id, body.version, principal))


@api.get("/reviews")
def pending_reviews(cur: CurationDep) -> dict[str, Any]:
    """Versions waiting for a reviewer (待审核), and whether the gate is on."""
    return {"enabled": cur.gate.enabled,
            "pending": [{"doc_id": r.doc_id, "version": r.version, "title": r.title, "source": r.source,
                         "chunk_count": r.chunk_count, "submitted_by": r.submitted_by, "created_at": r.created_at,
                         "status_label": "待审核"} for r in cur.gate.pending()]}


@api.post("/documents/{doc_id}/approve", response_model=JobPublic, status_code=202)
def approve(doc_id: str, cur: CurationDep, principal: PrincipalDep) -> JobPublic:
    """Publish the version waiting for review (reviewer; not the person who submitted it)."""
    return JobPublic.from_row(cur.gate.approve(doc_id, principal))


@api.post("/documents/{doc_id}/reject")
def reject(doc_id: str, body: RejectIn, cur: CurationDep, principal: PrincipalDep) -> dict[str, Any]:
    """Turn the waiting version down with a reason (reviewer); it is never served."""
    row = cur.gate.reject(doc_id, body.reason, principal)
    return {"doc_id": row.doc_id, "version": row.version, "status": row.status, "status_label": "已退回",
            "reason": row.reason, "decided_by": row.decided_by}


# --- dashboard ---------------------------------------------------------------------------------

@api.get("/dashboard")
def dashboard(cur: CurationDep, request: Request, days: int = Query(30, ge=1, le=366)) -> dict[str, Any]:
    """Figures and server-rendered SVG charts: questions per day by channel, answered / refused / handed
    off, satisfaction, top questions, top unanswered topics (grouped), average latency."""
    admin = request.app.state.services.admin
    data = cur.log.dashboard(days, admin.insight.unanswered(days=days, threshold=0.9))
    d = data["days"]
    data["charts"] = {
        "questions": charts.stacked_bars(d, data["questions_by_channel"], "每日提问数（按渠道）", "提问数"),
        "outcomes": charts.lines(d, data["outcomes"], "已回答 / 未能回答 / 转人工", "次数"),
        "satisfaction": charts.lines(d, {"满意率": data["satisfaction"]["by_day"]}, "满意率（有帮助 / 全部评价）",
                                     "满意率", top=1.0),
        "latency": charts.lines(d, {"平均耗时": data["latency"]["by_day"]}, "平均回答耗时", "毫秒"),
        "top_questions": charts.hbars([(q["question"], q["count"]) for q in data["top_questions"]], "热门问题"),
        "top_unanswered": charts.hbars([(q["question"], q["count"]) for q in data["top_unanswered"]],
                                       "未能回答的热门问题（相似问题已合并）"),
    }
    return data


# --- console assets ----------------------------------------------------------------------------

pages.add_api_route("/admin/curation/{name}", asset_route(STATIC, ASSETS), methods=["GET"])


router = APIRouter()
router.include_router(api)
router.include_router(pages)

"""Staff review of policy items (政策条目): list, accept / edit / reject, coverage.

Mounted under /api/admin like the rest of the staff API and protected the same way (a staff
token; viewers may only read). Every decision is written to the audit log; it is kept for as long
as the same document version is served (app.facts.store.PolicyFacts.replace_version).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from app.admin.assets import asset_route
from app.admin.auth import PrincipalDep, require_admin
from app.errors import RecordNotFound
from app.facts.store import REVIEW_STATES, PolicyFacts

api = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[Depends(require_admin)])
pages = APIRouter(include_in_schema=False)
STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {"facts.js": "text/javascript; charset=utf-8", "facts.css": "text/css; charset=utf-8"}


def get_facts(request: Request) -> PolicyFacts:
    return request.app.state.services.facts


FactsDep = Annotated[PolicyFacts, Depends(get_facts)]


class ConditionIn(BaseModel):
    text: str = Field(max_length=500)
    field: str | None = Field(None, max_length=40)
    op: str | None = Field(None, max_length=8)
    value: Any = None


class WindowIn(BaseModel):
    text: str = Field("", max_length=200)
    start: str | None = Field(None, max_length=10)
    end: str | None = Field(None, max_length=10)
    recurring: str | None = Field(None, max_length=11, pattern=r"^\d{2}-\d{2}/\d{2}-\d{2}$")


class ReviewIn(BaseModel):
    review: Literal["accepted", "edited", "rejected", "pending"]
    note: str | None = Field(None, max_length=1000)
    programme: str | None = Field(None, max_length=200)
    benefit: str | None = Field(None, max_length=20)
    amount_text: str | None = Field(None, max_length=500)
    amount_max_wan: float | None = Field(None, ge=0, le=1e8)
    ratio: float | None = Field(None, ge=0, le=1)
    window: WindowIn | None = None
    department: str | None = Field(None, max_length=200)
    materials: list[str] | None = Field(None, max_length=50)
    conditions: list[ConditionIn] | None = Field(None, max_length=50)


class FactsPage(BaseModel):
    coverage: dict[str, float]
    items: list[dict[str, Any]]


def _served(request: Request) -> dict[str, Any]:
    return request.app.state.services.registry.serving_versions()


@api.get("/facts", response_model=FactsPage)
def list_facts(facts: FactsDep, request: Request, response: Response,
               doc_id: str | None = Query(None, max_length=128),
               review: str | None = Query(None, description="pending | accepted | edited | rejected"),
               limit: int = Query(200, ge=1, le=5000), offset: int = Query(0, ge=0, le=1_000_000)) -> FactsPage:
    """Policy items of the served versions (with the extraction and any staff edit), and coverage:
    share of documents with items, share of items reviewed."""
    served = _served(request)
    rows = [r for r in facts.rows(doc_id=doc_id, review=review)
            if r.doc_id in served and served[r.doc_id].content_hash == r.content_hash]
    response.headers["X-Total-Count"] = str(len(rows))
    items = []
    for r in rows[offset:offset + limit]:
        d = r.to_dict()
        d.update(item_id=r.item_id, doc_id=r.doc_id, article=r.article, title=served[r.doc_id].title)
        items.append(d)
    return FactsPage(coverage=facts.coverage(served), items=items)


@api.patch("/facts/{item_id}")
def review_fact(item_id: str, body: ReviewIn, facts: FactsDep, principal: PrincipalDep,
                request: Request) -> dict[str, Any]:
    """Accept, edit (only the fields sent are changed) or reject an item; audited."""
    if body.review not in REVIEW_STATES:
        raise RecordNotFound("审核状态无效")
    row = facts.get(item_id)
    if row is None:
        raise RecordNotFound("政策条目不存在（文档可能已重新入库或删除）")
    edited = None
    if body.review == "edited":
        edited = {**(row.edited or {}), **body.model_dump(exclude_none=True, exclude={"review", "note"})}
    row = facts.set_review(item_id, body.review, principal.name, edited=edited, note=body.note)
    services = request.app.state.services
    services.admin.audit.record(principal.name, principal.role, f"facts_{body.review}", doc_id=row.doc_id,
                                detail={"item_id": item_id, "article": row.article, "note": body.note,
                                        "fields": sorted(edited or {})})
    if getattr(services, "matcher", None) is not None:
        services.matcher.invalidate()
    d = facts.get(item_id).to_dict()
    d.update(item_id=item_id, doc_id=row.doc_id, article=row.article)
    return d


# --- console assets (the 政策条目 tab, loaded by admin.html after admin.js) -----------------------

pages.add_api_route("/admin/facts/{name}", asset_route(STATIC, ASSETS), methods=["GET"])


router = APIRouter()
router.include_router(api)
router.include_router(pages)

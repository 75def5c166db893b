"""政策计算器 API: which programmes a company qualifies for (/api/match) and when to apply (/api/calendar)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from app.errors import KunruyiError
from app.facts.matching import CompanyProfile, Matcher

router = APIRouter(tags=["policy-calculator"])
STATIC = Path(__file__).resolve().parent.parent / "web" / "static"
PLUGIN_MEDIA = {"widget-match.js": "text/javascript; charset=utf-8", "widget-match.css": "text/css; charset=utf-8"}


class InvalidRange(KunruyiError):
    status_code = 422
    code = "invalid_range"


def get_matcher(request: Request) -> Matcher:
    return request.app.state.services.matcher


MatcherDep = Annotated[Matcher, Depends(get_matcher)]


class MatchRequest(BaseModel):
    profile: CompanyProfile = Field(default_factory=CompanyProfile, description="企业画像 / company profile")
    status: list[str] | None = Field(None, max_length=3, description="Only these statuses (eligible | possible | ineligible)")
    limit: int = Field(100, ge=1, le=5000, description="At most this many items (the counts cover all)")


class ConditionOut(BaseModel):
    text: str
    met: bool | None = Field(description="true 满足 / false 不满足 / null 未知或需人工确认")
    why: str


class WindowOut(BaseModel):
    start: str | None = None
    end: str | None = None
    text: str = ""
    recurring: str | None = None


class MatchItem(BaseModel):
    item_id: str
    doc_id: str
    title: str
    article: str
    programme: str = ""
    benefit: str
    amount_text: str
    amount_max_wan: float | None
    ratio: float | None = None
    window: WindowOut
    status: str = Field(description="eligible 符合条件 | possible 可能符合 | ineligible 暂不符合")
    status_text: str = ""
    conditions: list[ConditionOut]
    department: str | None = None
    materials: list[str] = []
    expires: str | None = None
    expired: bool = False
    days_left: int | None = Field(None, description="Days until the open window closes")
    chunk_id: str = ""
    url: str = Field(description="The article in the document page: /documents/{doc_id}#chunk-{chunk_id}")


class MatchResponse(BaseModel):
    today: str
    counts: dict[str, int]
    items: list[MatchItem]


class CalendarEntry(BaseModel):
    item_id: str
    doc_id: str
    title: str
    article: str
    programme: str
    benefit: str
    amount_text: str
    amount_max_wan: float | None
    window: WindowOut
    opens_in_range: bool
    closes_in_range: bool
    days_left: int | None
    countdown: str = Field(description="距截止还有N天 / N月N日开始申报")
    department: str | None
    url: str


class CalendarResponse(BaseModel):
    today: str
    start: str
    end: str
    items: list[CalendarEntry]


@router.post("/api/match", response_model=MatchResponse)
def match(body: MatchRequest, matcher: MatcherDep) -> JSONResponse:
    """政策计算器: every live policy item with the company's status — eligible (every typed
    condition met), possible (some unknown), ineligible (one fails, or the programme expired) —
    each condition with 满足/不满足/需确认 and why; sorted by status, amount, closing date."""
    today = matcher.clock()
    counts, chosen = matcher.top(body.profile, today=today, limit=body.limit, statuses=set(body.status or []) or None)
    items: list[dict[str, Any]] = [m.to_dict(today) for m in chosen]
    # The documented shape is MatchResponse; built here as plain JSON (no second validation pass).
    return JSONResponse({"today": today.isoformat(), "counts": counts, "items": items})


def _month_end(d: dt.date) -> dt.date:
    nxt = (d.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return nxt - dt.timedelta(days=1)


@router.get("/api/calendar", response_model=CalendarResponse)
def calendar(matcher: MatcherDep,
             start: dt.date | None = Query(None, alias="from", description="First day (default: the 1st of this month)"),
             end: dt.date | None = Query(None, alias="to", description="Last day (default: the end of this month)"),
             ) -> CalendarResponse:
    """申报日历: items whose application window opens or closes in the range, with 距截止还有N天."""
    today = matcher.clock()
    start = start or today.replace(day=1)
    end = end or _month_end(start)
    if end < start or (end - start).days > 3 * 366:
        raise InvalidRange("日期范围无效：结束日期应不早于开始日期，且跨度不超过三年")
    return CalendarResponse(today=today.isoformat(), start=start.isoformat(), end=end.isoformat(),
                            items=matcher.calendar(start, end, today=today))


@router.get("/widget-match.js", include_in_schema=False)
@router.get("/widget-match.css", include_in_schema=False)
def widget_plugin(request: Request) -> Response:
    """The widget's 政策匹配 tab (loaded by /widget.js beside the widget; short-lived in caches)."""
    name = request.url.path.rsplit("/", 1)[-1]
    return Response((STATIC / name).read_bytes(), media_type=PLUGIN_MEDIA[name], headers={
        "Cache-Control": "public, max-age=300", "Cross-Origin-Resource-Policy": "cross-origin"})

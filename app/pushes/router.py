"""Staff API for policy pushes (console section 政策推送), under /api/admin like the rest of the
staff API and protected the same way (staff token; viewers read). Approving, cancelling and test
sends are the editor's; each is written to the audit log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pathlib import Path

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from app.admin.assets import asset_route
from app.admin.auth import Principal, PrincipalDep, require_admin
from app.errors import AdminForbidden, RecordNotFound
from app.pushes.runtime import Pushes, pushes_for
from app.pushes.sender import Outcome

api = APIRouter(prefix="/api/admin/pushes", tags=["admin"], dependencies=[Depends(require_admin)])
pages = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent / "static"
ASSETS = {"pushes.js": "text/javascript; charset=utf-8", "pushes.css": "text/css; charset=utf-8"}


def get_pushes(request: Request) -> Pushes:
    return pushes_for(request.app.state.services)


PushesDep = Annotated[Pushes, Depends(get_pushes)]


def _editor(principal: Principal) -> None:
    if not principal.can_write:  # a reviewer may approve document versions, not pushes to citizens
        raise AdminForbidden("只有编辑（editor）可以批准、取消推送或发送测试消息")


class TestIn(BaseModel):
    openid: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_\-@.]+$",
                        description="OpenID（公众号）或 UserID（企业微信）")
    channel: Literal["wechat", "wework"] = "wechat"


@api.get("")
def list_batches(pushes: PushesDep) -> dict[str, Any]:
    """Batches, newest first, with delivered/failed counts; subscribers by status."""
    return {"review": pushes.settings.review, "enabled": pushes.settings.enabled,
            "weekly_limit": pushes.settings.weekly_limit, "quiet_hours": pushes.settings.quiet_hours,
            "subscribers": pushes.service.subscriber_counts(), "batches": pushes.service.batches()}


@api.get("/{batch_id}")
def get_batch(batch_id: int, pushes: PushesDep) -> dict[str, Any]:
    """One batch: counts and a sample of recipients (OpenIDs masked) with what each gets."""
    found = pushes.service.batch(batch_id)
    if found is None:
        raise RecordNotFound("没有这个推送批次")
    return found


def _decide(batch_id: int, approve: bool, pushes: Pushes, principal: Principal, request: Request) -> dict[str, Any]:
    _editor(principal)
    row = pushes.service.decide(batch_id, approve, principal.name)
    if row is None:
        raise RecordNotFound("没有这个推送批次")
    request.app.state.services.admin.audit.record(
        principal.name, principal.role, "push_approve" if approve else "push_cancel", doc_id=row.doc_id,
        detail={"batch": batch_id, "status": row.status})
    return pushes.service.batch(batch_id) or {}


@api.post("/test")
def test_send(body: TestIn, pushes: PushesDep, principal: PrincipalDep, request: Request) -> dict[str, Any]:
    """Send one sample push now to the given OpenID (one's own), through the real delivery path."""
    _editor(principal)
    live = pushes.service.matcher.live()
    if live:
        from app.facts.matching import CompanyProfile

        (match,) = pushes.service.matcher.match(CompanyProfile(), items=[live[0]])
        content = pushes.service.content(match, "test", pushes.service.today(), "这是一条测试消息")
    else:
        content = {"kind": "test", "title": "政策推送测试", "article": "", "programme": "政策推送测试",
                   "amount": "—", "window": "—", "status": "", "note": "这是一条测试消息",
                   "url": pushes.service.public_base_url or "/"}
    recent = body.channel == "wechat" and body.openid in pushes.sender.delivery.recent_writers("wechat", [body.openid])
    out: Outcome = pushes.sender.delivery.send(body.channel, body.openid, content, wrote_recently=recent)
    request.app.state.services.admin.audit.record(principal.name, principal.role, "push_test",
                                                  detail={"channel": body.channel, "ok": out.status == "sent",
                                                          "errcode": out.errcode})
    return {"ok": out.status == "sent", "via": out.via, "errcode": out.errcode, "error": out.error}


@api.post("/{batch_id}/approve")
def approve(batch_id: int, pushes: PushesDep, principal: PrincipalDep, request: Request) -> dict[str, Any]:
    return _decide(batch_id, True, pushes, principal, request)


@api.post("/{batch_id}/cancel")
def cancel(batch_id: int, pushes: PushesDep, principal: PrincipalDep, request: Request) -> dict[str, Any]:
    return _decide(batch_id, False, pushes, principal, request)


pages.add_api_route("/admin/pushes/{name}", asset_route(STATIC, ASSETS), methods=["GET"])


router = APIRouter()
router.include_router(api)
router.include_router(pages)

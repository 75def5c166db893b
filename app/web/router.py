"""The embeddable web widget: /widget.js and its versioned assets, the demo page, document pages
and the 转人工 (handoff) API."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from app.api.deps import CorpusDep, HandoffDep, SettingsDep, check_handoff_rate
from app.api.inputs import CleanText
from app.errors import DocumentNotFound
from app.services.corpus import DocumentSummary
from app.web.assets import AssetCatalog
from zhtext.validity import cn_date

HERE = Path(__file__).resolve().parent
DEMO_SUGGESTIONS = ["昆山对省级创新联合体给多少支持？", "高新技术企业认定有什么奖励？", "稳岗补贴怎么申请？"]
LOADER_CACHE = "public, max-age=300"
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"

assets = AssetCatalog()
templates = Jinja2Templates(directory=HERE / "templates")  # autoescapes .html templates
templates.env.filters["cn_date"] = lambda d: cn_date(d) if d else "—"


def _loader_source() -> bytes:
    source = (HERE / "loader.js").read_text(encoding="utf-8")
    return (source.replace("__WIDGET_JS__", json.dumps(assets.url("widget.js")))
            .replace("__WIDGET_CSS__", json.dumps(assets.url("widget.css"))).encode())


LOADER = _loader_source()
LOADER_ETAG = '"' + hashlib.sha256(LOADER).hexdigest()[:16] + '"'

router = APIRouter(tags=["web"])


@router.get("/widget.js", include_in_schema=False)
def widget_loader(request: Request) -> Response:
    """The one script a webmaster embeds; short-lived in caches, it points at the versioned widget."""
    headers = {"Cache-Control": LOADER_CACHE, "ETag": LOADER_ETAG, "Cross-Origin-Resource-Policy": "cross-origin"}
    if request.headers.get("if-none-match") == LOADER_ETAG:
        return Response(status_code=304, headers=headers)
    return Response(LOADER, media_type="text/javascript; charset=utf-8", headers=headers)


@router.get("/web/static/{name}", include_in_schema=False)
def static_asset(name: str) -> Response:
    found = assets.lookup(name)
    if found is None:
        return Response("未找到该文件", status_code=404, media_type="text/plain; charset=utf-8")
    asset, current = found
    return Response(asset.body, media_type=asset.media_type, headers={
        "Cache-Control": IMMUTABLE_CACHE if current else "no-cache",
        "Cross-Origin-Resource-Policy": "cross-origin",
    })


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def demo_page(request: Request) -> HTMLResponse:
    """A page that hosts the widget and says in Chinese what the assistant can do."""
    base = str(request.base_url).rstrip("/")
    snippet = f'<script src="{base}/widget.js" data-title="昆如意企业服务助手" defer></script>'
    return templates.TemplateResponse(request, "demo.html", {
        "page_css": assets.url("page.css"), "suggestions": DEMO_SUGGESTIONS, "embed_snippet": snippet})


@router.get("/documents/{doc_id}", response_class=HTMLResponse, include_in_schema=False)
def document_page(doc_id: str, request: Request, corpus: CorpusDep) -> HTMLResponse:
    """A document's metadata and text, one block per chunk (``#chunk-<id>`` highlights a citation)."""
    try:
        row, chunks = corpus.chunks(doc_id)
    except DocumentNotFound as exc:
        return templates.TemplateResponse(request, "not_found.html", {
            "page_css": assets.url("page.css"), "message": exc.message}, status_code=404)
    doc = DocumentSummary.from_row(row, dt.date.today())
    official = doc.url if (doc.url or "").startswith(("http://", "https://")) else None
    return templates.TemplateResponse(request, "document.html", {
        "page_css": assets.url("page.css"), "doc": doc, "official_url": official,
        "chunks": [{"id": h.id, "text": h.text} for h in chunks],
    })


class HandoffRequest(BaseModel):
    conversation_id: CleanText = Field(max_length=64, description="The conversation staff will see")
    name: CleanText | None = Field(None, max_length=2000, description="姓名 (optional, up to 50 characters)")
    phone: CleanText | None = Field(None, max_length=2000, description="电话 (optional; mobile or landline)")
    company: CleanText | None = Field(None, max_length=2000, description="企业名称 (optional, up to 100 characters)")
    note: CleanText | None = Field(None, max_length=5000, description="问题说明 (optional, up to 1000 characters)")


class HandoffResponse(BaseModel):
    id: int
    status: str = "new"
    contact: str = Field(description="How to reach a person now (hotline, service centre)")


class ContactResponse(BaseModel):
    contact: str
    hours: str


@router.get("/api/handoff/contact", response_model=ContactResponse, tags=["handoff"])
def handoff_contact(settings: SettingsDep) -> ContactResponse:
    """How to reach a person: hotline, service centres and their hours (shown before any details are given)."""
    return ContactResponse(contact=settings.service_contact, hours=settings.service_hours)


@router.post("/api/handoff", response_model=HandoffResponse, status_code=201, tags=["handoff"],
             responses={429: {"description": "Too many handoff requests"}})
def request_handoff(body: HandoffRequest, service: HandoffDep, request: Request) -> HandoffResponse:
    """转人工: record a request for a person, with the contact details the user chose to give;
    staff see it with the conversation attached. Limited per client IP and per conversation (429);
    a request refused for its contact details (422) is not counted, so fixing a typo never locks a user out."""
    fields = {"name": body.name, "phone": body.phone, "company": body.company, "note": body.note}
    for field, value in fields.items():
        service.clean(field, value)
    check_handoff_rate(request, body.conversation_id)
    receipt = service.request(body.conversation_id, **fields)
    return HandoffResponse(id=receipt.id, contact=receipt.contact)

"""The widget's server side over HTTP: assets and caching, security headers, CORS, document pages
and the handoff API."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.web.conftest import QUESTION, XSS_DOC_ID

FOREIGN = "https://www.park.example.cn"


@pytest.fixture(scope="module")
def web_client(web_services):
    with TestClient(create_app(web_services.settings, services=web_services)) as client:
        yield client


@pytest.fixture(scope="module")
def conversation(web_client) -> str:
    response = web_client.post("/api/chat", json={"message": QUESTION})
    assert response.status_code == 200, response.text
    return response.json()["conversation_id"]


def client_with(web_services, **overrides) -> TestClient:
    """The same services behind an app built with other web settings (CORS, frame-ancestors)."""
    settings = web_services.settings.model_copy(update=overrides)
    return TestClient(create_app(settings, services=web_services))


# --- assets --------------------------------------------------------------------------------------

def test_widget_loader_is_short_lived_and_points_at_immutable_assets(web_client):
    response = web_client.get("/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert web_client.get("/widget.js", headers={"If-None-Match": response.headers["etag"]}).status_code == 304

    urls = re.findall(r'"(/web/static/widget\.[0-9a-f]{12}\.(?:js|css))"', response.text)
    assert sorted(u.rsplit(".", 1)[1] for u in urls) == ["css", "js"]
    for url in urls:
        asset = web_client.get(url)
        assert asset.status_code == 200
        assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert asset.headers["cross-origin-resource-policy"] == "cross-origin"


def test_an_old_asset_hash_still_gets_the_current_file_uncached(web_client):
    current = web_client.get(re.search(r'"(/web/static/widget\.[0-9a-f]{12}\.js)"',
                                       web_client.get("/widget.js").text).group(1))
    stale = web_client.get("/web/static/widget.000000000000.js")
    assert stale.status_code == 200
    assert stale.headers["cache-control"] == "no-cache"
    assert stale.content == current.content
    assert web_client.get("/web/static/nothing.000000000000.js").status_code == 404
    assert web_client.get("/web/static/..%2Fhandoff.py").status_code == 404


# --- pages and security headers ------------------------------------------------------------------

def test_demo_page_embeds_the_widget_under_a_strict_csp(web_client):
    response = web_client.get("/")
    assert response.status_code == 200
    assert '<script src="/widget.js"' in response.text
    assert "助手能做什么" in response.text
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "frame-ancestors 'self'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"


def test_frame_ancestors_come_from_settings(web_services):
    with client_with(web_services, frame_ancestors="'self' https://portal.example.gov.cn") as client:
        csp = client.get("/").headers["content-security-policy"]
    assert "frame-ancestors 'self' https://portal.example.gov.cn" in csp


def test_api_docs_are_not_broken_by_the_csp(web_client):
    response = web_client.get("/docs")
    assert response.status_code == 200
    assert "content-security-policy" not in response.headers


def test_document_page_shows_metadata_and_escapes_the_text(web_client):
    response = web_client.get(f"/documents/{XSS_DOC_ID}")
    assert response.status_code == 200
    html = response.text
    assert "昆测〔2025〕1号" in html and "有效期至2030年12月31日" in html and "示例" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img" not in html
    assert "[点我](javascript:alert(1))" in html and 'href="javascript' not in html
    assert re.search(rf'id="chunk-{XSS_DOC_ID}::[0-9a-f]{{16}}::0000"', html)
    assert "content-security-policy" in response.headers


def test_unknown_document_page_is_a_chinese_404(web_client):
    response = web_client.get("/documents/no-such-document")
    assert response.status_code == 404
    assert "未找到该文档" in response.text
    assert response.headers["content-type"].startswith("text/html")


# --- CORS ----------------------------------------------------------------------------------------

def preflight(client: TestClient, origin: str):
    return client.options("/api/chat/stream", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})


def test_cors_default_is_same_origin_only(web_client):
    assert "access-control-allow-origin" not in preflight(web_client, FOREIGN).headers
    assert "access-control-allow-origin" not in web_client.get("/api/handoff/contact", headers={"Origin": FOREIGN}).headers


def test_cors_allows_the_configured_origins(web_services):
    with client_with(web_services, cors_origins=f"{FOREIGN}, https://zwfw.example.gov.cn") as client:
        allowed = preflight(client, FOREIGN)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == FOREIGN
        assert "access-control-allow-origin" not in preflight(client, "https://evil.example.com").headers
        get = client.get("/api/handoff/contact", headers={"Origin": FOREIGN})
        assert get.headers["access-control-allow-origin"] == FOREIGN


def test_cors_star_allows_any_origin(web_services):
    with client_with(web_services, cors_origins="*") as client:
        assert preflight(client, "https://any.example.org").headers["access-control-allow-origin"] == "*"


# --- handoff -------------------------------------------------------------------------------------

def test_handoff_contact_is_the_configured_service_contact(web_client, web_services):
    assert web_client.get("/api/handoff/contact").json() == {"contact": web_services.settings.service_contact,
                                                              "hours": web_services.settings.service_hours}


def test_handoff_is_stored_with_the_conversation(web_client, web_services, conversation):
    response = web_client.post("/api/handoff", json={
        "conversation_id": conversation, "name": " 李女士 ", "phone": "13800138000", "company": "",
        "note": "想了解申报时间"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["contact"] == web_services.settings.service_contact and body["status"] == "new"
    row = next(h for h in web_services.conversations.handoffs() if h.id == body["id"])
    assert (row.conversation_id, row.name, row.phone, row.company, row.note) == (
        conversation, "李女士", "13800138000", None, "想了解申报时间")


def test_handoff_without_contact_details_is_fine(web_client, conversation):
    assert web_client.post("/api/handoff", json={"conversation_id": conversation}).status_code == 201


@pytest.mark.parametrize("fields, message", [
    ({"phone": "请打电话给我"}, "电话号码格式不正确"),
    ({"phone": "123"}, "电话号码格式不正确"),
    ({"name": "张" * 51}, "姓名太长了"),
    ({"note": "很" * 1001}, "问题说明太长了"),
])
def test_bad_contact_details_get_a_chinese_422(web_client, web_services, conversation, fields, message):
    before = len(web_services.conversations.handoffs())
    response = web_client.post("/api/handoff", json={"conversation_id": conversation, **fields})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_contact"
    assert message in response.json()["message"]
    assert len(web_services.conversations.handoffs()) == before


@pytest.mark.parametrize("phone", ["13800138000", "+86 138 0013 8000", "0512-57501234", "0512-57501234转8001"])
def test_usual_phone_numbers_are_accepted(web_client, conversation, phone):
    assert web_client.post("/api/handoff", json={"conversation_id": conversation, "phone": phone}).status_code == 201


def test_handoff_for_an_unknown_conversation_is_a_chinese_404(web_client):
    response = web_client.post("/api/handoff", json={"conversation_id": "nope", "name": "王"})
    assert response.status_code == 404
    assert response.json() == {"error": "conversation_not_found", "message": "未找到该会话，请先提问后再转人工"}

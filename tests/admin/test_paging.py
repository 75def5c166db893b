"""Console lists are paged (issue 12, item 8): a flood of 转人工 requests must not hide the real ones."""

from __future__ import annotations

from playwright.sync_api import expect

from app.main import create_app
from tests.admin.conftest import EDITOR_TOKEN, VIEWER


def _flood(app, count: int) -> tuple[int, list[int]]:
    """One real request, then ``count`` flood requests on another conversation (newest last)."""
    real_conversation = app.client.post("/api/chat", json={"message": "稳岗补贴怎么申请？"}).json()["conversation_id"]
    flood_conversation = app.client.post("/api/chat", json={"message": "你好"}).json()["conversation_id"]
    real = app.services.conversations.add_handoff(real_conversation, name="真实企业", phone="13800000000",
                                                  note="想咨询稳岗补贴")
    flood = [app.services.conversations.add_handoff(flood_conversation, note=f"刷屏{i}") for i in range(count)]
    return real, flood


def test_handoff_list_is_paged_and_the_oldest_request_stays_reachable(make_admin):
    app = make_admin(sample=False)
    real, flood = _flood(app, 120)
    first = app.client.get("/api/admin/insight/handoffs", headers=VIEWER)
    assert first.status_code == 200 and first.headers["x-total-count"] == "121"
    assert len(first.json()) == 50, "the default page is 50, not the newest 200"
    seen = []
    for offset in range(0, 150, 50):
        page = app.client.get("/api/admin/insight/handoffs", params={"limit": 50, "offset": offset}, headers=VIEWER)
        seen += [h["id"] for h in page.json()]
    assert seen == list(reversed(flood)) + [real], "newest first, every row exactly once"
    only_new = app.client.get("/api/admin/insight/handoffs", params={"status": "new", "limit": 1, "offset": 120},
                              headers=VIEWER)
    assert [h["name"] for h in only_new.json()] == ["真实企业"]
    assert app.client.get("/api/admin/insight/handoffs", params={"limit": 0}, headers=VIEWER).status_code == 422
    assert app.client.get("/api/admin/insight/handoffs", params={"offset": -1}, headers=VIEWER).status_code == 422
    for path in ("/api/admin/audit", "/api/admin/jobs", "/api/admin/documents", "/api/admin/insight/rated-down",
                 "/api/admin/insight/unanswered"):
        response = app.client.get(path, params={"limit": 1, "offset": 0}, headers=VIEWER)
        assert response.status_code == 200 and len(response.json()) <= 1, path


def test_console_pages_through_handoffs(make_admin, live_server, page):
    app = make_admin(sample=False)
    real, _ = _flood(app, 60)
    server = live_server(create_app(app.settings, services=app.services))
    page.goto(f"{server.url}/admin")
    page.fill("#token", EDITOR_TOKEN)
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_selector("#console:not([hidden])")
    page.click(".tabs button[data-tab=handoffs]")
    rows = page.locator("#handoff-table tbody tr")
    expect(rows).to_have_count(50)
    expect(page.locator("#handoff-pager")).to_contain_text("第 1 页")
    expect(page.locator("#handoff-pager button[data-page=prev]")).to_be_disabled()
    page.click("#handoff-pager button[data-page=next]")
    expect(rows).to_have_count(11)
    expect(page.locator("#handoff-pager")).to_contain_text("第 2 页")
    expect(page.locator("#handoff-pager button[data-page=next]")).to_be_disabled()
    expect(page.locator("#handoff-table tbody tr").last).to_contain_text("真实企业")
    page.click("#handoff-pager button[data-page=prev]")
    expect(rows).to_have_count(50)

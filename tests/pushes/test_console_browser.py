"""The console's 政策推送 tab in Debian's Chromium against the real app on uvicorn: a batch waiting
for approval, its recipients, approve; no CSP violation (no inline script or style)."""

from __future__ import annotations

from playwright.sync_api import expect

from app.main import create_app
from tests.pushes.conftest import GRADUATES, talent_doc
from tests.pushes.test_staff_and_keywords import EDITOR


def test_console_tab_shows_a_batch_and_approves_it(app_env, live_server, page):
    services, _client, publish, fake = app_env
    pushes = services.pushes
    pushes.service.watch()
    pushes.service.subscribe("wechat", "oConsole-user-1", GRADUATES)
    publish("talent.md", talent_doc())
    (batch,) = pushes.service.watch()
    server = live_server(create_app(services.settings, services=services))
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())

    page.goto(f"{server.url}/admin")
    page.fill("#token", EDITOR)
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_selector("#console:not([hidden])")
    page.locator(".tabs button", has_text="政策推送").click()
    row = page.locator("#pushes-table tbody tr", has_text=f"#{batch}")
    expect(row).to_contain_text("待审批")
    row.get_by_role("button", name="查看").click()
    detail = page.locator("#pushes-detail")
    expect(detail).to_contain_text("oCon…er-1")
    expect(detail).to_contain_text("2026年12月10日至12月31日")
    detail.get_by_role("button", name="批准发送").click()
    expect(page.locator("#notice")).to_contain_text("已批准")
    expect(row).to_contain_text("已批准")
    # (the browser's own favicon request is a 404 outside the page: only CSP and script errors count)
    assert not [e for e in errors if "Content Security Policy" in e or "Failed to load" not in e], errors
    pushes.sender.send_due()
    assert [m["touser"] for m in fake.messages] == ["oConsole-user-1"]

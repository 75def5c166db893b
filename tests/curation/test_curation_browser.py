"""Issue 16 flows in Debian's Chromium against the real app on uvicorn: correct an unanswered question
and get the corrected answer in the widget for it and two paraphrases; 命中测试; a transcript from a
转人工 row; version diff and rollback; the review gate; the dashboard's charts."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from app.main import create_app
from tests.admin.conftest import EDITOR_TOKEN, FIREFLY_V2, VIEWER_TOKEN
from tests.curation.conftest import (AMOUNT_QUESTION, CORRECTED, PARAPHRASES, REVIEWER_TOKEN, UNANSWERED,
                                     firefly_doc_id)

LAUNCHER = "打开昆如意企业服务助手"


def serve(live_server, app):
    return live_server(create_app(app.settings, services=app.services))


def watch_csp(page) -> list[str]:
    """Console errors (a CSP violation shows up here): the console must need no inline script or style."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def sign_in(page, url: str, token: str, who: str) -> None:
    page.goto(f"{url}/admin")
    page.fill("#token", token)
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_selector("#console:not([hidden])")
    expect(page.locator("#who-name")).to_contain_text(who)


def tab(page, label: str) -> None:
    page.locator(".tabs button", has_text=label).click()


def ask_api(url: str, question: str, **extra) -> dict:
    response = httpx.post(f"{url}/api/chat", json={"message": question, **extra}, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def test_correct_an_unanswered_question_then_the_widget_serves_it(staff, live_server, page):
    app = staff()
    server = serve(live_server, app)
    doc_id = firefly_doc_id(app)
    errors = watch_csp(page)
    assert not ask_api(server.url, UNANSWERED)["grounded"]

    sign_in(page, server.url, EDITOR_TOKEN, "alice")
    tab(page, "未解决问题")
    row = page.locator("#unanswered-table tbody tr", has_text=UNANSWERED)
    row.get_by_role("button", name="写标注回复").click()
    expect(page.locator("#tab-answers")).to_be_visible()
    expect(page.locator("#answer-question")).to_have_value(UNANSWERED)
    page.fill("#answer-text", CORRECTED)
    page.fill("#answer-sources input[name=doc_id]", doc_id)
    page.fill("#answer-sources input[name=article]", "第二条")
    page.click("#answer-save")
    expect(page.locator("#notice")).to_contain_text("已保存标注回复")
    saved = page.locator("#answer-table tbody tr", has_text=UNANSWERED)
    expect(saved).to_contain_text("在用")
    expect(saved).to_contain_text("第二条")

    page.goto(server.url + "/")
    page.get_by_role("button", name=LAUNCHER).click()
    for n, question in enumerate((UNANSWERED, *PARAPHRASES), start=1):
        box = page.get_by_role("textbox", name="输入您的问题")
        box.fill(question)
        box.press("Enter")
        done = page.locator(".kry-assistant[data-state=done]")
        expect(done).to_have_count(n, timeout=60_000)
        expect(done.last).to_contain_text("工作人员答复（")
        expect(done.last).to_contain_text(CORRECTED)
        expect(done.last).to_contain_text("昆山示例萤火虫栖息地保护补贴办法")
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_retrieval_test_in_the_console(staff, live_server, page):
    app = staff()
    server = serve(live_server, app)
    errors = watch_csp(page)
    page.goto(f"{server.url}/admin")
    expect(page.locator("#sign-out")).to_be_hidden()  # 退出登录 only when signed in
    assert "python" not in page.locator("#sign-in").inner_text()  # no command for staff to run
    sign_in(page, server.url, VIEWER_TOKEN, "bob")  # a viewer may test; nothing is stored
    expect(page.locator("#sign-out")).to_be_visible()
    tab(page, "命中测试")
    page.fill("#trace-message", AMOUNT_QUESTION)
    page.locator("#trace-form button[type=submit]").click()
    expect(page.locator("#trace-decision")).to_contain_text("可回答")
    expect(page.locator("#trace-standalone")).to_contain_text("萤火虫栖息地保护补贴")
    passages = page.locator("#trace-passages tbody tr")
    expect(passages.first).to_contain_text("昆山示例萤火虫栖息地保护补贴办法")
    header = page.locator("#trace-passages thead").inner_text()
    assert "向量" in header and "关键词" in header and "融合" in header
    expect(page.locator("#trace-curated")).to_contain_text("无")
    expect(page.locator("#trace-answer")).to_contain_text("三百二十七元")
    page.fill("#trace-message", "上海的人才公寓怎么申请？")
    page.locator("#trace-form button[type=submit]").click()
    expect(page.locator("#trace-decision")).to_contain_text("政策库无依据")
    listed = httpx.get(f"{server.url}/api/admin/conversations", headers={"Authorization": f"Bearer {VIEWER_TOKEN}"})
    assert listed.json() == []  # the tests stored no conversation
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_transcript_from_a_handoff_row(staff, live_server, page):
    app = staff()
    server = serve(live_server, app)
    first = ask_api(server.url, AMOUNT_QUESTION)
    ask_api(server.url, "那最高补贴多少？", conversation_id=first["conversation_id"])
    handoff = httpx.post(f"{server.url}/api/handoff", json={"conversation_id": first["conversation_id"],
                                                            "name": "张经理", "phone": "0512-57501234"})
    assert handoff.status_code == 201, handoff.text

    sign_in(page, server.url, EDITOR_TOKEN, "alice")
    tab(page, "转人工")
    row = page.locator("#handoff-table tbody tr", has_text="张经理")
    row.get_by_role("button", name="查看会话").click()
    transcript = page.locator("#transcript-messages")
    expect(transcript).to_be_visible()
    expect(transcript.locator(".msg.user").first).to_contain_text(AMOUNT_QUESTION)
    expect(transcript.locator(".msg.assistant").first).to_contain_text("三百二十七元")
    expect(transcript.locator(".msg.assistant").first.locator(".cites")).to_contain_text("昆山示例萤火虫栖息地保护补贴办法")
    expect(transcript.locator(".msg")).to_have_count(4)
    expect(page.locator("#transcript .handoff-note")).to_contain_text("张经理")


def test_version_diff_and_rollback(staff, live_server, page):
    app = staff()
    server = serve(live_server, app)
    doc_id = firefly_doc_id(app)
    job = app.client.post(f"/api/admin/documents/{doc_id}/replace", headers={"Authorization": f"Bearer {EDITOR_TOKEN}"},
                          files={"file": ("firefly-v2.md", FIREFLY_V2.encode())})
    assert app.wait_job(job.json()["id"])["status"] == "done"
    assert "六百五十一元" in ask_api(server.url, AMOUNT_QUESTION)["answer"]
    page.on("dialog", lambda dialog: dialog.accept())

    sign_in(page, server.url, EDITOR_TOKEN, "alice")
    page.locator(f"#doc-table tr[data-doc-id='{doc_id}'] button.link").click()  # the document's detail
    page.wait_for_selector("#doc-detail:not([hidden])")
    page.click("#detail-versions")
    expect(page.locator("#version-doc")).to_have_value(doc_id)
    rows = page.locator("#version-history tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("已替换")
    expect(rows.nth(1)).to_contain_text("在用")
    page.click("#diff-run")
    expect(page.locator("#diff-summary")).to_contain_text("v1 → v2")
    expect(page.locator("#diff-lines .del")).to_contain_text("三百二十七元")
    expect(page.locator("#diff-lines .add")).to_contain_text("六百五十一元")

    rows.nth(0).get_by_role("button", name="回退到此版本").click()
    expect(page.locator("#notice")).to_contain_text("已回退", timeout=120_000)
    expect(rows).to_have_count(3)
    expect(rows.nth(2)).to_contain_text("在用")
    answer = ask_api(server.url, AMOUNT_QUESTION)["answer"]
    assert "三百二十七元" in answer and "六百五十一元" not in answer


def test_review_gate_in_the_console(staff, live_server, page):
    app = staff(review_before_publish=True)  # the fixture's upload waits for review
    server = serve(live_server, app)
    doc_id = firefly_doc_id(app)
    assert not ask_api(server.url, AMOUNT_QUESTION)["grounded"]  # never served while waiting

    sign_in(page, server.url, REVIEWER_TOKEN, "carol（审核）")
    expect(page.locator("#reindex-all")).to_be_hidden()  # a reviewer does not change the corpus
    expect(page.locator(f"#doc-table tr[data-doc-id='{doc_id}'] td").nth(5)).to_have_text("待审核")
    tab(page, "版本与审核")
    expect(page.locator("#review-state")).to_contain_text("已开启")
    row = page.locator(f"#review-table tbody tr[data-doc-id='{doc_id}']")
    expect(row).to_contain_text("alice")
    row.get_by_role("button", name="通过").click()
    expect(page.locator("#notice")).to_contain_text("已发布", timeout=120_000)
    assert "三百二十七元" in ask_api(server.url, AMOUNT_QUESTION)["answer"]

    job = app.client.post(f"/api/admin/documents/{doc_id}/replace", headers={"Authorization": f"Bearer {EDITOR_TOKEN}"},
                          files={"file": ("firefly-v2.md", FIREFLY_V2.encode())})
    assert "待审核" in app.wait_job(job.json()["id"])["items"][0]["message"]
    tab(page, "数据看板")
    tab(page, "版本与审核")
    row = page.locator(f"#review-table tbody tr[data-doc-id='{doc_id}']")
    expect(row).to_contain_text("v2")
    row.get_by_role("button", name="退回").click()
    expect(page.locator("#notice")).to_contain_text("请填写退回原因")
    row.get_by_label("退回原因").fill("金额与原文不符")
    row.get_by_role("button", name="退回").click()
    expect(page.locator("#notice")).to_contain_text("已退回")
    expect(page.locator("#review-table tbody")).to_contain_text("没有待审核的版本")
    answer = ask_api(server.url, AMOUNT_QUESTION)["answer"]
    assert "三百二十七元" in answer and "六百五十一元" not in answer
    tab(page, "操作日志")
    audit = page.locator("#audit-table tbody")
    expect(audit).to_contain_text("审核退回")
    expect(audit).to_contain_text("原因：金额与原文不符")
    assert "{" not in audit.inner_text()  # no raw JSON


def test_dashboard_charts(staff, live_server, page):
    app = staff()
    server = serve(live_server, app)
    errors = watch_csp(page)
    ask_api(server.url, AMOUNT_QUESTION)
    ask_api(server.url, "上海的人才公寓怎么申请？")
    sign_in(page, server.url, VIEWER_TOKEN, "bob")
    tab(page, "数据看板")
    expect(page.locator("#dash-charts figure svg")).to_have_count(6)
    expect(page.locator("#dash-totals")).to_contain_text("提问")
    expect(page.locator("figure[data-chart=top_unanswered]")).to_contain_text("上海的人才公寓怎么申请？")
    assert page.locator("figure[data-chart=questions] svg rect").count() >= 1
    assert not [e for e in errors if "Content Security Policy" in e], errors

"""The widget in Debian's Chromium against the real app on uvicorn: ask, stream, cite, rate, hand off,
reload; hostile documents stay inert; phones get a full-screen panel; a server that dies mid-answer."""

from __future__ import annotations

import re
import shutil

from playwright.sync_api import expect
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from app.components.conversations import FeedbackRow
from app.main import Services, create_app
from app.settings import Settings
from tests.conftest import free_port
from tests.fakes.openai_server import FakeOpenAI
from tests.web.conftest import QUESTION, XSS_DOC_ID, XSS_QUESTION

LAUNCHER = "打开昆如意企业服务助手"
# Records every data-state an answer passes through (waiting, streaming…, done): proof that the
# text arrived in pieces before the final event.
WATCH_STATES = """() => {
  const root = document.querySelector('kunruyi-widget').shadowRoot;
  window.__states = [];
  new MutationObserver(records => records.forEach(r => window.__states.push(r.oldValue)))
    .observe(root, {subtree: true, attributes: true, attributeOldValue: true, attributeFilter: ['data-state']});
}"""
SHADOW_IMAGES = "() => document.querySelector('kunruyi-widget').shadowRoot.querySelectorAll('img').length"
SHADOW_LINKS = "() => [...document.querySelector('kunruyi-widget').shadowRoot.querySelectorAll('a')].map(a => a.href)"
SHADOW_FOCUS = "() => document.querySelector('kunruyi-widget').shadowRoot.activeElement?.getAttribute('aria-label')"


def open_widget(page, url: str):
    page.goto(url + "/")
    page.get_by_role("button", name=LAUNCHER).click()
    panel = page.get_by_role("dialog", name="昆如意企业服务助手")
    expect(panel).to_be_visible()
    return panel


def ask(page, question: str):
    """Type a question, press Enter and wait for the finished answer; returns its locator."""
    box = page.get_by_role("textbox", name="输入您的问题")
    box.fill(question)
    box.press("Enter")
    answer = page.locator(".kry-assistant[data-state=done]").last
    expect(answer).to_be_visible(timeout=60_000)
    return answer


def conversation_id(page) -> str:
    return page.evaluate("() => Object.entries(localStorage).find(([k]) => k.endsWith(':conversation'))[1]")


def test_ask_cite_rate_hand_off_and_reload(page, web_server, web_services):
    panel = open_widget(page, web_server.url)
    expect(panel.get_by_text("您好！我是昆如意企业服务助手")).to_be_visible()
    expect(panel.get_by_role("group", name="推荐问题").get_by_role("button")).to_have_count(3)
    expect(page.get_by_role("textbox", name="输入您的问题")).to_be_focused()

    page.evaluate(WATCH_STATES)
    answer = ask(page, QUESTION)
    assert "streaming" in page.evaluate("() => window.__states"), "the answer did not stream"
    expect(answer).to_contain_text("200万元")
    expect(panel.locator(".kry-user").last).to_have_text(QUESTION)

    # A numbered citation opens the cited passage with its document's details and a link.
    answer.get_by_role("button", name=re.compile(r"^查看引用1：")).first.click()
    card = page.get_by_role("dialog", name="引用原文")
    expect(card).to_be_visible()
    expect(card).to_contain_text("昆山市关于助推经济高质量发展的若干政策意见")
    expect(card).to_contain_text("文号")
    expect(card).to_contain_text("有效期至")
    expect(card.locator(".kry-badge-sample")).to_have_text("示例")
    link = card.get_by_role("link")
    href = link.get_attribute("href")
    assert href.startswith("http"), href
    if "/documents/" in href:
        assert "#chunk-" in href
    page.keyboard.press("Escape")
    expect(card).to_be_hidden()
    expect(panel).to_be_visible()

    # Thumbs down, then a comment: one row per answer holds both.
    answer.get_by_role("button", name="没帮助").click()
    expect(answer.get_by_role("status")).to_have_text("感谢您的反馈！")
    answer.get_by_role("textbox", name="补充说明（选填）").fill("希望写明申报时间")
    answer.get_by_role("button", name="提交").click()
    expect(answer.get_by_role("status")).to_have_text("感谢您的补充说明！")
    conv = conversation_id(page)
    answer_id = [m for m in web_services.conversations.history(conv) if m.role == "assistant"][-1].id
    with web_services.ingest.registry.session_factory() as session:
        rows = session.scalars(select(FeedbackRow).where(FeedbackRow.message_id == answer_id)).all()
    assert [(r.rating, r.comment) for r in rows] == [("down", "希望写明申报时间")]

    # 转人工: contact details shown at once; a request stored with the conversation.
    panel.get_by_role("button", name="转人工服务").click()
    handoff = page.get_by_role("dialog", name="转人工服务")
    expect(handoff).to_contain_text("12345")
    expect(handoff).to_contain_text("服务时间：12345热线全天24小时")
    handoff.get_by_label("姓名（选填）").fill("张经理")
    handoff.get_by_label("联系电话（选填）").fill("abc")
    handoff.get_by_role("button", name="提交转人工请求").click()
    expect(handoff.get_by_role("status")).to_contain_text("电话号码格式不正确")
    handoff.get_by_label("联系电话（选填）").fill("0512-57501234")
    handoff.get_by_label("企业名称（选填）").fill("昆山某精密机械有限公司")
    handoff.get_by_role("button", name="提交转人工请求").click()
    expect(handoff.get_by_role("status")).to_contain_text("已收到您的转人工请求")
    stored = [h for h in web_services.conversations.handoffs() if h.conversation_id == conv]
    assert [(h.name, h.phone, h.company, h.status) for h in stored] == [
        ("张经理", "0512-57501234", "昆山某精密机械有限公司", "new")]
    page.keyboard.press("Escape")
    expect(handoff).to_be_hidden()

    # Reload: the same conversation comes back, citations still clickable.
    page.reload()
    panel = page.get_by_role("dialog", name="昆如意企业服务助手")
    if not panel.is_visible():
        page.get_by_role("button", name=LAUNCHER).click()
    expect(panel.locator(".kry-user")).to_have_text([QUESTION])
    restored = panel.locator(".kry-assistant[data-state=done]").last
    expect(restored).to_contain_text("200万元")
    expect(restored.locator(".kry-cite").first).to_be_visible()
    assert conversation_id(page) == conv


def test_hostile_document_renders_as_text(page, web_server, dialogs):
    open_widget(page, web_server.url)
    answer = ask(page, XSS_QUESTION)
    expect(answer).to_contain_text("<img src=x onerror=alert(1)>")
    assert page.evaluate(SHADOW_IMAGES) == 0
    assert all(href.startswith(("http://", "https://")) for href in page.evaluate(SHADOW_LINKS))

    source = answer.locator(".kry-source", has_text="网页安全演练专项资金管理办法")
    source.first.click()
    card = page.get_by_role("dialog", name="引用原文")
    expect(card.locator(".kry-snippet")).to_contain_text("onerror=alert(1)")
    assert page.evaluate(SHADOW_IMAGES) == 0
    href = card.get_by_role("link").get_attribute("href")
    assert f"/documents/{XSS_DOC_ID}#chunk-" in href

    page.goto(href)
    expect(page.get_by_text("<img src=x onerror=alert(1)>", exact=False).first).to_be_visible()
    expect(page.get_by_text("[点我](javascript:alert(1))", exact=False).first).to_be_visible()
    assert page.locator("img").count() == 0
    assert page.locator("a[href^='javascript']").count() == 0
    highlighted = page.locator(".chunk:target")
    expect(highlighted).to_have_count(1)
    assert dialogs == []


def test_phone_gets_full_screen_panel_and_keyboard_works(browser, web_server):
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 740}, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        launcher = page.locator(".kry-launcher")  # hidden while the panel is open, so not found by role
        panel = open_widget(page, web_server.url)
        assert panel.bounding_box() == {"x": 0, "y": 0, "width": 390, "height": 740}
        expect(launcher).to_have_attribute("aria-expanded", "true")

        box = page.get_by_role("textbox", name="输入您的问题")
        expect(box).to_be_focused()
        box.type("第一行")
        box.press("Shift+Enter")
        box.type("第二行")
        expect(box).to_have_value("第一行\n第二行")
        expect(page.locator(".kry-user")).to_have_count(0)

        page.keyboard.press("Escape")
        expect(panel).to_be_hidden()
        expect(launcher).to_have_attribute("aria-expanded", "false")
        assert page.evaluate(SHADOW_FOCUS) == LAUNCHER

        launcher.click()
        expect(box).to_have_value("第一行\n第二行")  # the draft is kept
    finally:
        context.close()


def test_server_stopped_mid_stream_then_retry(page, live_server, tmp_path, sample_index, embedder,
                                              sample_corpus_dir, dialogs):
    data_dir = tmp_path / "data"
    shutil.copytree(sample_index, data_dir)
    with FakeOpenAI() as llm:
        llm.reply = ("经认定的省级创新联合体给予200万元支持[1]，苏州市级创新联合体给予100万元支持[1]。"
                     "**申报时间以当年通知为准**，详见[官方网站](https://www.ks.gov.cn/)。"
                     "<b>加粗</b>与[点我](javascript:alert(1))都不会生效。")
        llm.piece_delay = 0.2
        settings = Settings(_env_file=None, data_dir=data_dir, corpus_dir=sample_corpus_dir,
                            answer_backend="openai", llm_base_url=llm.base_url, llm_timeout=10)
        app = create_app(settings, services=Services.build(settings, embedder=embedder))
        server = live_server(app)

        panel = open_widget(page, server.url)
        box = page.get_by_role("textbox", name="输入您的问题")
        box.fill(QUESTION)
        box.press("Enter")
        expect(panel.locator(".kry-assistant[data-state=streaming]")).to_be_visible(timeout=30_000)
        expect(panel.get_by_role("button", name="停止生成")).to_be_visible()
        server.stop()

        error = panel.get_by_role("alert")
        expect(error).to_contain_text("回答未完成")
        expect(error.get_by_role("button", name="重试")).to_be_visible()
        expect(box).to_have_value(QUESTION)
        expect(panel.locator(".kry-assistant[data-state=streaming]")).to_have_count(0)

        llm.piece_delay = 0.0
        live_server(app, port=server.port)
        error.get_by_role("button", name="重试").click()
        answer = panel.locator(".kry-assistant[data-state=done]").last
        expect(answer).to_contain_text("200万元", timeout=30_000)
        expect(error).to_be_hidden()
        expect(box).to_have_value("")
        expect(panel.locator(".kry-user")).to_have_text([QUESTION])

        # The model's Markdown: bold and an https link render; raw HTML and a javascript: link stay text.
        expect(answer.locator("strong")).to_have_text("申报时间以当年通知为准")
        expect(answer.get_by_role("link", name="官方网站")).to_have_attribute("href", "https://www.ks.gov.cn/")
        expect(answer).to_contain_text("<b>加粗</b>与[点我](javascript:alert(1))")
        assert page.evaluate(SHADOW_LINKS) == ["https://www.ks.gov.cn/"]
        assert dialogs == []

        # The stop button ends a slow answer where it is and gives the input back.
        llm.piece_delay = 0.3
        box.fill(QUESTION)
        box.press("Enter")
        expect(panel.locator(".kry-assistant[data-state=streaming]")).to_be_visible(timeout=30_000)
        panel.get_by_role("button", name="停止生成").click()
        stopped = panel.locator(".kry-assistant[data-state=stopped]")
        expect(stopped).to_contain_text("已停止生成")
        expect(panel.get_by_role("button", name="发送")).to_be_visible()
        expect(error).to_be_hidden()


# A page on another origin whose own CSS is hostile to anything it could reach.
HOST_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><style>
  * { font-size: 40px !important; color: red !important; }
  button, div, section, textarea { display: none !important; }
</style></head><body><h1>某某高新区管委会</h1>
<script src="{app}/widget.js" data-title="高新区企业服务" data-color="#0a7d44" data-position="left"
        data-suggestions="研发费用有补贴吗？|人才公寓怎么申请？" defer></script></body></html>"""


def host_site(live_server, app_url: str) -> str:
    """Another website (another origin on this machine) that embeds the widget; returns its URL."""
    page = HOST_PAGE.replace("{app}", app_url)
    site = Starlette(routes=[Route("/", lambda _request: HTMLResponse(page))])
    return live_server(site).url


def open_on(page, site_url: str):
    page.goto(site_url + "/")
    page.get_by_role("button", name="打开高新区企业服务").click()
    panel = page.get_by_role("dialog", name="高新区企业服务")
    expect(panel).to_be_visible()
    return panel


def test_foreign_site_with_hostile_css_needs_its_origin_allowed(page, web_server, web_services, live_server):
    # Same origin only (the default): the widget shows, unharmed by the page's CSS, but the
    # browser refuses its API call.
    panel = open_on(page, host_site(live_server, web_server.url))
    expect(panel.get_by_role("group", name="推荐问题").get_by_role("button")).to_have_text(
        ["研发费用有补贴吗？", "人才公寓怎么申请？"])
    assert page.locator(".kry-panel").evaluate("e => getComputedStyle(e).fontSize") == "15px"
    assert page.locator(".kry-panel").evaluate("e => e.getBoundingClientRect().left") == 20  # data-position
    assert page.locator(".kry-header").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(10, 125, 68)"
    box = page.get_by_role("textbox", name="输入您的问题")
    box.fill(QUESTION)
    box.press("Enter")
    expect(panel.get_by_role("alert")).to_contain_text("网络连接失败")
    expect(box).to_have_value(QUESTION)

    # With the site's origin in KUNRUYI_CORS_ORIGINS, the same page gets its answer.
    port = free_port()
    site = host_site(live_server, f"http://127.0.0.1:{port}")
    settings = web_services.settings.model_copy(update={"cors_origins": site})
    live_server(create_app(settings, services=web_services), port=port)
    panel = open_on(page, site)
    expect(ask(page, QUESTION)).to_contain_text("200万元")

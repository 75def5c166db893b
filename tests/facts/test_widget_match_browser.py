"""The widget's 政策匹配 tab in Debian's Chromium against the real app: fill the form, see the
cards with conditions met and unmet, open an item's article; the profile is kept only when asked."""

from __future__ import annotations

from playwright.sync_api import expect

LAUNCHER = "打开昆如意企业服务助手"
PROFILE_KEY = "() => Object.keys(localStorage).filter(k => k.endsWith(':profile'))"


def test_match_tab_form_cards_and_article(page, facts_server):
    page.goto(facts_server.url + "/")
    page.get_by_role("button", name=LAUNCHER).click()
    panel = page.get_by_role("dialog", name="昆如意企业服务助手")
    expect(panel).to_be_visible()
    panel.get_by_role("button", name="政策匹配").click()
    view = page.get_by_role("dialog", name="政策匹配")
    expect(view).to_be_visible()
    expect(view.get_by_text("本月可申报")).to_be_visible()

    view.get_by_label("所在区镇").select_option("花桥镇")
    view.get_by_label("行业（国民经济行业门类）").select_option("I 信息传输、软件和信息技术服务业")
    view.get_by_label("科技型中小企业").check()
    view.get_by_label("上年营业收入（万元）").fill("300")
    view.get_by_label("上年研发费用（万元）").fill("90")
    view.get_by_label("员工数（人）").fill("25")
    view.get_by_label("成立年份").fill("2025")
    view.get_by_label("招用高校毕业生").check()
    view.get_by_role("button", name="查看可申报政策").click()

    cards = view.locator(".kry-m-card[data-status=eligible]")
    expect(cards.first).to_be_visible(timeout=30_000)
    expect(view.get_by_text("符合条件", exact=False).first).to_be_visible()
    sme = cards.filter(has_text="科技型中小企业培育和初创科技企业扶持办法").first
    expect(sme).to_be_visible()
    expect(sme.locator("li[data-met=true]").first).to_be_visible()
    # an ineligible item names the failing condition
    view.get_by_text("查看暂不符合的", exact=False).click()
    expect(view.locator(".kry-m-card[data-status=ineligible] li[data-met=false]").first).to_be_visible()
    assert page.evaluate(PROFILE_KEY) == []  # not saved unless asked

    with page.context.expect_page() as opened:
        sme.get_by_role("link", name="查看政策原文").click()
    article = opened.value
    article.wait_for_load_state()
    assert "/documents/ks-tech-sme-support#chunk-" in article.url
    expect(article.locator(".chunk:target")).to_be_visible()

    # 保存: kept in this browser, filled in again next time; 清除 removes it
    view.get_by_label("保存（仅保存在本浏览器中）").check()
    view.get_by_role("button", name="查看可申报政策").click()
    expect(view.locator(".kry-m-status")).to_contain_text("符合条件")
    assert len(page.evaluate(PROFILE_KEY)) == 1
    view.get_by_role("button", name="清除已保存信息").click()
    assert page.evaluate(PROFILE_KEY) == []


def test_console_review_tab(page, facts_server, facts_services):
    """政策条目 in the staff console: coverage, the items of a document, 通过 and 驳回."""
    from tests.facts.conftest import EDITOR_TOKEN

    page.goto(f"{facts_server.url}/admin")
    page.fill("#token", EDITOR_TOKEN)
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_selector("#console:not([hidden])")
    page.get_by_role("tab", name="政策条目").click()
    expect(page.locator("#facts-coverage")).to_contain_text("份文档有条目")
    page.fill("#facts-doc", "ks-zhuanjingtexin-award")
    page.locator(".facts-filters button[type=submit]").click()
    rows = page.locator("#facts-table tbody tr[data-item]")
    expect(rows).to_have_count(4)
    first, last = rows.nth(0), rows.nth(3)
    first_id, last_id = first.get_attribute("data-item"), last.get_attribute("data-item")
    first.get_by_role("button", name="通过").click()
    expect(page.locator(f"#facts-table tr[data-item='{first_id}']")).to_have_attribute("data-review", "accepted")
    page.locator(f"#facts-table tr[data-item='{last_id}']").get_by_role("button", name="驳回").click()
    expect(page.locator(f"#facts-table tr[data-item='{last_id}']")).to_have_attribute("data-review", "rejected")
    facts = facts_services.ingest.facts
    assert (facts.get(first_id).review, facts.get(last_id).review) == ("accepted", "rejected")
    assert facts.get(first_id).reviewer == "carol"

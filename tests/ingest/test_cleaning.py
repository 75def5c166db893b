"""Text cleaning shared by documents and queries (real OpenCC conversion, no stubs)."""

from __future__ import annotations

import pytest

from ingest.cleaning import clean_document
from zhtext.normalize import fold_width, normalize, strip_pinyin, tidy_spaces, to_simplified


def test_pinyin_gloss_removed_after_conversion():
    assert clean_document("節(jié)日期間") == "节日期间"
    assert clean_document("供(gōng)需對接") == "供需对接"
    assert strip_pinyin("节（jié）日") == "节日"  # full-width brackets too


def test_pinyin_removal_keeps_real_parentheses():
    # Not a pinyin gloss: capital letters, digits, Chinese inside the brackets.
    text = "一人公司(OPC)等主体；有效期(3年)；材料(复印件)"
    assert clean_document(text) == text


def test_captcha_line_removed_in_traditional_and_simplified():
    text = "第一行正文。\n請輸入驗證碼\n第二行正文。\n请输入验证码\n看不清，换一张\n第三行正文。"
    assert clean_document(text) == "第一行正文。\n第二行正文。\n第三行正文。"


def test_traditional_to_simplified():
    assert to_simplified("企業綜合服務驛站") == "企业综合服务驿站"
    assert clean_document("營業執照列印與醫保查詢") == "营业执照列印与医保查询"
    # t2s keeps 查询 (tw2sp would rewrite it to 查找).
    assert "查询" in clean_document("醫保查詢")


def test_full_width_digits_and_letters_to_ascii():
    assert fold_width("ＡＢＣ１２３％．") == "ABC123%."
    assert clean_document("最高５００万元，占比３０％") == "最高500万元，占比30%"
    # Chinese punctuation is kept.
    assert clean_document("第一条，第二条。") == "第一条，第二条。"


@pytest.mark.parametrize(("raw", "clean"), [
    ("500 万元", "500万元"),
    ("最高 100 万元", "最高100万元"),
    ("昆政发〔2021〕4 号", "昆政发〔2021〕4号"),
    ("2026 年 1 月 29 日", "2026年1月29日"),
    ("市2026 年优化", "市2026年优化"),
    ("再返还 30%的", "再返还30%的"),
    ("12345 政务服务", "12345政务服务"),
])
def test_spaces_between_cjk_and_digits_removed(raw, clean):
    assert clean_document(raw) == clean
    assert tidy_spaces(raw) == clean


def test_ascii_punctuation_inside_chinese_becomes_full_width():
    assert clean_document("企业可享受补贴,具体标准见附件:") == "企业可享受补贴，具体标准见附件："
    # Not inside Chinese prose: untouched.
    assert clean_document("version 1.2, build 3") == "version 1.2, build 3"


@pytest.mark.parametrize("debris", [
    "打印本页", "关闭窗口", "打印", "关闭", "收藏", "返回顶部", "分享到：微信 微博", "【字体：大 中 小】",
    "扫一扫在手机打开当前页", "苏ICP备12345678号", "苏公网安备 32058302001234号", "网站标识码：3205830001",
    "上一篇：关于开展测试工作的通知", "下一篇：关于开展测试工作的通知", "相关链接", "当前位置：首页 > 政务公开",
    "您当前的位置：首页", "請輸入驗證碼",
])
def test_portal_debris_lines_removed(debris):
    text = f"第一条 为规范管理，制定本办法。\n{debris}\n第二条 本办法自印发之日起施行。"
    assert clean_document(text) == "第一条 为规范管理，制定本办法。\n第二条 本办法自印发之日起施行。"


@pytest.mark.parametrize("sentence", [
    "驿站提供营业执照打印、医保查询等160余项自助服务。",
    "打印本页面后签字盖章，提交至窗口。",
    "关闭窗口期间，请通过网上办理。",
    "申请人可在自助终端打印",
    "收藏品经营企业可参照执行。",
    "当前位置不在园区内的项目，不予支持。",
])
def test_policy_sentences_that_merely_contain_a_debris_word_are_kept(sentence):
    text = f"第一条 总则。\n{sentence}\n第二条 附则。"
    assert clean_document(text) == text


def test_clean_document_tidies_line_endings_controls_and_blank_lines():
    text = "\ufeff标题\r\n\r\n\r\n\r\n正文\x07第一句。\r第二句。   \n\n\n"
    assert clean_document(text) == "标题\n\n正文第一句。\n第二句。"


def test_normalize_query():
    # A question typed in traditional characters with full-width digits matches the simplified
    # ASCII form a document is stored in.
    assert normalize("研發補貼５００萬元") == "研发补贴500万元"
    assert normalize("  節(jié)能減排 ") == "节能减排"
    assert normalize("最高 100 万元？") == "最高100万元？"
    assert normalize("昆山 ５００ 萬元 補貼") == normalize("昆山500萬元 补贴")

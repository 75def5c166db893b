"""Every fixture file through the real loaders (python-docx, pypdf, trafilatura, PyYAML) and cleaning.

What each file must yield is written down in tests/fixtures/README.md.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from app.components.doc_files import SUPPORTED_SUFFIXES
from app.errors import UnsupportedDocument
from ingest.cleaning import clean_document
from ingest.loaders import LOADERS, load_bytes


def load(fixtures_dir, name: str):
    path = fixtures_dir / name
    loaded = load_bytes(path.read_bytes(), path.suffix)
    return loaded, clean_document(loaded.text)


def squash(text: str) -> str:
    """The fixture README's "normalized": all whitespace removed."""
    return re.sub(r"\s+", "", text)


# --- DOCX ------------------------------------------------------------------------------------

def test_docx_text_in_body_order_with_headings_and_table_rows(fixtures_dir):
    loaded, text = load(fixtures_dir, "policy.docx")
    assert loaded.format == "docx"
    lines = text.split("\n")

    assert lines[0] == "昆山市智能化改造和数字化转型扶持要点（测试样例）"
    assert "依据文件：昆政发〔2021〕4号" in lines
    assert "企业按指导目录年度投入500万元以上的，技改综合奖补按2倍系数计算。" in text

    # Heading 1 / Heading 2 paragraphs are lines of their own, marked as Markdown headings.
    heading_lines = {line.lstrip("#").strip(): line for line in lines if line.startswith("#")}
    for heading in ("一、总体要求", "二、奖补标准", "三、附则", "（一）适用范围", "（二）支持方向"):
        assert heading in heading_lines, f"{heading} is not a heading line in {lines}"
    assert heading_lines["一、总体要求"].startswith("## ")
    assert heading_lines["（一）适用范围"].startswith("###")

    # The 2x3 table becomes one "表头：值" sentence per body row...
    row = "年度投入首次超过：另行奖励；1亿元：最高100万元；5亿元：最高500万元。"
    assert row in lines
    # ...in body order: after the paragraph that announces it, before 三、附则.
    def index_of(fragment: str) -> int:
        return next(i for i, line in enumerate(lines) if fragment in line)

    assert index_of("标准如下表。") < lines.index(row) < index_of("三、附则")
    assert index_of("一、总体要求") < index_of("（一）适用范围") < index_of("（二）支持方向") < index_of("二、奖补标准")


def test_docx_title_property_is_not_invented(fixtures_dir):
    loaded, _ = load(fixtures_dir, "policy.docx")
    # core_properties.title is empty in this file: the loader must not make one up.
    assert "title" not in loaded.metadata


# --- PDF -------------------------------------------------------------------------------------

def test_pdf_facts_survive_extraction_and_cleaning(fixtures_dir):
    loaded, text = load(fixtures_dir, "policy.pdf")
    assert loaded.format == "pdf"
    # pypdf gives "500 万元" and "4 号": cleaning removes the space between digits and CJK.
    assert "年度投入达到500万元以上的" in text
    assert "500 万元" not in text
    assert "昆政发〔2021〕4号" in text.split("\n")
    assert "最高100万元、300万元、500万元的奖励" in text
    assert "2021年2月25日" in text
    # Split across the page break: present once whitespace is ignored (fixture README).
    assert "跨越更高台阶时按差额补足" in squash(text)


def test_pdf_lines_broken_by_the_layout_are_rejoined(fixtures_dir):
    _, text = load(fixtures_dir, "policy.pdf")
    lines = text.split("\n")
    # pypdf returns this paragraph as 8 lines broken mid-word (推动企 / 业在设备…); it must be one line.
    first_paragraph = next(line for line in lines if line.startswith("为加快推进全市制造业"))
    assert "推动企业在设备、产线、车间和工厂各个层面持续提升智能化水平" in first_paragraph
    assert first_paragraph.endswith("本摘编仅对其中与企业关系最为密切的条款进行归纳整理。")
    assert "以此鼓励企业集中投入、成线成片改造" in text
    assert "年度投入首次超过1亿元、3亿元、5亿元的企业" in text
    # The paragraphs of page 1 that end on page 1 are whole lines ending a sentence.
    body = [line for line in lines if len(line) > 30]
    assert len(body) >= 3
    for line in body[:2]:
        assert line.endswith("。"), line


def test_pdf_sentence_across_page_break_is_whole(fixtures_dir):
    _, text = load(fixtures_dir, "policy.pdf")
    assert "跨越更高台阶时按差额补足，避免重复奖励。" in text


# --- HTML ------------------------------------------------------------------------------------

MUST_NOT = [
    "苏ICP备12345678号", "网站标识码", "苏公网安备", "版权所有", "主办单位", "政务公开", "互动交流", "数据开放",
    "走进昆山", "当前位置", "分享到", "微信", "微博", "打印本页", "关闭窗口", "浏览次数", "相关链接", "惠企政策汇编",
    "请输入关键字", "欢迎访问昆山市人民政府门户网站", "无障碍浏览", "setFontSize", "siteId", "您使用的浏览器版本过低",
    "感谢您访问昆山市人民政府网站", "font-family",
]


@pytest.mark.parametrize(("name", "title", "published", "must_contain"), [
    ("gov_page.html", "昆山推行政务服务“三延”模式 企业办事更便捷（测试样例）", "2025-08-20",
     "巴城企业综合服务驿站由首席服务专员一对一指导"),
    ("gov_page_gbk.html", "企业名称自主申报常见问题解答（测试样例）", "2025-11-03",
     "企业名称中不得使用拼音字母和阿拉伯数字"),
])
def test_html_article_only(fixtures_dir, name, title, published, must_contain):
    if name.endswith("gbk.html"):
        with pytest.raises(UnicodeDecodeError):
            (fixtures_dir / name).read_bytes().decode("utf-8")  # the bytes really are GBK
    loaded, text = load(fixtures_dir, name)
    assert loaded.format == "html"
    assert must_contain in text
    assert loaded.metadata["title"] == title
    assert str(loaded.metadata["published"]) == published
    present = [s for s in MUST_NOT if s in text]
    assert not present, f"portal debris or script text in the article: {present}"
    assert "\ufffd" not in text  # no mojibake


def test_html_gbk_qa_pairs_survive(fixtures_dir):
    _, text = load(fixtures_dir, "gov_page_gbk.html")
    lines = [line for line in text.split("\n") if line]
    assert lines[0].startswith("问：企业名称由哪几部分组成")
    assert sum(line.startswith("问：") for line in lines) == sum(line.startswith("答：") for line in lines) == 4


# --- Markdown / text -------------------------------------------------------------------------

def test_markdown_front_matter_is_metadata_not_body(fixtures_dir):
    loaded, text = load(fixtures_dir, "qa.md")
    assert loaded.format == "md"
    assert loaded.metadata == {
        "doc_id": "fixture-qa", "title": "企业服务驿站常见问答（测试样例）", "issuer": "昆山市行政审批局",
        "published": dt.date(2026, 5, 20), "category": "service", "sample": True,
    }
    assert "答：可办理营业执照打印、医保查询等160余项自助事项。" in text
    assert "doc_id" not in text
    assert "---" not in text
    assert sum(line.startswith("问：") for line in text.split("\n")) == 3


def test_traditional_text_becomes_simplified_without_pinyin_or_captcha(fixtures_dir):
    loaded, text = load(fixtures_dir, "traditional.txt")
    assert loaded.format == "txt"
    assert text.split("\n")[0] == "昆山市企业综合服务驿站服务指南"
    for sentence in ("春节期间驿站暂停人工服务，自助终端照常开放。", "企业可预约供需对接、政策咨询等服务。",
                     "驿站为企业提供营业执照打印、医保查询等一百六十余项自助服务"):
        assert sentence in text
    for gone in ("(jié)", "(gōng)", "请输入验证码", "請輸入驗證碼"):
        assert gone not in text
    # t2s, not tw2sp: 查询 stays 查询.
    assert "查询" in text and "查找" not in text


# --- failures --------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "reason"), [
    ("encrypted.pdf", "加密"),
    ("broken.pdf", "损坏"),
    ("scanned.pdf", "扫描件"),
    ("empty.txt", "为空"),
    ("unsupported.xyz", "不支持"),
])
def test_unusable_files_raise_unsupported_document_with_a_chinese_reason(fixtures_dir, name, reason):
    path = fixtures_dir / name
    with pytest.raises(UnsupportedDocument) as info:
        load_bytes(path.read_bytes(), path.suffix)
    assert reason in info.value.message
    assert re.search(r"[\u4e00-\u9fff]", info.value.message)
    assert info.value.status_code == 422


def test_unsupported_message_lists_the_supported_formats(fixtures_dir):
    with pytest.raises(UnsupportedDocument) as info:
        load_bytes((fixtures_dir / "unsupported.xyz").read_bytes(), ".xyz")
    assert ".xyz" in info.value.message
    for suffix in SUPPORTED_SUFFIXES:
        assert suffix in info.value.message


def test_every_supported_format_has_a_loader():
    # The console checks uploads against SUPPORTED_SUFFIXES; the pipeline reads them with LOADERS.
    assert tuple(LOADERS) == SUPPORTED_SUFFIXES


def test_whitespace_only_file_is_empty():
    with pytest.raises(UnsupportedDocument, match="为空"):
        load_bytes(b" \n\t\r\n", ".md")


def test_bad_front_matter_is_reported():
    with pytest.raises(UnsupportedDocument, match="front matter"):
        load_bytes("---\ntitle: [unclosed\n---\n正文内容正文内容正文内容\n".encode(), ".md")


def test_markdown_table_rows_become_sentences():
    data = "| 项目 | 标准 |\n| --- | --- |\n| 安家补贴 | 最高300万元 |\n| 滚动支持 | 最高200万元 |\n".encode()
    text = clean_document(load_bytes(data, ".md").text)
    assert text.split("\n") == ["项目：安家补贴；标准：最高300万元。", "项目：滚动支持；标准：最高200万元。"]


def test_html_bold_section_titles_become_sections_and_escapes_go():
    """trafilatura writes a page's <strong>二、办理流程</strong> as **二、办理流程** and "1." as "1\\.":
    the text keeps neither, so the splitter sees the section and an answer quotes "1.受理登记"."""
    from pathlib import Path

    from ingest.chunking import chunk_document

    page = Path(__file__).resolve().parents[2] / "corpus" / "files" / "ks-12345-enterprise-appeals.html"
    text = clean_document(load_bytes(page.read_bytes(), ".html").text)
    assert "**" not in text and "\\" not in text
    assert "二、办理流程" in text.split("\n")
    assert "1.受理登记。" in text
    assert "诉求类型：复杂诉求；派单时限：2小时；办结时限：15个工作日。" in text  # the table, one sentence a row
    chunks = chunk_document(text, title="12345热线企业诉求办理流程")
    steps = [c for c in chunks if "分类派单" in c.text]
    assert steps and steps[0].heading_path[0] == "二、办理流程"

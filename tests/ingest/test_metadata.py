"""Document metadata: declared values (front matter, sidecar, staff input) win; the rest is inferred."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from app.components.doc_files import parse_sidecar, sidecar_path
from app.errors import UnsupportedDocument
from ingest.cleaning import clean_document
from ingest.loaders import load_bytes
from ingest.metadata import (
    CATEGORIES,
    build_metadata,
    infer_category,
    infer_issuer,
    infer_title,
)
from zhtext.docnumbers import find_doc_number
from zhtext.validity import infer_dates

D = dt.date

GOV_DOC = """昆山市人民政府
昆政发〔2025〕12号
关于支持企业研发投入的若干措施
各区镇人民政府，市各委办局：
根据苏府〔2020〕120号文件精神，结合本市实际，现提出如下措施。
一、对企业研发投入给予补贴，单个企业最高100万元。
二、本措施自2025年1月1日起施行，有效期三年。
昆山市人民政府
2024年12月20日
"""

NOTICE_QUOTING_ANOTHER_NUMBER = """关于开展2026年度智能工厂评定工作的通知
各区镇经济发展部门：
根据苏府〔2020〕120号文件精神，现就有关事项通知如下。
一、评定对象为本市规模以上工业企业。
本通知自印发之日起施行，有效期三年。
昆山市工业和信息化局
2026年3月15日
"""


def meta_for(text: str, name: str = "some-policy.txt", declared: dict | None = None):
    return build_metadata(declared or {}, clean_document(text), Path(name))


# --- declared metadata wins ------------------------------------------------------------------

def test_declared_values_win_over_what_the_text_says():
    declared = {"doc_id": "ks-rd-2025", "title": "声明的标题", "doc_number": "昆政办发〔2024〕1号",
                "issuer": "昆山市科学技术局", "published": "2024-01-07", "effective_from": dt.date(2024, 2, 1),
                "expires": "2026-12-31", "category": "land", "url": "https://www.ks.gov.cn/kss/a/1.html",
                "source": "原始文件.pdf", "sample": "是", "tags": ["研发"]}
    meta = meta_for(GOV_DOC, declared=declared)
    assert meta.doc_id == "ks-rd-2025"
    assert meta.title == "声明的标题"
    assert meta.doc_number == "昆政办发〔2024〕1号"
    assert meta.issuer == "昆山市科学技术局"
    assert (meta.published, meta.effective_from, meta.expires) == (D(2024, 1, 7), D(2024, 2, 1), D(2026, 12, 31))
    assert meta.category == "land"
    assert meta.url == "https://www.ks.gov.cn/kss/a/1.html"
    assert meta.source == "原始文件.pdf"
    assert meta.sample is True


def test_missing_declared_values_are_inferred_from_the_text():
    meta = meta_for(GOV_DOC, name="ks-rd-measures.txt", declared={"title": "声明的标题"})
    assert meta.title == "声明的标题"
    assert meta.doc_id == "ks-rd-measures"
    assert meta.doc_number == "昆政发〔2025〕12号"
    assert meta.issuer == "昆山市人民政府"
    assert meta.published == D(2024, 12, 20)
    assert meta.effective_from == D(2025, 1, 1)
    assert meta.expires == D(2027, 12, 31)
    assert meta.category == "subsidy"
    assert meta.source == "ks-rd-measures.txt"
    assert meta.sample is False
    assert meta.to_dict()["expires"] == "2027-12-31"


def test_precedence_staff_overrides_then_sidecar_then_front_matter(make_service, tmp_path):
    service = make_service()
    md = ("---\ndoc_id: fm-doc\ntitle: 头部标题\ncategory: service\nissuer: 头部机关\n---\n"
          "# 正文标题\n\n第一条 企业可以通过12345热线反映诉求，热线全天24小时服务。\n").encode()
    sidecar = "title: 附属文件标题\ncategory: procedure\n".encode()

    front_only = service.prepare(md, name="x.md", suffix=".md")
    assert (front_only.meta.doc_id, front_only.meta.title, front_only.meta.category) == ("fm-doc", "头部标题", "service")

    with_sidecar = service.prepare(md, name="x.md", suffix=".md", sidecar=sidecar)
    assert (with_sidecar.meta.title, with_sidecar.meta.category, with_sidecar.meta.issuer) == \
        ("附属文件标题", "procedure", "头部机关")

    staff = service.prepare(md, name="x.md", suffix=".md", sidecar=sidecar,
                            overrides={"title": "窗口人员填写的标题", "expires": "2030-01-01"})
    assert staff.meta.title == "窗口人员填写的标题"
    assert staff.meta.category == "procedure"
    assert staff.meta.expires == D(2030, 1, 1)
    assert staff.meta.doc_id == "fm-doc"
    # The chunks' context uses the winning title; content hashes differ with each source of metadata.
    assert len({front_only.content_hash, with_sidecar.content_hash, staff.content_hash}) == 3


def test_corpus_pdf_with_sidecar_takes_its_metadata_from_the_sidecar(make_service, sample_corpus_dir):
    service = make_service()
    doc = service.prepare_file(sample_corpus_dir / "files" / "ks-standard-land-supply.pdf")
    meta = doc.meta
    assert meta.doc_id == "ks-standard-land-supply"
    assert meta.title == "昆山市工业项目“标准地”出让实施细则（示例）"
    assert meta.issuer == "昆山市自然资源和规划局（示例）"
    assert (meta.published, meta.effective_from, meta.expires) == (D(2026, 4, 15), D(2026, 5, 15), D(2029, 5, 14))
    assert meta.category == "land"
    assert meta.sample is True
    assert doc.format == "pdf"
    # The validity stated in the text (第十五条, a date broken over two lines) agrees with the sidecar.
    stated = infer_dates(doc.text)
    assert (stated["effective_from"], stated["expires"]) == (meta.effective_from, meta.expires)


# --- inference -------------------------------------------------------------------------------

def test_title_is_the_first_plausible_heading_line():
    assert infer_title("昆政发〔2021〕4号\n2026年1月29日\n# 关于做好申报工作的通知\n正文。") == "关于做好申报工作的通知"
    assert infer_title("各区镇：\n为落实部署，现通知如下。") is None
    meta = meta_for("第一段正文没有标题而且以句号结束。\n第二段正文也以句号结束。", name="ks-no-title.txt")
    assert meta.title == "ks-no-title"  # falls back to the file stem


def test_doc_number_on_its_own_line_near_the_top():
    assert find_doc_number(GOV_DOC) == "昆政发〔2025〕12号"
    assert find_doc_number("标题\n文号：苏府[2020]120号\n正文") == "苏府〔2020〕120号"
    assert find_doc_number("标题\n昆政办发（2026）6号\n正文") == "昆政办发〔2026〕6号"
    assert find_doc_number("标题\n发文字号：昆政发〔2021〕4号\n正文") == "昆政发〔2021〕4号"


def test_doc_number_quoted_in_the_body_is_not_the_documents_own():
    assert find_doc_number(NOTICE_QUOTING_ANOTHER_NUMBER) is None
    assert meta_for(NOTICE_QUOTING_ANOTHER_NUMBER).doc_number is None
    # Also not when it stands far down the text.
    late = "标题\n" + "正文。\n" * 20 + "昆政发〔2021〕4号\n"
    assert find_doc_number(late) is None


def test_issuer_from_signature_or_label():
    assert infer_issuer(NOTICE_QUOTING_ANOTHER_NUMBER) == "昆山市工业和信息化局"
    assert infer_issuer("标题\n发布机构：昆山市行政审批局 发布时间：2025-11-03\n正文。") == "昆山市行政审批局"
    assert infer_issuer("标题\n正文没有落款。") is None


def test_published_is_a_date_standing_alone_on_a_line():
    assert infer_dates("正文于2021年2月25日印发。\n昆山市人民政府\n2024年12月20日")["published"] == D(2024, 12, 20)
    # A date inside a sentence is not the signing date.
    assert "published" not in infer_dates("本办法于2021年2月25日经常务会议审议通过。")
    assert infer_dates("标题\n成文日期：2026年1月29日\n正文")["published"] == D(2026, 1, 29)
    assert infer_dates("标题\n发布时间：2025-08-20\n正文")["published"] == D(2025, 8, 20)


def test_expires_from_valid_until_date():
    assert infer_dates("本办法自印发之日起施行，有效期至2027年12月31日。")["expires"] == D(2027, 12, 31)
    assert infer_dates("有效期至 2026 年 6 月 30 日")["expires"] == D(2026, 6, 30)


def test_expires_from_start_date_plus_years():
    dates = infer_dates("本措施自2025年1月1日起施行，有效期三年。")
    assert dates["effective_from"] == D(2025, 1, 1)
    assert dates["expires"] == D(2027, 12, 31)
    assert infer_dates("自2024年6月20日起实施，有效期5年")["expires"] == D(2029, 6, 19)
    assert infer_dates("自2026年5月15日起施行，有效期五年。")["expires"] == D(2031, 5, 14)


def test_expires_on_issue_plus_years_is_relative_to_published():
    meta = meta_for(NOTICE_QUOTING_ANOTHER_NUMBER)
    assert meta.published == D(2026, 3, 15)
    assert meta.effective_from == D(2026, 3, 15)
    assert meta.expires == D(2029, 3, 14)
    # Without a publication date there is nothing to count from.
    assert "expires" not in infer_dates("本通知自印发之日起施行，有效期三年。")


def test_validity_period_starting_on_29_february():
    assert infer_dates("自2024年2月29日起施行，有效期两年")["expires"] == D(2026, 2, 28)


@pytest.mark.parametrize(("title", "text", "category"), [
    ("昆山市工业用地履约保证金管理办法", "受让人缴纳履约保证金。", "land"),
    ("姑苏领军人才计划申报指南", "人才安家补贴。", "talent"),
    ("关于支持企业研发投入的若干措施", "给予补贴，最高100万元。", "subsidy"),
    ("企业开办办事指南", "办理营业执照登记，申请材料如下。", "procedure"),
    ("昆如意企业服务驿站", "拨打12345热线。", "service"),
    ("工作会议召开", "会议强调要统一思想。", "other"),
])
def test_category_inferred_from_title_and_text(title, text, category):
    assert infer_category(title, text) == category
    assert category in CATEGORIES


# --- invalid declared values -----------------------------------------------------------------

@pytest.mark.parametrize(("declared", "message"), [
    ({"category": "tax"}, "分类 tax 无效"),
    ({"doc_id": "中文编号"}, "doc_id「中文编号」无效"),
    ({"doc_id": "has space"}, "无效"),
    ({"doc_id": "-leading-dash"}, "无效"),
    ({"url": "www.ks.gov.cn/policy"}, "http:// 或 https://"),
    ({"url": "ftp://ks.gov.cn/x"}, "http:// 或 https://"),
    ({"published": "下个月"}, "无法识别的日期"),
    ({"expires": "2026-02-30"}, "无效的日期"),
    ({"author": "someone"}, "未知的元数据字段：author"),
])
def test_invalid_declared_metadata_is_rejected(declared, message):
    with pytest.raises(UnsupportedDocument) as info:
        meta_for(GOV_DOC, declared=declared)
    assert message in info.value.message


# --- the two corpus files without a sidecar (tests/fixtures/README.md) ------------------------

def corpus_meta(sample_corpus_dir, name: str):
    path = sample_corpus_dir / "files" / name
    assert sidecar_path(path) is None, "this test is about a file without sidecar"
    loaded = load_bytes(path.read_bytes(), path.suffix)
    return build_metadata(loaded.metadata, clean_document(loaded.text), path)


def test_sidecarless_docx_metadata_is_inferred(sample_corpus_dir):
    meta = corpus_meta(sample_corpus_dir, "ks-zjtx-application-materials.docx")
    assert meta.doc_id == "ks-zjtx-application-materials"
    assert meta.doc_number == "昆工信发〔2026〕3号"
    assert meta.issuer == "昆山市工业和信息化局"
    assert meta.published == D(2026, 1, 29)
    assert meta.expires == D(2027, 12, 31)
    assert meta.source == "ks-zjtx-application-materials.docx"
    assert meta.url is None


def test_sidecarless_pdf_metadata_is_inferred(sample_corpus_dir):
    meta = corpus_meta(sample_corpus_dir, "ks-2026-business-env-action-plan.pdf")
    assert meta.doc_id == "ks-2026-business-env-action-plan"
    # The title wraps over two lines in the PDF.
    assert meta.title == "《昆山市2026年优化营商环境行动方案》政策解读（示例整理）"
    assert meta.issuer == "昆山市人民政府办公室"
    assert meta.published == D(2026, 1, 29)
    assert meta.expires == D(2027, 12, 31)
    assert meta.url is None  # the official link is not in the text


def test_sidecarless_docx_title_is_the_title_paragraph_not_the_letterhead(sample_corpus_dir):
    meta = corpus_meta(sample_corpus_dir, "ks-zjtx-application-materials.docx")
    assert meta.title == "关于做好2026年度昆山市专精特新中小企业申报工作的通知（示例）"


def test_sidecarless_pdf_doc_number(sample_corpus_dir):
    meta = corpus_meta(sample_corpus_dir, "ks-2026-business-env-action-plan.pdf")
    assert meta.doc_number == "昆政办发〔2026〕6号"


@pytest.mark.parametrize("name", ["ks-zjtx-application-materials.docx", "ks-2026-business-env-action-plan.pdf"])
def test_sidecarless_effective_from_is_the_issue_date(sample_corpus_dir, name):
    assert corpus_meta(sample_corpus_dir, name).effective_from == D(2026, 1, 29)


def test_sidecar_yaml_must_be_a_mapping():
    assert parse_sidecar(b"") == {}
    assert parse_sidecar("title: 标题\n".encode()) == {"title": "标题"}
    with pytest.raises(UnsupportedDocument, match="键值对"):
        parse_sidecar(b"- a\n- b\n")
    with pytest.raises(UnsupportedDocument, match="格式错误"):
        parse_sidecar(b"title: [unclosed\n")

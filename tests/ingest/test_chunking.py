"""Structure-aware chunking on real document shapes (corpus files) and on hand-written texts."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from ingest.chunking import chunk_document, embedding_text
from ingest.cleaning import clean_document
from ingest.loaders import load_bytes
from ingest.metadata import build_metadata
from zhtext.docnumbers import DOC_NUMBER


def chunk_file(path: Path, **kwargs):
    loaded = load_bytes(path.read_bytes(), path.suffix)
    text = clean_document(loaded.text)
    meta = build_metadata(loaded.metadata, text, path)
    return meta, chunk_document(text, title=meta.title, **kwargs)


def test_articles_each_get_their_own_chunk(sample_corpus_dir):
    meta, chunks = chunk_file(sample_corpus_dir / "land" / "ks-land-performance-bond.md")
    articles = ["第一条", "第二条", "第三条", "第四条", "第五条", "第六条", "第七条", "第八条", "第九条", "第十条", "第十一条"]
    assert [c.heading_path[-1] for c in chunks] == articles
    assert [c.article for c in chunks] == articles
    for chunk, article in zip(chunks, articles):
        assert chunk.text.split("\n")[-1 if article == "第一条" else 0].startswith(article) or article in chunk.text
        # No chunk holds two articles.
        assert len(re.findall(r"(?m)^第[一二三四五六七八九十]+条", chunk.text)) == 1, chunk.text
        # The document's own H1 is context (first element of the path), not a section of its own.
        assert chunk.heading_path[0] == "昆山市工业用地履约保证金管理办法"
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert "第三条 履约保证金按土地出让总价款的20%缴纳，最低不少于50万元。" in chunks[2].text


def test_short_enumeration_items_stay_with_the_article_that_introduces_them(sample_corpus_dir):
    _, chunks = chunk_file(sample_corpus_dir / "land" / "ks-land-performance-bond.md")
    by_article = {c.article: c for c in chunks}
    art5 = by_article["第五条"].text.split("\n")
    assert art5[0] == "第五条 履约保证金按以下节点分阶段返还："
    assert [line[:3] for line in art5[1:]] == ["（一）", "（二）", "（三）"]
    assert "返还剩余40%" in art5[3]
    art7 = by_article["第七条"].text
    assert art7.startswith("第七条 申请返还履约保证金需提交：")
    for item in ("（一）返还申请书；", "（二）出让合同、项目监管协议复印件；", "（四）保证金缴纳凭证及收款账户信息。"):
        assert item in art7
    # The trailing paragraph of 第六条 belongs to 第六条 too.
    assert "因不可抗力或政府原因造成延误的，经核实可相应顺延。" in by_article["第六条"].text
    # No chunk is made of a bare enumeration item.
    assert not any(re.match(r"^（[一二三四五六七八九十]+）", c.text) for c in chunks)


def test_pdf_chapters_and_articles(sample_corpus_dir):
    # LibreOffice PDF with 第X章 / 第X条: one chunk per article, the chapter above it in the path.
    meta, chunks = chunk_file(sample_corpus_dir / "files" / "ks-standard-land-supply.pdf")
    assert meta.doc_id == "ks-standard-land-supply"
    by_article = {c.article: c for c in chunks if c.article}
    assert list(by_article) == [f"第{n}条" for n in ("一", "二", "三", "四", "五", "六", "七", "八", "九", "十",
                                                     "十一", "十二", "十三", "十四", "十五")]
    assert by_article["第二条"].heading_path[-2:] == ["第一章总则", "第二条"]
    assert by_article["第十二条"].heading_path[-2:] == ["第四章拿地即开工与达产复核", "第十二条"]
    # 第五条 runs over the page break (footer "— 1 —"): one sentence again, no footer left.
    art5 = by_article["第五条"].text
    assert "《昆山市工业用地出让管理办法》规定的全市基准值" in art5
    assert "—" not in art5
    # The facts bench/data/eval_part_c.jsonl asks for (c12–c14), each within one article.
    for article, facts in (("第二条", ("固定资产投资强度", "单位工业增加值能耗", "污染物排放标准")),
                           ("第九条", ("不再单独开展",)), ("第十二条", ("所在区镇", "30个工作日内"))):
        for fact in facts:
            assert fact in by_article[article].text, (article, fact)
    # Amounts set in Liberation Serif come out without the extractor's space before 万元.
    assert "固定资产投资额不足5000万元的项目" in by_article["第三条"].text


def test_section_and_subsection_nesting_in_heading_path(sample_corpus_dir):
    meta, chunks = chunk_file(sample_corpus_dir / "subsidy" / "ks-hq-development-opinions-2025.md")
    by_label = {c.heading_path[-1]: c for c in chunks}
    first = by_label["（一）支持创新联合体建设"]
    # The document's H1 differs from its front-matter title, so it stays at the top of the path.
    assert first.heading_path == ["关于助推经济高质量发展的若干政策意见", "一、增强科技创新核心驱动力", "（一）支持创新联合体建设"]
    assert "对经认定的省级创新联合体，给予200万元支持" in first.text
    # The bare section heading is carried into its first subsection's chunk.
    assert first.text.startswith("一、增强科技创新核心驱动力\n（一）支持创新联合体建设\n")
    assert by_label["（四）支持重大产业项目建设"].heading_path[1:] == ["二、推动产业集群提质扩能", "（四）支持重大产业项目建设"]
    assert by_label["（九）申报材料"].heading_path[1:] == ["四、申报与兑现", "（九）申报材料"]
    # Every subsection (一)…(十) has a chunk of its own; the list items of (九) stay with it.
    subsections = [label for label in by_label if label.startswith("（")]
    assert subsections == ["（一）支持创新联合体建设", "（二）支持企业研发机构提档升级", "（三）促进科技成果就地转化",
                           "（四）支持重大产业项目建设", "（五）鼓励企业做大做强", "（六）强化要素保障",
                           "（七）推进政策直达快享", "（八）申报条件", "（九）申报材料", "（十）申报时间和受理部门"]
    assert "5.主管部门要求的其他佐证材料。" in by_label["（九）申报材料"].text
    # Markdown markers do not leak into the chunk text.
    assert not any("#" in c.text for c in chunks)


def test_docx_heading_styles_become_heading_path(fixtures_dir):
    _, chunks = chunk_file(fixtures_dir / "policy.docx")
    paths = [c.heading_path for c in chunks]
    assert ["一、总体要求", "（一）适用范围"] in paths
    assert ["一、总体要求", "（二）支持方向"] in paths
    table_chunk = next(c for c in chunks if "1亿元：最高100万元" in c.text)
    assert table_chunk.heading_path == ["二、奖补标准"]
    assert "技改综合奖补按2倍系数计算" in table_chunk.text


def test_chinese_numbered_sections_without_markdown():
    text = clean_document(
        "关于支持企业发展的若干措施\n"
        "一、支持科技创新\n"
        "（一）研发投入奖励。对年度研发投入增长20%以上的企业，按增量的10%给予奖励，最高100万元。\n"
        "（二）创新平台建设。对新认定的省级工程技术研究中心给予一次性奖励30万元。\n"
        "二、支持人才引进\n"
        "（一）安家补贴。对新引进的博士给予安家补贴20万元，分三年发放。\n"
    )
    chunks = [c for c in chunk_document(text, title="关于支持企业发展的若干措施") if c.heading_path]
    assert [c.heading_path for c in chunks] == [
        ["一、支持科技创新", "（一）研发投入奖励"],
        ["一、支持科技创新", "（二）创新平台建设"],
        ["二、支持人才引进", "（一）安家补贴"],
    ]
    # The document's own title line is not repeated as a section.
    assert all(c.heading_path[0] != "关于支持企业发展的若干措施" for c in chunks)


def test_question_and_answer_stay_together(sample_corpus_dir, fixtures_dir):
    for path in (sample_corpus_dir / "service" / "ks-service-faq.md", fixtures_dir / "qa.md"):
        _, chunks = chunk_file(path)
        qa_chunks = [c for c in chunks if "问：" in c.text]
        assert len(qa_chunks) >= 3
        for chunk in qa_chunks:
            lines = [line for line in chunk.text.split("\n") if line.startswith(("问：", "答："))]
            assert [line[:2] for line in lines] == ["问：", "答："], chunk.text
            assert chunk.heading_path[-1] == lines[0][:40]
    _, chunks = chunk_file(fixtures_dir / "qa.md")
    assert chunks[0].text == ("问：巴城企业综合服务驿站可以办理哪些自助事项？\n"
                              "答：可办理营业执照打印、医保查询等160余项自助事项。")


def test_over_long_section_is_split_at_sentence_ends():
    sentences = [f"第{i}项：企业按规定申请第{i}类补贴资金，经主管部门审核后按季度拨付。" for i in range(1, 41)]
    text = "第八条 资金拨付按以下规定执行。" + "".join(sentences)
    chunks = chunk_document(text, max_chars=200, min_chars=40)
    assert len(chunks) > 5
    for chunk in chunks:
        assert len(chunk.text) <= 200
        assert chunk.text.endswith("。"), chunk.text
        assert chunk.heading_path == ["第八条"]
    # Nothing is lost or duplicated.
    assert "".join(c.text for c in chunks) == text


def long_unpunctuated_text(seed: int, kinds: tuple[str, ...]) -> tuple[str, list[str]]:
    rng = random.Random(seed)
    tokens = []
    for _ in range(160):
        kind = rng.choice(kinds)
        if kind == "amount":
            tokens.append(f"{rng.randint(1, 99999)}.{rng.randint(10, 99)}万元")
        elif kind == "docno":
            tokens.append(f"昆政发〔{rng.randint(2000, 2030)}〕{rng.randint(1, 999)}号")
        else:
            tokens.append("企业申报资金")
    return "第三条 " + "".join(tokens), [t for t in tokens if t != "企业申报资金"]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("max_chars", [100, 160, 400])
@pytest.mark.parametrize("kinds", [("amount", "words"), ("docno", "words"), ("amount",), ("docno",)],
                         ids=["amounts", "doc-numbers", "amounts-only", "doc-numbers-only"])
def test_never_split_inside_a_number_or_doc_number(seed, max_chars, kinds):
    text, protected = long_unpunctuated_text(seed, kinds)
    chunks = chunk_document(text, max_chars=max_chars, min_chars=30)
    assert len(chunks) > 1
    broken = [t for t in protected if not any(t in c.text for c in chunks)]
    assert not broken, f"split inside: {broken[:5]}"
    assert "".join(c.text for c in chunks) == text
    for chunk in chunks:
        # A chunk neither starts nor ends in the middle of a 文号.
        assert not re.match(r"^[〔\d]*〕\d*号", chunk.text)


@pytest.mark.parametrize("seed", range(3))
def test_never_split_an_amount_directly_followed_by_a_doc_number(seed):
    text, protected = long_unpunctuated_text(seed, ("amount", "docno"))
    chunks = chunk_document(text, max_chars=100, min_chars=30)
    broken = [t for t in protected if not any(t in c.text for c in chunks)]
    assert not broken, f"split inside: {broken[:5]}"


def test_no_chunk_over_max_chars_on_real_documents(sample_corpus_dir):
    for rel in ("land/ks-land-performance-bond.md", "subsidy/ks-hq-development-opinions-2025.md",
                "files/ks-2026-business-env-action-plan.pdf", "files/sz-gusu-leading-talent-guide.pdf",
                "files/ks-standard-land-supply.pdf",
                "files/ks-service-stations.docx", "news/ks-new-industrialization-meeting.txt"):
        for max_chars in (120, 400):
            _, chunks = chunk_file(sample_corpus_dir / rel, max_chars=max_chars, min_chars=30)
            assert chunks, rel
            too_long = [len(c.text) for c in chunks if len(c.text) > max_chars]
            assert not too_long, f"{rel} max_chars={max_chars}: {too_long}"


def test_short_tail_is_not_merged_beyond_max_chars():
    # 144 amounts of 9 characters: full pieces of 99 characters and a tail of 18 (< min_chars).
    text = "第三条 " + "".join(f"{n}.25万元" for n in range(1000, 1144))
    chunks = chunk_document(text, max_chars=100, min_chars=30)
    assert "".join(c.text for c in chunks) == text
    assert max(len(c.text) for c in chunks) <= 100


def test_embedding_text_carries_title_and_heading_path(sample_corpus_dir):
    meta, chunks = chunk_file(sample_corpus_dir / "subsidy" / "ks-hq-development-opinions-2025.md")
    chunk = next(c for c in chunks if c.article == "（三）促进科技成果就地转化")
    text = embedding_text(chunk, meta.title)
    first_line, body = text.split("\n", 1)
    assert first_line == ("昆山市关于助推经济高质量发展的若干政策意见（示例整理） > 关于助推经济高质量发展的若干政策意见"
                          " > 一、增强科技创新核心驱动力 > （三）促进科技成果就地转化")
    assert body == chunk.text
    assert chunk.path_text == " > ".join(chunk.heading_path)
    # Without a title, the heading path alone is the context; without either, the text alone.
    assert embedding_text(chunk, "").split("\n", 1)[0] == chunk.path_text
    bare = chunk_document("只有一段正文，没有任何标题或条款结构，但足够长。")[0]
    assert embedding_text(bare, "") == bare.text


def test_protected_pattern_matches_real_doc_numbers():
    for number in ("昆政发〔2021〕4号", "苏府[2020]120号", "昆政办发（2026）6号"):
        assert DOC_NUMBER.search(number)

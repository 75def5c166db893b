"""Splitting at sentence ends into parts of at most 2,048 bytes, and sources as short lines."""

from __future__ import annotations

import re

from app.wechat.formatting import format_answer, format_messages, split_message


def _sizes(parts: list[str]) -> list[int]:
    return [len(p.encode("utf-8")) for p in parts]


def test_short_text_is_one_part_and_empty_text_none():
    assert split_message("你好。") == ["你好。"]
    assert split_message("") == []


def test_parts_end_at_sentence_boundaries_and_join_back():
    text = "".join(f"第{i}条规定企业可以申请奖励资金，具体以政策原文为准。" for i in range(200))
    parts = split_message(text)
    assert len(parts) > 1 and "".join(parts) == text
    assert max(_sizes(parts)) <= 2048
    assert all(p.endswith("。") for p in parts)


def test_boundaries_include_question_marks_semicolons_and_line_breaks():
    text = ("问一下？" * 300) + ("分号；" * 300) + ("换行\n" * 300)
    parts = split_message(text, limit=200)
    assert "".join(parts) == text and max(_sizes(parts)) <= 200
    assert all(p[-1] in "？；\n" for p in parts)


def test_an_over_long_sentence_is_cut_between_characters():
    text = "高" * 1000 + "。"  # 3,001 bytes without a sentence end
    parts = split_message(text)
    assert "".join(parts) == text and max(_sizes(parts)) <= 2048
    for part in parts:
        part.encode("utf-8").decode("utf-8")  # no multibyte character was cut
    mixed = ("a😀高" * 700)
    assert "".join(split_message(mixed, limit=101)) == mixed
    assert max(_sizes(split_message(mixed, limit=101))) <= 101


def test_sources_become_short_lines_with_document_links():
    citations = [
        {"n": 1, "doc_id": "gaoxin-2024", "title": "昆山市高新技术企业培育与认定奖励实施办法（示例）",
         "doc_number": "昆政规〔2024〕1号"},
        {"n": 2, "doc_id": "gaoxin-2024", "title": "昆山市高新技术企业培育与认定奖励实施办法（示例）",
         "doc_number": "昆政规〔2024〕1号"},
        {"n": 3, "doc_id": "研发 投入", "title": "研发投入奖补", "doc_number": ""},
    ]
    text = format_answer("**首次认定**奖励30万元[1][2]。另有研发奖补[3]。", citations, "https://kry.example.cn/")
    assert text.startswith("首次认定奖励30万元[1][2]。")
    assert "[1][2] 来源：《昆山市高新技术企业培育与认定奖励实施办法（示例）》昆政规〔2024〕1号\n" in text
    assert "https://kry.example.cn/documents/gaoxin-2024" in text
    assert text.count("gaoxin-2024") == 1  # one line per document
    assert "[3] 来源：《研发投入奖补》\nhttps://kry.example.cn/documents/%E7%A0%94%E5%8F%91%20%E6%8A%95%E5%85%A5" in text
    assert format_answer("没有来源。", [], "https://x") == "没有来源。"


# --- issue 12 -----------------------------------------------------------------------------------

ONE_DOC_TWO_ARTICLES = [
    {"n": 1, "doc_id": "gaoxin", "title": "高新技术企业奖励办法", "doc_number": "昆政规〔2024〕1号"},
    {"n": 2, "doc_id": "gaoxin", "title": "高新技术企业奖励办法", "doc_number": "昆政规〔2024〕1号"},
    {"n": 3, "doc_id": "gaoxin", "title": "高新技术企业奖励办法", "doc_number": "昆政规〔2024〕1号"},
    {"n": 4, "doc_id": "yanfa", "title": "研发投入奖补", "doc_number": ""},
]


def _source_labels(text: str) -> set[str]:
    """The numbers listed in front of 来源 lines, e.g. "[1][2] 来源：…" -> {"1", "2"}."""
    labels: set[str] = set()
    for line in text.splitlines():
        head, sep, _ = line.partition("来源：")
        if sep:
            labels.update(re.findall(r"\[(\d+)\]", head))
    return labels


def test_every_citation_mark_in_the_text_has_a_source_line():
    # Issue 12 item 2: [2] was used in the text, but the merged line of its document said only [1].
    text = format_answer("首次认定奖励30万元[2]。另有研发奖补[4]。", ONE_DOC_TWO_ARTICLES, "https://kry.example.cn")
    assert {"2", "4"} <= _source_labels(text)
    assert text.count("/documents/gaoxin") == 1  # still one source line (and link) per document
    assert "[1][2][3] 来源：《高新技术企业奖励办法》昆政规〔2024〕1号" in text


def test_a_citation_mark_after_the_sentence_end_stays_with_its_sentence():
    # Issue 12 item 3: splitting after "。" left "[1]" to start the next message.
    sentence = "首次认定的企业给予三十万元奖励。[1]"
    text = sentence * 60
    parts = split_message(text, limit=200)
    assert "".join(parts) == text and max(_sizes(parts)) <= 200
    assert all(not p.startswith("[") for p in parts)
    assert all(p.endswith("。[1]") for p in parts)
    closing = "（详见第五条。）」" * 40
    assert all(p.endswith("。）」") for p in split_message(closing, limit=100))


def test_long_answers_carry_the_sources_of_their_own_marks_in_every_part():
    # Issue 12 item 3: the passive part carried the body, the 来源 lines only the API parts.
    body = "".join(f"第{i}条规定企业可以申请奖励资金[{1 + i % 4}]，具体以政策原文为准。" for i in range(150))
    parts = format_messages(body, ONE_DOC_TWO_ARTICLES, "https://kry.example.cn", limit=2048)
    assert len(parts) >= 3 and max(_sizes(parts)) <= 2048
    bodies = []
    for part in parts:
        text, sep, sources = part.partition("\n\n")
        assert sep, part
        used = set(re.findall(r"\[(\d+)\]", text))
        assert used and used <= _source_labels(sources)
        assert "https://kry.example.cn/documents/" in sources
        bodies.append(text)
    assert "".join(bodies) == body  # nothing of the answer is lost or repeated
    short = format_messages("奖励30万元[1]。", ONE_DOC_TWO_ARTICLES, "https://kry.example.cn")
    assert short == [format_answer("奖励30万元[1]。", ONE_DOC_TWO_ARTICLES, "https://kry.example.cn")]

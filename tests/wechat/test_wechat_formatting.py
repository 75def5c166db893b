"""Splitting at sentence ends into parts of at most 2,048 bytes, and sources as short lines."""

from __future__ import annotations

from app.wechat.formatting import format_answer, split_message


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
    assert "[1] 来源：《昆山市高新技术企业培育与认定奖励实施办法（示例）》昆政规〔2024〕1号\n" in text
    assert "https://kry.example.cn/documents/gaoxin-2024" in text
    assert text.count("gaoxin-2024") == 1  # one line per document
    assert "[3] 来源：《研发投入奖补》\nhttps://kry.example.cn/documents/%E7%A0%94%E5%8F%91%20%E6%8A%95%E5%85%A5" in text
    assert format_answer("没有来源。", [], "https://x") == "没有来源。"

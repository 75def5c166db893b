"""Hostile input to ingestion (issue 12, item 7): YAML alias bombs, over-long metadata, huge headings.

One 403-byte upload used to stall chat for 50 s; each case here must be refused or capped at once.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.components.doc_files import FIELD_LIMITS, MAX_TITLE_CHARS, parse_sidecar
from app.errors import UnsupportedDocument
from ingest.chunking import MAX_CONTEXT_CHARS, MAX_LABEL_CHARS, chunk_document, embedding_text
from ingest.cleaning import clean_document
from ingest.loaders import load_bytes
from ingest.metadata import build_metadata

BODY = "第一条 企业研发投入补贴标准为研发费用的百分之十，单个企业最高一百万元。\n"


def alias_bomb(levels: int = 9) -> str:
    """The classic "billion laughs" in a few hundred bytes: each level repeats the one before nine times."""
    lines = ['a: &a ["哈哈哈哈哈哈哈哈哈哈"]']
    for i in range(1, levels):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [{', '.join(['*' + prev] * 9)}]")
    lines.append(f"title: *{chr(ord('a') + levels - 1)}")
    return "\n".join(lines)


def test_front_matter_with_yaml_aliases_is_refused_without_expanding_them():
    bomb = alias_bomb()
    data = f"---\n{bomb}\n---\n{BODY}".encode("utf-8")
    assert len(data) < 700
    started = time.perf_counter()
    with pytest.raises(UnsupportedDocument, match="锚点或别名"):
        load_bytes(data, ".md")
    assert time.perf_counter() - started < 1.0


def test_sidecar_with_an_anchor_or_alias_is_refused():
    with pytest.raises(UnsupportedDocument, match="锚点或别名"):
        parse_sidecar(alias_bomb(3).encode("utf-8"))
    with pytest.raises(UnsupportedDocument, match="锚点或别名"):
        parse_sidecar("title: &t 标题\nissuer: 昆山市科学技术局\n".encode("utf-8"))
    # Plain metadata is unaffected.
    assert parse_sidecar("title: 标题\ntags: [研发, 补贴]\n".encode("utf-8")) == {"title": "标题", "tags": ["研发", "补贴"]}


def test_oversized_front_matter_is_refused():
    data = ("---\ntitle: 标题\nnote_padding: '" + "x" * 20_000 + "'\n---\n" + BODY).encode("utf-8")
    with pytest.raises(UnsupportedDocument, match="元数据.*过大"):
        load_bytes(data, ".md")


@pytest.mark.parametrize("field", ["title", "doc_number", "issuer", "url", "source", "doc_id", "category"])
def test_every_declared_field_is_capped_with_a_chinese_message(field):
    label, limit = FIELD_LIMITS[field]
    value = ("https://a.example/" if field == "url" else "") + "长" * (limit + 1)
    with pytest.raises(UnsupportedDocument, match=f"{label}过长.*最多 {limit} 个"):
        build_metadata({field: value}, clean_document(BODY), Path("policy.md"))


def test_nested_metadata_values_are_refused_and_control_characters_removed():
    with pytest.raises(UnsupportedDocument, match="title.*单个值"):
        build_metadata({"title": {"a": "b"}}, clean_document(BODY), Path("policy.md"))
    with pytest.raises(UnsupportedDocument, match="最多 20 项"):
        build_metadata({"replaces": [f"doc-{i}" for i in range(21)]}, clean_document(BODY), Path("policy.md"))
    meta = build_metadata({"title": "研发\x00投入\x1b补贴", "issuer": "昆山市\n科学技术局"}, clean_document(BODY),
                          Path("policy.md"))
    assert meta.title == "研发 投入 补贴" and meta.issuer == "昆山市 科学技术局"


def test_a_title_from_the_file_itself_is_shortened_not_refused():
    html = ("<html><head><title>" + "政" * 5000 + "</title></head><body><article><p>"
            + "第一条 企业研发投入补贴标准为研发费用的百分之十，单个企业最高一百万元。" * 5
            + "</p></article></body></html>").encode("utf-8")
    loaded = load_bytes(html, ".html")
    assert len(loaded.metadata["title"]) == MAX_TITLE_CHARS and loaded.metadata["title"].endswith("…")
    meta = build_metadata(loaded.metadata, clean_document(loaded.text), Path("page.html"))
    assert len(meta.title) == MAX_TITLE_CHARS


def test_a_huge_heading_does_not_ride_on_every_chunk():
    heading = "## " + "标" * 40_000
    text = clean_document(f"# 研发补贴办法\n\n{heading}\n\n" + BODY * 30)
    chunks = chunk_document(text, title="研发补贴办法", max_chars=250, min_chars=60)
    assert chunks
    for chunk in chunks:
        assert all(len(label) <= MAX_LABEL_CHARS for label in chunk.heading_path)
        assert len(chunk.path_text) <= MAX_CONTEXT_CHARS
        assert len(chunk.text) <= 250
        embedded = embedding_text(chunk, "研发补贴办法" + "题" * 5000)
        assert len(embedded) <= MAX_CONTEXT_CHARS + 1 + 250

"""File -> raw text + the metadata the file itself carries.

One loader per format, each built on a well-kept library: PyYAML for front matter,
charset-normalizer for text encodings, trafilatura for the article of a web page,
pypdf for text PDFs and python-docx for Word files.
"""

from __future__ import annotations

import io
import re
import statistics
from dataclasses import dataclass, field
from typing import Any, Callable

from app.components.doc_files import MAX_TITLE_CHARS, SUPPORTED_SUFFIXES, decode_text, load_metadata_yaml
from app.errors import UnsupportedDocument
from zhtext.normalize import join_cjk_spaces, shorten
from zhtext.sentences import STOPS, ends_sentence


@dataclass
class LoadedFile:
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    format: str = "txt"


# --- Markdown and plain text -------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.S)
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]+)[^)]*\)")
_MD_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")


_MD_TABLE_ROW = re.compile(r"^\s*\|(.+)\|\s*$")
_MD_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


def _md_tables_to_sentences(text: str) -> str:
    """Markdown tables become one sentence a row (表头：值；…), which reads and embeds well."""
    out: list[str] = []
    header: list[str] | None = None
    for line in text.split("\n"):
        row = _MD_TABLE_ROW.match(line)
        if row is None:
            header = None
            out.append(line)
            continue
        if _MD_TABLE_RULE.match(line):
            continue
        cells = [c.strip() for c in row.group(1).split("|")]
        if header is None:
            header = cells
            continue
        pairs = [f"{h}：{v}" if h else v for h, v in zip(header, cells) if v]
        out.append("；".join(pairs) + "。")
    return "\n".join(out)


def load_markdown(data: bytes) -> LoadedFile:
    text = decode_text(data)
    metadata: dict[str, Any] = {}
    match = _FRONT_MATTER.match(text)
    if match:
        metadata = load_metadata_yaml(match.group(1), "Markdown 头部元数据（front matter）")
        text = text[match.end():]
    return LoadedFile(text=markdown_to_text(text), metadata=metadata, format="md")


_MD_ESCAPE = re.compile(r"\\([.\-*_#+!()\[\]`>|])")


def markdown_to_text(text: str) -> str:
    """Markdown (a file, or what trafilatura makes of a web page) as plain policy text: tables as
    sentences, links as text (address), no emphasis marks (**二、办理流程** is a section title the
    splitter must see), no escapes (1\\. from HTML)."""
    text = _md_tables_to_sentences(text)
    text = _MD_LINK.sub(lambda m: f"{m.group(1)}（{m.group(2)}）" if m.group(1) else "", text)
    text = _MD_EMPHASIS.sub(r"\2", text)
    return _MD_ESCAPE.sub(r"\1", text)


def load_text(data: bytes) -> LoadedFile:
    return LoadedFile(text=decode_text(data), format="txt")


# --- HTML ----------------------------------------------------------------------------------

def load_html(data: bytes) -> LoadedFile:
    import trafilatura
    from trafilatura.metadata import extract_metadata

    html = trafilatura.utils.decode_file(data) if isinstance(data, bytes) else data
    text = trafilatura.extract(
        html,
        output_format="markdown",
        include_tables=True,
        include_comments=False,
        include_links=False,
        include_images=False,
        favor_precision=True,
        deduplicate=False,
    )
    if not text:
        raise UnsupportedDocument("网页中未找到正文")
    text = markdown_to_text(text)
    metadata: dict[str, Any] = {}
    meta = extract_metadata(html)
    if meta is not None:
        if meta.title:
            metadata["title"] = shorten(meta.title, MAX_TITLE_CHARS)
        if meta.date:
            metadata["published"] = meta.date
        if meta.url:
            metadata["url"] = meta.url
    return LoadedFile(text=text, metadata=metadata, format="html")


# --- PDF -----------------------------------------------------------------------------------

_BLOCK_START = re.compile(
    r"^(?:#|第[一二三四五六七八九十百零〇\d]+[章节条]|[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[)）]"
    r"|\d+[.、．]|[·•●■◆\-—]|附件|问[:：]|答[:：]|Q[:：]|A[:：])"
)
# A short label line of an info block: 文　　号：…, 发布机构：…, 有 效 性：…
_LABEL_LINE = re.compile(r"^[\u4e00-\u9fff][\u4e00-\u9fff \u3000]{1,6}[:：]")


def rejoin_pdf_lines(page_text: str) -> str:
    """Rejoin lines the PDF layout broke in the middle of a sentence.

    A line is continued by the next one when it is about as long as a full line of the page
    and does not end a sentence, and the next line does not start a heading or list item.
    """
    lines = [line.strip() for line in page_text.split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    full = statistics.median(sorted(len(line) for line in lines)[len(lines) // 2:])
    out: list[str] = [lines[0]]
    last = lines[0]  # the previous physical line, not the paragraph joined so far
    for line in lines[1:]:
        continues = (
            len(last) >= 0.75 * full
            and not ends_sentence(last, stops=STOPS + "：:…")
            and not _BLOCK_START.match(line)
            and not _LABEL_LINE.match(line)
        )
        if continues:
            out[-1] += line
        else:
            out.append(line)
        last = line
    return "\n".join(out)


_PAGE_NUMBER = re.compile(r"^\s*[-—－]?\s*\d{1,3}\s*[-—－]?\s*$|^第\s*\d+\s*页(?:\s*共\s*\d+\s*页)?$", re.M)


def load_pdf(data: bytes) -> LoadedFile:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception:  # noqa: BLE001 - any failure means we cannot read it
                ok = 0
            if not ok:
                raise UnsupportedDocument("PDF 文件已加密，无法读取，请提供未加密的版本")
        pages = [page.extract_text() or "" for page in reader.pages]
    except UnsupportedDocument:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise UnsupportedDocument(f"PDF 文件已损坏或无法解析：{exc}") from exc
    # Rejoin over all pages at once, so that a sentence broken by a page break is whole again.
    text = rejoin_pdf_lines("\n".join(join_cjk_spaces(_PAGE_NUMBER.sub("", page)) for page in pages))
    if len(re.sub(r"\s", "", text)) < 10:
        raise UnsupportedDocument("PDF 中没有可提取的文字（可能是扫描件），请提供文字版 PDF 或 Word 文件")
    metadata: dict[str, Any] = {}
    info = reader.metadata
    if info and info.title and not info.title.lower().startswith(("untitled", "microsoft word")):
        metadata["title"] = shorten(info.title, MAX_TITLE_CHARS)
    return LoadedFile(text=text, metadata=metadata, format="pdf")


# --- DOCX ----------------------------------------------------------------------------------

def _table_lines(table) -> list[str]:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            value = " ".join(cell.text.split())
            if not cells or cells[-1] != value:  # merged cells repeat their text
                cells.append(value)
        rows.append(cells)
    if not rows:
        return []
    header, body = rows[0], rows[1:]
    if not body:
        return ["；".join(c for c in header if c)]
    lines = []
    for cells in body:
        if len(cells) == len(header):
            pairs = [f"{h}：{v}" for h, v in zip(header, cells) if v]
            lines.append("；".join(pairs) + "。")
        else:
            lines.append("；".join(c for c in cells if c) + "。")
    return lines


def load_docx(data: bytes) -> LoadedFile:
    import zipfile

    from docx import Document
    from docx.table import Table

    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise UnsupportedDocument("不是有效的 DOCX 文件（可能已加密或为旧版 .doc 格式）")
    try:
        document = Document(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - python-docx raises many types for bad files
        raise UnsupportedDocument(f"DOCX 文件已损坏或无法解析：{exc}") from exc
    lines: list[str] = []
    styled_title = ""
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            lines.extend(_table_lines(block))
            continue
        text = block.text.strip()
        if not text:
            continue
        style = (block.style.name if block.style is not None else "") or ""
        level = re.match(r"Heading (\d)", style)
        if style == "Title":
            styled_title = styled_title or text
            lines.append(f"# {text}")
        elif level:
            lines.append("#" * min(int(level.group(1)) + 1, 6) + " " + text)
        else:
            lines.append(text)
    metadata: dict[str, Any] = {}
    title = (document.core_properties.title or "").strip() or styled_title
    if title:
        metadata["title"] = shorten(title, MAX_TITLE_CHARS)
    return LoadedFile(text="\n".join(lines), metadata=metadata, format="docx")


# One loader per entry of SUPPORTED_SUFFIXES (the formats staff may upload).
LOADERS: dict[str, Callable[[bytes], LoadedFile]] = {
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_text,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
    ".docx": load_docx,
}


def load_bytes(data: bytes, suffix: str) -> LoadedFile:
    loader = LOADERS.get(suffix.lower())
    if loader is None:
        raise UnsupportedDocument(
            f"不支持的文件格式 {suffix or '（无扩展名）'}，支持：{'、'.join(SUPPORTED_SUFFIXES)}"
        )
    if not data.strip():
        raise UnsupportedDocument("文件为空")
    return loader(data)

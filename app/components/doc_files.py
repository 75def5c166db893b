"""What staff may put into the corpus: file formats, sidecar metadata files, declared fields.

Shared by the ingest pipeline (which reads the files) and the admin console (which checks an
upload before it is queued and carries a sidecar over when a file is replaced), so both refuse
the same things with the same words.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from app.errors import UnsupportedDocument

# The formats the ingest pipeline has a loader for (ingest.loaders.LOADERS has one per entry).
SUPPORTED_SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".docx")

# Longest accepted value of each declared field (characters), with the name staff know it by.
# An upload, a sidecar or front matter over a cap is refused with the field's name; a title taken
# from a file's own properties (HTML <title>, PDF/DOCX properties) is shortened instead.
MAX_TITLE_CHARS = 200
FIELD_LIMITS: dict[str, tuple[str, int]] = {
    "doc_id": ("doc_id", 128), "title": ("标题", MAX_TITLE_CHARS), "doc_number": ("文号", 100),
    "issuer": ("发文机关", 100), "published": ("发布日期", 40), "effective_from": ("生效日期", 40),
    "expires": ("有效期至", 40), "category": ("分类", 20), "url": ("官方链接", 1000), "source": ("原文件名", 200),
    "sample": ("示例标记", 10), "replaces": ("替代的文件", 128), "tags": ("标签", 50),
}
MAX_LIST_ITEMS = 20


class DocumentIdentity(BaseModel):
    """Who a document is and when it applies: the first fields of both the metadata the ingest
    pipeline builds (ingest.metadata.DocumentMetadata) and the document the admin API returns
    (app.admin.schemas.DocumentAdmin), each of which adds its own fields after these."""

    doc_id: str
    title: str
    doc_number: str | None = None
    issuer: str | None = None
    published: dt.date | None = None
    effective_from: dt.date | None = None
    expires: dt.date | None = None

SIDECAR_SUFFIXES = (".meta.yaml", ".meta.yml")


def sidecar_path(path: Path) -> Path | None:
    for suffix in SIDECAR_SUFFIXES:
        candidate = path.with_name(path.name + suffix)
        if candidate.is_file():
            return candidate
    return None


def is_sidecar(path: Path) -> bool:
    return path.name.endswith(SIDECAR_SUFFIXES)


# Metadata is a handful of short fields; anything bigger is not metadata.
MAX_METADATA_BYTES = 16 * 1024


class _NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader without anchors and aliases: metadata never needs them, and a few
    hundred bytes of nested aliases ("billion laughs") expand to hundreds of millions of characters."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise yaml.composer.ComposerError(None, None, "YAML anchors and aliases (& and *) are not allowed",
                                              event.start_mark)
        return super().compose_node(parent, index)


def load_metadata_yaml(text: str, what: str) -> dict[str, Any]:
    """A metadata mapping from YAML (front matter or sidecar), refused in Chinese when it is too big,
    uses anchors/aliases, is malformed or is not a mapping."""
    if len(text.encode("utf-8")) > MAX_METADATA_BYTES:
        raise UnsupportedDocument(f"{what}过大（上限 {MAX_METADATA_BYTES // 1024} KB），元数据只应包含标题、文号等简短字段")
    try:
        parsed = yaml.load(text, Loader=_NoAliasLoader) or {}  # noqa: S506 - a SafeLoader subclass
    except yaml.composer.ComposerError as exc:
        if "anchors and aliases" in str(exc):
            raise UnsupportedDocument(f"{what}中不允许使用 YAML 锚点或别名（& 或 *），请直接写出每个字段的值") from exc
        raise UnsupportedDocument(f"{what}格式错误：{exc}") from exc
    except yaml.YAMLError as exc:
        raise UnsupportedDocument(f"{what}格式错误：{exc}") from exc
    if not isinstance(parsed, dict):
        raise UnsupportedDocument(f"{what}应为键值对")
    return parsed


def parse_sidecar(data: bytes) -> dict[str, Any]:
    if not data.strip():
        return {}
    return load_metadata_yaml(decode_text(data), "元数据文件（.meta.yaml）")


def decode_text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise UnsupportedDocument("无法识别文件编码")
    return str(best)

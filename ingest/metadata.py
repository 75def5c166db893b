"""Document metadata: front matter / sidecar first, then what the text itself says."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path
from typing import Any

from pydantic import Field

from app.components.doc_files import FIELD_LIMITS, MAX_LIST_ITEMS, MAX_TITLE_CHARS, DocumentIdentity
from app.errors import UnsupportedDocument
from zhtext.docnumbers import DOC_NUMBER, find_doc_number
from zhtext.normalize import shorten
from zhtext.validity import DATE_RE, ISO_DATE_RE, in_force, infer_dates, to_date

CATEGORIES = ("subsidy", "land", "procedure", "talent", "service", "other")

_ISSUER_LABEL = re.compile(
    r"(?:发布机构|发文机关|发文单位|来源)\s*[:：]\s*([\u4e00-\u9fff（）()]{2,30}?)(?=\s|$|[|｜]|成文|发布|文号|时间|日期)", re.M)
_ISSUER_LINE = re.compile(
    r"^([\u4e00-\u9fff（）]{2,30}(?:人民政府|人民政府办公室|办公室|委员会|管理委员会|局|厅|中心|管委会|部))$"
)
_CATEGORY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "land": ("用地", "供地", "土地", "厂房", "出让", "履约保证金", "地块"),
    "talent": ("人才", "领军", "安家", "毕业生", "人才公寓"),
    "subsidy": ("补贴", "奖励", "资助", "奖补", "贴息", "扶持资金", "支持资金", "万元"),
    "procedure": ("办理", "登记", "审批", "许可", "申请材料", "办事指南", "流程", "一网通办"),
    "service": ("昆如意", "热线", "服务驿站", "服务中心", "12345", "营商"),
}


class DocumentMetadata(DocumentIdentity):
    category: str = "other"
    url: str | None = None
    source: str = ""
    sample: bool = False
    # doc_ids of earlier policies this one replaces (their successor, named in answers about them)
    replaces: list[str] = Field(default_factory=list)

    def is_expired(self, today: dt.date | None = None) -> bool:
        return not in_force(self.expires, today or dt.date.today())

    def to_dict(self) -> dict[str, Any]:
        """Plain values, dates as ISO strings."""
        return self.model_dump(mode="json")


def parse_date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    match = DATE_RE.search(text) or ISO_DATE_RE.search(text)
    if not match:
        raise UnsupportedDocument(f"无法识别的日期：{text}")
    result = to_date(*match.groups())
    if result is None:
        raise UnsupportedDocument(f"无效的日期：{text}")
    return result


def slugify(stem: str, fallback_seed: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
    if len(slug) >= 3:
        return slug[:80]
    return "doc-" + hashlib.sha1(fallback_seed.encode("utf-8")).hexdigest()[:12]


def infer_title(text: str) -> str | None:
    for line in text.split("\n")[:15]:
        line = line.strip().lstrip("#").strip()
        if not line or DOC_NUMBER.fullmatch(line) or DATE_RE.fullmatch(line):
            continue
        if 4 <= len(line) <= 80 and not line.endswith(("。", "；", "：")):
            return line
    return None


def infer_issuer(text: str) -> str | None:
    if match := _ISSUER_LABEL.search(text[:3000]):
        return match.group(1)
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    for line in lines[:8] + lines[-8:]:
        if _ISSUER_LINE.match(line):
            return line
    return None


def infer_category(title: str, text: str) -> str:
    scores = {cat: 0 for cat in _CATEGORY_KEYWORDS}
    for cat, words in _CATEGORY_KEYWORDS.items():
        for word in words:
            scores[cat] += 5 * title.count(word) + min(text.count(word), 10)
    best = max(scores, key=scores.get)
    return best if scores[best] > 0 else "other"


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "是", "y"}
    return bool(value)


def _as_list(value: Any) -> list[str]:
    if not value:
        return []
    items = value if isinstance(value, (list, tuple)) else re.split(r"[,，\s]+", str(value))
    return [str(v).strip() for v in items if str(v).strip()][:20]


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _checked_value(key: str, value: Any) -> Any:
    """A declared value within its cap: a one-line scalar (lists for replaces/tags), control characters
    removed; refused in Chinese when it is a nested structure or too long."""
    label, limit = FIELD_LIMITS.get(key, (key, 200))
    if isinstance(value, (list, tuple)) and key in ("replaces", "tags"):
        if len(value) > MAX_LIST_ITEMS:
            raise UnsupportedDocument(f"{label}最多 {MAX_LIST_ITEMS} 项（现有 {len(value)} 项）")
        return [_checked_value(key, item) for item in value]
    if isinstance(value, (dict, list, tuple, set)):
        raise UnsupportedDocument(f"元数据字段 {key}（{label}）应为单个值，不能是列表或嵌套结构")
    if value is None or isinstance(value, (bool, int, float, dt.date)):
        return value
    text = _CONTROL.sub(" ", str(value)).strip()
    if len(text) > limit:
        raise UnsupportedDocument(f"{label}过长（{len(text)} 个字符，最多 {limit} 个），请精简后重试")
    return text


def build_metadata(declared: dict[str, Any], text: str, path: Path) -> DocumentMetadata:
    """Merge declared metadata (front matter, sidecar, file properties) with what the text says."""
    unknown = set(declared) - set(DocumentMetadata.model_fields) - {"tags"}
    if unknown:
        raise UnsupportedDocument(f"未知的元数据字段：{', '.join(sorted(shorten(str(k), 40) for k in unknown))}")
    declared = {key: _checked_value(key, value) for key, value in declared.items()}
    inferred_dates = infer_dates(text)
    title = shorten(str(declared.get("title") or infer_title(text) or path.stem).strip(), MAX_TITLE_CHARS)
    category = str(declared.get("category") or infer_category(title, text))
    if category not in CATEGORIES:
        raise UnsupportedDocument(f"分类 {category} 无效，可选：{'、'.join(CATEGORIES)}")
    doc_number = declared.get("doc_number") or find_doc_number(text)
    meta = DocumentMetadata(
        doc_id=str(declared.get("doc_id") or slugify(path.stem, path.name)),
        title=title,
        doc_number=str(doc_number) if doc_number else None,
        issuer=str(declared.get("issuer") or infer_issuer(text) or "") or None,
        published=parse_date(declared.get("published")) or inferred_dates.get("published"),
        effective_from=parse_date(declared.get("effective_from")) or inferred_dates.get("effective_from"),
        expires=parse_date(declared.get("expires")) or inferred_dates.get("expires"),
        category=category,
        url=str(declared["url"]) if declared.get("url") else None,
        source=shorten(str(declared.get("source") or path.name), FIELD_LIMITS["source"][1]),
        # A document that calls itself 示例 in its title is illustrative unless it says otherwise.
        sample=_as_bool(declared["sample"]) if "sample" in declared else "示例" in title,
        replaces=_as_list(declared.get("replaces")),
    )
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{1,127}", meta.doc_id):
        raise UnsupportedDocument(f"doc_id「{meta.doc_id}」无效：只能使用字母、数字、点、下划线和连字符")
    if meta.url and not re.match(r"https?://", meta.url):
        raise UnsupportedDocument(f"官方链接必须以 http:// 或 https:// 开头：{meta.url}")
    return meta

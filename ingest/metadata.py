"""Document metadata: front matter / sidecar first, then what the text itself says."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from app.errors import UnsupportedDocument

CATEGORIES = ("subsidy", "land", "procedure", "talent", "service", "other")

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}

DATE = r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日"
_DATE = re.compile(DATE)
_ISO_DATE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
# 昆政发〔2021〕4号, 苏府[2020]120号, 昆政办发（2026）6号 -> normalised to 〔〕
DOC_NUMBER = re.compile(r"([\u4e00-\u9fff]{1,12})\s*[〔\[［【(（]\s*(\d{4})\s*[〕\]］】)）]\s*(\d{1,4})\s*号")
_EXPIRES_AT = re.compile(r"有效期(?:至|到|截至)\s*" + DATE)
_EFFECTIVE_FROM = re.compile(r"自\s*" + DATE + r"\s*起(?:施行|实施|执行|生效)")
_ON_ISSUE = re.compile(r"自\s*(?:印发|发布|公布)之日\s*起(?:施行|实施|执行|生效)")
_VALID_YEARS = re.compile(
    r"自\s*(?:" + DATE + r"|(印发|发布|公布)之日)\s*起(?:施行|实施|执行|生效)[，,]?\s*有效期\s*([一二两三四五六七八九十\d]+)\s*年"
)
_PUBLISHED_LABEL = re.compile(r"(?:发布|印发|成文|发文)(?:日期|时间)\s*[:：]\s*(?:" + DATE + r"|(\d{4})-(\d{1,2})-(\d{1,2}))")
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


@dataclass
class DocumentMetadata:
    doc_id: str
    title: str
    doc_number: str | None = None
    issuer: str | None = None
    published: dt.date | None = None
    effective_from: dt.date | None = None
    expires: dt.date | None = None
    category: str = "other"
    url: str | None = None
    source: str = ""
    sample: bool = False
    # doc_ids of earlier policies this one replaces (their successor, named in answers about them)
    replaces: list[str] = field(default_factory=list)

    def is_expired(self, today: dt.date | None = None) -> bool:
        return self.expires is not None and self.expires < (today or dt.date.today())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("published", "effective_from", "expires"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data


def parse_cn_number(token: str) -> int:
    if token.isdigit():
        return int(token)
    if token == "十":
        return 10
    if token.startswith("十"):
        return 10 + _CN_DIGITS.get(token[1:], 0)
    if "十" in token:
        tens, _, ones = token.partition("十")
        return _CN_DIGITS[tens] * 10 + (_CN_DIGITS.get(ones, 0) if ones else 0)
    return _CN_DIGITS.get(token, 0)


def _date(y: str, m: str, d: str) -> dt.date | None:
    try:
        return dt.date(int(y), int(m), int(d))
    except ValueError:
        return None


def parse_date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    match = _DATE.search(text) or _ISO_DATE.search(text)
    if not match:
        raise UnsupportedDocument(f"无法识别的日期：{text}")
    result = _date(*match.groups())
    if result is None:
        raise UnsupportedDocument(f"无效的日期：{text}")
    return result


def _add_years(day: dt.date, years: int) -> dt.date:
    """The last day of a validity period of ``years`` starting on ``day``."""
    try:
        end = day.replace(year=day.year + years)
    except ValueError:  # 29 February: the period ends on 28 February
        return day.replace(year=day.year + years, day=28)
    return end - dt.timedelta(days=1)


def slugify(stem: str, fallback_seed: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")
    if len(slug) >= 3:
        return slug[:80]
    return "doc-" + hashlib.sha1(fallback_seed.encode("utf-8")).hexdigest()[:12]


def find_doc_number(text: str) -> str | None:
    """The document's own 文号: one standing on its own line near the top (or labelled).

    A 文号 quoted in the body (根据苏府〔2020〕120号…) is another document's number.
    """
    match = None
    for line in text.split("\n")[:12]:
        line = line.strip()
        candidate = DOC_NUMBER.search(line)
        if candidate and (len(line) - len(candidate.group(0)) <= 6 or re.match(r"^(?:文号|发文字号|索引号)", line)):
            match = candidate
            break
    return _doc_number(match) if match else None


def find_doc_number_anywhere(text: str) -> str | None:
    """Any 文号 in a text (e.g. a question that quotes one), normalised to 〔〕."""
    match = DOC_NUMBER.search(text)
    return _doc_number(match) if match else None


def _doc_number(match: re.Match) -> str:
    prefix, year, number = match.groups()
    # Drop leading words that are not part of the issuing code, e.g. "根据苏府" -> "苏府".
    prefix = re.sub(r"^.*?(?:根据|依据|按照|印发|转发|的|即)", "", prefix) or prefix
    return f"{prefix}〔{year}〕{number}号"


def infer_title(text: str) -> str | None:
    for line in text.split("\n")[:15]:
        line = line.strip().lstrip("#").strip()
        if not line or DOC_NUMBER.fullmatch(line) or _DATE.fullmatch(line):
            continue
        if 4 <= len(line) <= 80 and not line.endswith(("。", "；", "：")):
            return line
    return None


def infer_dates(text: str) -> dict[str, dt.date]:
    found: dict[str, dt.date] = {}
    if match := _PUBLISHED_LABEL.search(text):
        g = match.groups()
        found["published"] = _date(*(g[0:3] if g[0] else g[3:6]))
    else:
        # A date standing alone on a line is the signing date of a government document.
        for line in text.split("\n"):
            line = line.strip()
            if match := re.fullmatch(DATE, line):
                found["published"] = _date(*match.groups())
    if match := _EFFECTIVE_FROM.search(text):
        found["effective_from"] = _date(*match.groups())
    elif _ON_ISSUE.search(text) and found.get("published"):
        found["effective_from"] = found["published"]
    if match := _EXPIRES_AT.search(text):
        found["expires"] = _date(*match.groups())
    elif match := _VALID_YEARS.search(text):
        y, m, d, on_issue, years = match.groups()
        start = _date(y, m, d) if y else found.get("published")
        if start:
            found.setdefault("effective_from", start)
            found["expires"] = _add_years(start, parse_cn_number(years))
    return {k: v for k, v in found.items() if v is not None}


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
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked with an ellipsis when cut."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    unknown = set(declared) - set(DocumentMetadata.__dataclass_fields__) - {"tags"}
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

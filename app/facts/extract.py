"""Policy facts: each clause of a policy that grants something becomes an item.

Rule-based Chinese extraction (no LLM needed): the amount (fixed, ratio, cap), the application
window (每年9月1日至9月30日, 2026年3月1日至4月30日), the department, the materials and the
conditions — typed where a pattern says what they are (region, enterprise type, thresholds,
events), kept as text otherwise ("需人工确认"). Window, department, materials and general
conditions are usually stated once per document and apply to every item of it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from app.facts import slots as sl

_MARK = re.compile(r"^(?:第[一二三四五六七八九十百零〇两\d]+条|[（(][一二三四五六七八九十\d]{1,3}[)）]|[一二三四五六七八九十]{1,3}、|\d{1,2}[.、．](?!\d))")
_GRANT = re.compile(r"给予|奖励|补贴|补助|资助|贴息|支持|返还|发放|奖补")
_MONEY = re.compile(r"(\d+(?:\.\d+)?)\s*(万|亿|千)?\s*元")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")
_CAP = re.compile(r"(?:最高|不超过|上限为?|封顶)\s*(?:不超过)?\s*(\d+(?:\.\d+)?)\s*(万|亿)?\s*元")
_YEARLY = re.compile(r"每年\s*(\d{1,2})\s*月\s*(\d{1,2})?\s*日?\s*(?:至|到|—|-|~)\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_DATED = re.compile(r"(20\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*(?:至|到|—|-|~)\s*(?:(20\d{2})\s*年)?\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_DEADLINE = re.compile(r"(20\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*(?:前|之前|截止)")
_SUBMIT_TO = re.compile(r"向([^，。；、]{2,30}?)(?:提交|申请|申报|报送|提出)")
_DEPT = re.compile(r"受理部门(?:为|是|[:：])\s*([^，。；\n]{2,40})")

BENEFITS = (
    ("贴息", re.compile(r"贴息")),
    ("用地", re.compile(r"用地|供地|土地|厂房")),
    ("人才", re.compile(r"人才|安家|购房|租房|生活补贴|毕业生")),
    ("资质认定", re.compile(r"认定|评定|入库")),
    ("补贴", re.compile(r"补贴|补助|返还")),
    ("奖励", re.compile(r"奖励|奖补|资助|支持")),
)

ENTERPRISE_TYPES = (
    ("规上工业", re.compile(r"规模以上工业|规上工业|规上企业")),
    ("高新技术企业", re.compile(r"高新技术企业|高企")),
    ("小巨人", re.compile(r"小巨人")),
    ("专精特新", re.compile(r"专精特新")),
    ("科技型中小企业", re.compile(r"科技型中小企业")),
    ("外资", re.compile(r"外资|外商投资")),
    ("总部企业", re.compile(r"总部企业|总部")),
)
EVENTS = (
    ("首次认定", re.compile(r"首次(?:被)?(?:认定|入库|评为|入选)")),
    ("重新认定", re.compile(r"重新(?:通过)?认定")),
    ("新引进", re.compile(r"新引进|新落户|新设立|整体迁入")),
    ("招用高校毕业生", re.compile(r"招用.{0,20}(?:高校毕业生|毕业生)")),
    ("购置设备", re.compile(r"设备(?:和软件)?(?:投入|购置)|购置.{0,6}设备")),
    ("拿地", re.compile(r"竞得|拿地|取得.{0,6}土地")),
    ("研发费用增长", re.compile(r"研发费用.{0,20}增长")),
    ("首台套认定", re.compile(r"首台（套）|首台套")),
    ("获得智改贷款", re.compile(r"贷款")),
    ("引进人才", re.compile(r"人才")),
)
_THRESHOLDS = (
    ("revenue_wan", re.compile(r"(?:营业收入|营收|销售收入|主营业务收入)[^，。；]{0,12}?(?:达到|不低于|超过|突破|在)?\s*(\d+(?:\.\d+)?)\s*(万|亿)元(以上|及以上)?")),
    ("rd_expense_wan", re.compile(r"研发(?:费用|投入)[^，。；%]{0,12}?(?:不低于|达到|超过|在)\s*(\d+(?:\.\d+)?)\s*(万|亿)元")),
    ("rd_ratio", re.compile(r"研发费用占(?:营业收入|销售收入)?(?:的)?(?:比重|比例)?(?:达到|不低于|超过)?\s*(\d+(?:\.\d+)?)\s*(%)")),
    ("investment_wan", re.compile(r"(?:设备(?:和软件|（含配套软件）)?投入|投资额?|总投资)[^，。；]{0,10}?(?:在|达到|不低于|超过|突破)?\s*(\d+(?:\.\d+)?)\s*(万|亿)元(以上|及以上)?")),
    ("employees", re.compile(r"(?:职工|员工|从业人员|研发人员)[^，。；]{0,8}?(?:不少于|达到|超过|在)?\s*(\d+)\s*(人)")),
    ("land_mu", re.compile(r"(?:用地|面积)[^，。；]{0,8}?(?:不少于|达到|超过|在|不足)?\s*(\d+)\s*(亩)")),
)


@dataclass
class Condition:
    text: str
    field: str | None = None     # region | enterprise_type | event | revenue_wan | … ; None = 需人工确认
    op: str | None = None        # eq | in | has | gte | gt | lte | lt
    value: Any = None


@dataclass
class Window:
    text: str = ""
    start: str | None = None     # ISO date for a dated window
    end: str | None = None
    recurring: str | None = None  # "09-01/09-30" for a yearly window

    def dates(self, year: int) -> tuple[dt.date, dt.date] | None:
        """The window in a given year (a yearly window) or its own dates."""
        try:
            if self.recurring:
                a, b = self.recurring.split("/")
                return (dt.date(year, int(a[:2]), int(a[3:])), dt.date(year, int(b[:2]), int(b[3:])))
            if self.start and self.end:
                return dt.date.fromisoformat(self.start), dt.date.fromisoformat(self.end)
            if self.end:
                end = dt.date.fromisoformat(self.end)
                return end.replace(month=1, day=1), end
        except ValueError:
            return None
        return None


@dataclass
class PolicyItem:
    item_id: str
    doc_id: str
    content_hash: str
    article: str                  # 第三条（一）, 一、（二）, or the clause heading
    chunk_id: str
    programme: str                # what the clause grants for (its heading or opening words)
    benefit: str
    amount_text: str
    amount_max_wan: float | None
    ratio: float | None
    window: Window = field(default_factory=Window)
    department: str | None = None
    materials: list[str] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)
    text: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PolicyItem":
        data = dict(data)
        data["window"] = Window(**(data.get("window") or {}))
        data["conditions"] = [Condition(**c) for c in data.get("conditions") or []]
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Clause:
    """One numbered clause of a document as the chunker saw it."""

    path: list[str]      # heading path (without the title)
    text: str
    chunk_id: str = ""


def _wan(number: str, unit: str | None) -> float:
    value = float(number)
    return value * 10000 if unit == "亿" else value / 10 if unit == "千" else value if unit == "万" else value / 10000


def amounts(text: str) -> tuple[str, float | None, float | None]:
    """(amount text, largest granted amount or cap in 万元, ratio) of a granting clause.

    Only figures in a clause that grants (给予…奖励, 最高…万元, 按…%补贴) count: "营业收入首次
    突破100亿元的" is a condition, not an amount.
    """
    parts = [p for p in re.split(r"(?<=[，,；;。])", text) if p.strip()]
    granting = [p for p in parts if _GRANT.search(p) or _CAP.search(p) or re.search(r"^\s*[A-Z]类|标准为|每(?:人|月|年)", p)]
    granting = [p for p in granting if _MONEY.search(p) or _PERCENT.search(p)]
    if not granting:
        return "", None, None
    joined = "".join(granting)
    caps = [_wan(n, u) for n, u in _CAP.findall(joined)]
    fixed = [_wan(n, u) for n, u in _MONEY.findall(joined)]
    ratios = [float(p) / 100 for p in _PERCENT.findall(joined)]
    money = caps or fixed
    top = max(money) if money else None
    amount_text = joined.strip("，,；;。 ")[:80]
    return amount_text, (round(top, 4) if top is not None else None), (max(ratios) if ratios else None)


def window_of(text: str) -> Window | None:
    if m := _YEARLY.search(text):
        m1, d1, m2, d2 = m.groups()
        return Window(text=m.group(0), recurring=f"{int(m1):02d}-{int(d1 or 1):02d}/{int(m2):02d}-{int(d2):02d}")
    if m := _DATED.search(text):
        y1, m1, d1, y2, m2, d2 = m.groups()
        start = dt.date(int(y1), int(m1), int(d1))
        end = dt.date(int(y2 or y1), int(m2), int(d2))
        return Window(text=m.group(0), start=start.isoformat(), end=end.isoformat())
    if m := _DEADLINE.search(text):
        y, mo, d = m.groups()
        return Window(text=m.group(0), end=dt.date(int(y), int(mo), int(d)).isoformat())
    if re.search(r"常年受理|随时申报|随时受理", text):
        return Window(text="常年受理")
    return None


def department_of(text: str) -> str | None:
    if m := _DEPT.search(text):
        return m.group(1).strip()
    if m := _SUBMIT_TO.search(text):
        return m.group(1).strip()
    return None


def conditions_of(text: str, *, region_hint: str | None = None) -> list[Condition]:
    out: list[Condition] = []
    for name, pattern in ENTERPRISE_TYPES:
        if pattern.search(text) and not re.search(r"不(?:属于|是|含)" + pattern.pattern, text):
            out.append(Condition(pattern.search(text).group(0), "enterprise_type", "has", name))
            break
    for name, pattern in EVENTS:
        if name == "引进人才" or name == "获得智改贷款":
            continue
        if pattern.search(text):
            out.append(Condition(pattern.search(text).group(0), "event", "has", name))
    for name, pattern in _THRESHOLDS:
        if m := pattern.search(text):
            number, unit = m.group(1), m.group(2)
            value = float(number) / 100 if unit == "%" else _wan(number, unit) if unit in ("万", "亿") else float(number)
            clause = m.group(0)
            op = "lt" if re.search(r"不足|以下|低于(?!.{0,2}不)", clause) else "gt" if re.search(r"超过|突破", clause) else "gte"
            out.append(Condition(clause, name, op, round(value, 4)))
    if region_hint:
        out.append(Condition(f"在{region_hint}依法登记注册", "region", "eq", region_hint))
    return out


def _label(path: list[str]) -> str:
    """第三条（一）: the last two clause markers of the path, or the heading itself."""
    marks: list[str] = []
    for p in path:
        m = _MARK.match(p)
        if m and (not marks or marks[-1] != m.group(0)):
            marks.append(m.group(0))
    if marks:
        return "".join(marks[-2:])
    return path[-1][:20] if path else ""


def _region(doc_title: str, text: str) -> str | None:
    if re.search(r"在昆山(?:市)?(?:依法)?(?:登记|注册)|昆山市(?:行政区域|范围)内|在昆", text) or doc_title.startswith(("昆山", "关于做好2026年度昆山")):
        return "昆山"
    if doc_title.startswith("苏州") or re.search(r"在苏州(?:市)?(?:依法)?(?:登记|注册)", text):
        return "苏州"
    return None


def extract_items(doc_id: str, content_hash: str, title: str, clauses: Iterable[Clause]) -> list[PolicyItem]:
    """The items of one document version (deterministic: the same text gives the same items)."""
    clauses = list(clauses)
    full = "\n".join(c.text for c in clauses)
    region = _region(title, full)
    window = next((w for c in clauses for w in [window_of(c.text)] if w), None) or Window()
    department = next((d for c in clauses for d in [department_of(c.text)] if d), None)
    materials: list[str] = []
    general: list[Condition] = []
    for c in clauses:
        heading = " ".join(c.path[-2:])
        lines = [ln.strip() for ln in c.text.split("\n") if ln.strip()]
        if sl.heading_states(heading, sl.MATERIALS) or (lines and re.search(r"(?:申报|申请)材料", lines[0][:20])):
            materials += [_MARK.sub("", ln).strip("；;。 ") for ln in lines[1:] if _MARK.match(ln)][:12]
        if sl.heading_states(heading, sl.CONDITIONS) or (lines and re.search(r"(?:申报|申请)条件", lines[0][:20])):
            for ln in lines[1:] if len(lines) > 1 else lines:
                typed = conditions_of(ln)
                general += typed or [Condition(_MARK.sub("", ln).strip("；;。 ")[:80])]
    items: list[PolicyItem] = []
    seen: set[str] = set()
    for c in clauses:
        units = _granting_units(c)
        for path, text in units:
            amount_text, top, ratio = amounts(text)
            if top is None and ratio is None:
                continue
            label = _label(path)
            if label in seen:
                label = _label(path[-3:]) if len(path) >= 3 else f"{label}·{len(items) + 1}"
            seen.add(label)
            heading = path[-1] if path else title
            own = conditions_of(text)
            conditions = own + [g for g in general if (g.field, g.value) not in {(o.field, o.value) for o in own}]
            if region and not any(x.field == "region" for x in conditions):
                conditions.insert(0, Condition(f"在{region}依法登记注册", "region", "eq", region))
            benefit = next((name for name, p in BENEFITS if p.search(text)), "奖励")
            key = f"{doc_id}#{label}"
            items.append(PolicyItem(
                item_id=hashlib.sha1(f"{key}|{content_hash}".encode()).hexdigest()[:16], doc_id=doc_id,
                content_hash=content_hash, article=label, chunk_id=c.chunk_id,
                programme=re.split(r"[。：:，,]", _MARK.sub("", heading).strip())[0][:40] or title,
                benefit=benefit, amount_text=amount_text, amount_max_wan=top, ratio=ratio,
                window=window_of(text) or window, department=department_of(text) or department,
                materials=materials, conditions=conditions, text=text[:400]))
    return items


def _granting_units(clause: Clause) -> list[tuple[list[str], str]]:
    """The parts of a clause that grant something: its numbered lines, or the clause itself."""
    lines = [ln.strip() for ln in clause.text.split("\n") if ln.strip()]
    units: list[tuple[list[str], str]] = []
    own = _MARK.match(clause.path[-1]).group(0) if clause.path and _MARK.match(clause.path[-1]) else None
    for i, ln in enumerate(lines):
        mark = _MARK.match(ln)
        if i == 0 and (own is None or (mark and mark.group(0) == own)):
            continue  # the clause's own opening line
        if mark and _GRANT.search(ln) and (_MONEY.search(ln) or _PERCENT.search(ln)):
            units.append((clause.path + [ln[:20]], ln))
    if units:
        return units
    lines = [ln for ln in lines if not ln.startswith((">", "说明", "注："))]
    text = " ".join(lines)
    if _GRANT.search(text) and (_MONEY.search(text) or _PERCENT.search(text)) and not re.search(r"申报材料|申请材料", text[:12]):
        return [(clause.path, text)]
    return []

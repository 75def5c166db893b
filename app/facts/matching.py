"""政策计算器: which policy items a company profile qualifies for, and when to apply.

A ``CompanyProfile`` holds what a company says about itself (nothing personal). The ``Matcher``
evaluates every typed condition of every live policy item (``app.facts.extract.Condition``):
met, failed or unknown (the profile does not give the field), each with a Chinese reason.

Rules (bench/data/MATCH_README.md): a missing field is unknown; a list that is given is complete
(``events: []`` means none); company age = this year − founded_year; 以上/以下 include the figure,
超过/不满 do not (the extractor turns them into gte/lte/gt/lt); untyped conditions are shown as
需人工确认 and never change the status; an expired programme is never eligible.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from pydantic import BaseModel, Field
from sqlalchemy import func, select

from app.facts.extract import Condition, PolicyItem, Window
from zhtext.validity import cn_date, in_force

ELIGIBLE, POSSIBLE, INELIGIBLE = "eligible", "possible", "ineligible"
STATUS_ORDER = {ELIGIBLE: 0, POSSIBLE: 1, INELIGIBLE: 2}
STATUS_CN = {ELIGIBLE: "符合条件", POSSIBLE: "可能符合", INELIGIBLE: "暂不符合"}

KUNSHAN_DISTRICTS = ("玉山镇", "巴城镇", "周市镇", "陆家镇", "花桥镇", "花桥经济开发区", "张浦镇", "千灯镇",
                     "淀山湖镇", "周庄镇", "锦溪镇", "昆山开发区", "昆山高新区", "昆山市")
SUZHOU_OTHER = ("苏州工业园区", "苏州高新区", "虎丘区", "吴中区", "相城区", "姑苏区", "吴江区", "常熟市",
                "张家港市", "太仓市", "苏州市")
# GB/T 4754-2017 门类
INDUSTRIES = (
    "A 农、林、牧、渔业", "B 采矿业", "C 制造业", "D 电力、热力、燃气及水生产和供应业", "E 建筑业",
    "F 批发和零售业", "G 交通运输、仓储和邮政业", "H 住宿和餐饮业", "I 信息传输、软件和信息技术服务业",
    "J 金融业", "K 房地产业", "L 租赁和商务服务业", "M 科学研究和技术服务业", "N 水利、环境和公共设施管理业",
    "O 居民服务、修理和其他服务业", "P 教育", "Q 卫生和社会工作", "R 文化、体育和娱乐业",
    "S 公共管理、社会保障和社会组织", "T 国际组织",
)
ENTERPRISE_TYPES = ("规上工业", "高新技术企业", "专精特新", "小巨人", "创新型中小企业", "科技型中小企业", "外资",
                    "总部企业")
EVENTS = ("首次认定", "重新认定", "新引进", "招用高校毕业生", "招用就业困难人员", "购置设备", "拿地", "引进人才",
          "首台套认定", "首次升规", "研发费用增长", "首次申报研发费用加计扣除", "创新联合体认定", "研发机构认定",
          "智能制造示范认定", "购买科技成果", "获得智改贷款", "首次获得科技贷款", "入选高企培育库", "入驻标准厂房")

FIELD_CN = {"region": "所在地", "industry": "行业", "enterprise_type": "企业类型", "event": "事项",
            "revenue_wan": "上年营业收入", "rd_expense_wan": "研发费用", "rd_ratio": "研发费用占营业收入比重",
            "investment_wan": "投资额", "employees": "员工数", "years_established": "成立年限", "land_mu": "用地面积"}
PROFILE_FIELD = {"region": "district", "industry": "industry", "enterprise_type": "enterprise_types",
                 "event": "events", "revenue_wan": "revenue_wan", "rd_expense_wan": "rd_expense_wan",
                 "investment_wan": "equipment_investment_wan", "employees": "employees",
                 "years_established": "founded_year", "land_mu": "land_mu"}
OP_CN = {"gte": "不低于", "gt": "超过", "lte": "不超过", "lt": "低于", "eq": "为", "in": "属于", "has": "具备"}
UNIT = {"revenue_wan": "万元", "rd_expense_wan": "万元", "investment_wan": "万元", "employees": "人",
        "years_established": "年", "land_mu": "亩", "rd_ratio": ""}


class CompanyProfile(BaseModel):
    """企业画像 / company profile. Every field is optional: a field left out is "unknown" (the item
    becomes 可能符合), a list that is given is complete. Nothing personal is asked for or kept."""

    district: str | None = Field(None, max_length=40, description=(
        "所在区镇，如 玉山镇、花桥镇、昆山开发区；昆山以外填所在区县，如 苏州工业园区 / "
        "District or town of registration (e.g. 玉山镇); outside Kunshan the district or city"),
        examples=["玉山镇"])
    industry: str | None = Field(None, max_length=40, description=(
        "行业（国民经济行业分类 GB/T 4754 门类，字母+名称，如 \"C 制造业\"，只比较字母） / "
        "Industry: GB/T 4754 section letter and name, compared on the letter"), examples=["C 制造业"])
    enterprise_types: list[str] | None = Field(None, max_length=20, description=(
        "企业类型/资质（可多选）：" + "、".join(ENTERPRISE_TYPES) + "；给出即视为完整 / "
        "Enterprise types and recognitions held (multi-select; a given list is complete)"),
        examples=[["规上工业", "高新技术企业"]])
    revenue_wan: float | None = Field(None, ge=0, le=1e9, description="上年营业收入（万元） / Last year's revenue, 10k CNY")
    rd_expense_wan: float | None = Field(None, ge=0, le=1e9, description="上年研发费用（万元） / Last year's R&D expense, 10k CNY")
    employees: int | None = Field(None, ge=0, le=10_000_000, description="员工数（人） / Number of employees")
    founded_year: int | None = Field(None, ge=1900, le=2100, description=(
        "成立年份；成立年限 = 今年 − 成立年份 / Year founded; company age = this year − founded_year"))
    events: list[str] | None = Field(None, max_length=40, description=(
        "已发生或计划中的事项（可多选）：" + "、".join(EVENTS) + "；给出即视为完整 / "
        "Events done or planned (e.g. 招用高校毕业生, 购置设备, 拿地); a given list is complete"),
        examples=[["购置设备", "招用高校毕业生"]])
    equipment_investment_wan: float | None = Field(None, ge=0, le=1e9, description=(
        "设备（含软件）投资额（万元），用于技改、投资额类条件 / Equipment and software investment, 10k CNY"))
    land_mu: float | None = Field(None, ge=0, le=1e7, description="拟用地/已用地面积（亩） / Land area, mu")

    def known(self) -> list[str]:
        return [k for k, v in self.model_dump().items() if v is not None]


@dataclass
class ConditionResult:
    text: str
    met: bool | None
    why: str
    field: str | None = None


@dataclass
class Match:
    item: PolicyItem
    title: str
    status: str
    _conditions: list[ConditionResult] | Callable[[], list[ConditionResult]]
    expired: bool = False
    expires: dt.date | None = None
    opens: dt.date | None = None       # the window's next (or current) opening
    closes: dt.date | None = None      # its closing date

    @property
    def conditions(self) -> list[ConditionResult]:
        """Each condition met / failed / unknown with its reason (worded only when asked for)."""
        if callable(self._conditions):
            self._conditions = self._conditions()
        return self._conditions

    @property
    def url(self) -> str:
        return f"/documents/{self.item.doc_id}" + (f"#chunk-{self.item.chunk_id}" if self.item.chunk_id else "")

    def to_dict(self, today: dt.date | None = None) -> dict[str, Any]:
        i = self.item
        out = {
            "item_id": i.item_id, "doc_id": i.doc_id, "title": self.title, "article": i.article,
            "programme": i.programme, "benefit": i.benefit, "amount_text": i.amount_text,
            "amount_max_wan": i.amount_max_wan, "ratio": i.ratio,
            "window": {"start": self.opens.isoformat() if self.opens else i.window.start,
                       "end": self.closes.isoformat() if self.closes else i.window.end,
                       "text": i.window.text, "recurring": i.window.recurring},
            "status": self.status, "status_text": STATUS_CN[self.status],
            "conditions": [{"text": c.text, "met": c.met, "why": c.why} for c in self.conditions],
            "department": i.department, "materials": i.materials,
            "expires": self.expires.isoformat() if self.expires else None, "expired": self.expired,
            "chunk_id": i.chunk_id, "url": self.url,
        }
        if today and self.closes and self.opens and self.opens <= today <= self.closes:
            out["days_left"] = (self.closes - today).days
        return out


def _num(value: float) -> str:
    return f"{value:g}"


def _describe(cond: Condition) -> str:
    """A typed condition in words, for the 'why'."""
    name = FIELD_CN.get(cond.field or "", cond.field or "")
    values = cond.value if isinstance(cond.value, list) else [cond.value]
    if cond.field == "rd_ratio":
        return f"{name}{OP_CN.get(cond.op or '', '')}{_num(float(cond.value) * 100)}%"
    if cond.field in UNIT:
        return f"{name}{OP_CN.get(cond.op or '', '')}{_num(float(cond.value))}{UNIT[cond.field]}"
    return f"{name}{'为' if cond.field in ('region', 'industry') else '：'}{'或'.join(str(v) for v in values)}"


def in_region(district: str, region: str) -> bool:
    district = district.strip()
    if region == "昆山":
        return district in KUNSHAN_DISTRICTS or district.startswith("昆山")
    if region == "苏州":
        return in_region(district, "昆山") or district in SUZHOU_OTHER or district.startswith("苏州")
    return district == region or district.rstrip("镇区") == region.rstrip("镇区")


def profile_value(profile: CompanyProfile, field_name: str, today: dt.date) -> Any:
    if field_name == "rd_ratio":
        rd, revenue = profile.rd_expense_wan, profile.revenue_wan
        return None if rd is None or not revenue else rd / revenue
    if field_name == "years_established":
        return None if profile.founded_year is None else today.year - profile.founded_year
    attr = PROFILE_FIELD.get(field_name)
    return getattr(profile, attr) if attr else None


def evaluate(profile: CompanyProfile, cond: Condition, today: dt.date) -> ConditionResult:
    """One condition: met / failed / unknown, with the reason in Chinese."""
    if not cond.field:
        return ConditionResult(cond.text, None, "需人工确认：该条件无法自动判断，请对照原文核实", None)
    need = _describe(cond)
    have = profile_value(profile, cond.field, today)
    if have is None:
        return ConditionResult(cond.text, None, f"要求{need}；您未填写{FIELD_CN.get(cond.field, cond.field)}", cond.field)
    values = cond.value if isinstance(cond.value, list) else [cond.value]
    if cond.field == "region":
        met = any(in_region(str(have), str(v)) for v in values)
        why = f"要求{need}，您在{have}"
    elif cond.field == "industry":
        letter = str(have).strip()[:1].upper()
        met = letter in {str(v).strip()[:1].upper() for v in values}
        why = f"要求{need}，您的行业为{have}"
    elif cond.field in ("enterprise_type", "event"):
        met = any(v in have for v in values)
        what = "企业类型" if cond.field == "enterprise_type" else "事项"
        why = f"要求{need}，" + (f"您已具备{'、'.join(v for v in values if v in have)}" if met else
                                f"您填写的{what}中没有{'或'.join(map(str, values))}")
    else:
        try:
            a, b = float(have), float(cond.value)
        except (TypeError, ValueError):
            return ConditionResult(cond.text, None, f"要求{need}；无法比较，需人工确认", cond.field)
        met = {"gte": a >= b, "gt": a > b, "lte": a <= b, "lt": a < b, "eq": a == b}.get(cond.op or "gte", a >= b)
        shown = f"{_num(round(a * 100, 2))}%" if cond.field == "rd_ratio" else f"{_num(round(a, 2))}{UNIT.get(cond.field, '')}"
        why = f"要求{need}，您为{shown}"
    return ConditionResult(cond.text, bool(met), ("✓ " if met else "✗ ") + why, cond.field)


def _profile_values(profile: CompanyProfile, today: dt.date) -> dict[str, Any]:
    return {name: profile_value(profile, name, today) for name in FIELD_CN}


def _compile(cond: Condition) -> tuple | None:
    """A typed condition ready for fast checks: (field, op, values, number)."""
    if not cond.field:
        return None
    values = cond.value if isinstance(cond.value, list) else [cond.value]
    try:
        number = float(cond.value) if cond.field not in ("region", "industry", "enterprise_type", "event") else None
    except (TypeError, ValueError):
        number = None
    if cond.field == "industry":
        values = [str(v).strip()[:1].upper() for v in values]
    return (cond.field, cond.op or "gte", tuple(str(v) for v in values), number)


def _met(values: dict[str, Any], compiled: tuple) -> bool | None:
    field_name, op, wanted, number = compiled
    have = values.get(field_name)
    if have is None:
        return None
    if field_name == "region":
        return any(in_region(str(have), v) for v in wanted)
    if field_name == "industry":
        return str(have).strip()[:1].upper() in wanted
    if field_name in ("enterprise_type", "event"):
        return any(v in have for v in wanted)
    if number is None:
        return None
    a = float(have)
    return a >= number if op == "gte" else a > number if op == "gt" else a <= number if op == "lte" else \
        a < number if op == "lt" else a == number


def window_dates(window: Window, today: dt.date) -> tuple[dt.date | None, dt.date | None]:
    """(opens, closes) of the current or next application window; a yearly window that closed this
    year gives next year's dates."""
    if window.recurring:
        this = window.dates(today.year)
        if this and this[1] < today:
            return window.dates(today.year + 1) or (None, None)
        return this or (None, None)
    start = dt.date.fromisoformat(window.start) if window.start else None
    end = dt.date.fromisoformat(window.end) if window.end else None
    return start, end


def _occurrences(window: Window, years: range) -> list[tuple[dt.date | None, dt.date | None]]:
    if window.recurring:
        return [d for y in years for d in [window.dates(y)] if d]
    if window.start or window.end:
        return [(dt.date.fromisoformat(window.start) if window.start else None,
                 dt.date.fromisoformat(window.end) if window.end else None)]
    return []


@dataclass
class _Live:
    key: tuple
    items: list[tuple[PolicyItem, Any]] = field(default_factory=list)
    at: float = 0.0
    compiled: dict[str, list[tuple | None]] = field(default_factory=dict)
    windows: dict[tuple[str, dt.date], tuple[dt.date | None, dt.date | None]] = field(default_factory=dict)


class Matcher:
    """Matches profiles against the items of the versions being served.

    The live items are cached and reloaded when the index generation or the facts table moved
    (two cheap SQL reads per call), so every worker sees a staff review or a new version at once.
    """

    def __init__(self, facts, registry, clock: Callable[[], dt.date] = dt.date.today, *, recheck_seconds: float = 2.0):
        self.facts = facts
        self.registry = registry
        self.clock = clock
        self.recheck_seconds = recheck_seconds  # another worker's review or activation shows within this
        self._lock = threading.Lock()
        self._live = _Live(key=())
        self._checked = 0.0

    def _stamp(self) -> tuple:
        from app.facts.store import PolicyItemRow

        with self.facts._sessions() as session:
            count, reviewed, created = session.execute(select(
                func.count(PolicyItemRow.item_id), func.max(PolicyItemRow.reviewed_at),
                func.max(PolicyItemRow.created_at))).one()
        return (self.registry.generation(), count, str(reviewed), str(created))

    def invalidate(self) -> None:
        self._live = _Live(key=())
        self._checked = 0.0

    def live(self) -> list[tuple[PolicyItem, Any]]:
        """[(item, ServedVersion)] of every live item."""
        if self._live.key and time.monotonic() - self._checked < self.recheck_seconds:
            return self._live.items
        key = self._stamp()
        self._checked = time.monotonic()
        if key == self._live.key:
            return self._live.items
        with self._lock:
            if key != self._live.key:
                served = self.registry.serving_versions()
                items = [(i, served[i.doc_id]) for i in self.facts.live_items(served)]
                self._live = _Live(key=key, items=items, at=time.monotonic(),
                                   compiled={i.item_id: [_compile(c) for c in i.conditions] for i, _ in items})
        return self._live.items

    def _window(self, item: PolicyItem, today: dt.date) -> tuple[dt.date | None, dt.date | None]:
        cache = self._live.windows
        key = (item.item_id, today)
        if key not in cache:
            if len(cache) > 100_000:
                cache.clear()
            cache[key] = window_dates(item.window, today)
        return cache[key]

    def match_item(self, profile: CompanyProfile, item: PolicyItem, version: Any, today: dt.date,
                   values: dict[str, Any] | None = None) -> Match:
        values = values if values is not None else _profile_values(profile, today)
        compiled = self._live.compiled.get(item.item_id) if self._live.compiled else None
        if compiled is None or len(compiled) != len(item.conditions):
            compiled = [_compile(c) for c in item.conditions]
        mets = [_met(values, c) for c in compiled if c is not None]
        expired = not in_force(getattr(version, "expires", None), today)
        status = INELIGIBLE if expired or False in mets else POSSIBLE if None in mets else ELIGIBLE
        opens, closes = self._window(item, today)
        return self._lazy(profile, item, version, today, status, opens, closes)

    def _rank(self, profile: CompanyProfile, today: dt.date, items: list[tuple[PolicyItem, Any]] | None):
        """(rows sorted best first, the live list they index): one pass over every item."""
        values = _profile_values(profile, today)
        live = items or self.live()
        compiled = self._live.compiled if items is None else {}
        far = dt.date.max
        ranked = []
        memo: dict[tuple, bool | None] = {}  # the profile is fixed: a condition's result is too
        for n, (item, version) in enumerate(live):
            conds = compiled.get(item.item_id)
            if conds is None:
                conds = [_compile(c) for c in item.conditions]
            if not in_force(getattr(version, "expires", None), today):
                status = INELIGIBLE
            else:
                status = ELIGIBLE
                for c in conds:
                    if c is None:
                        continue
                    met = memo[c] if c in memo else memo.setdefault(c, _met(values, c))
                    if met is False:
                        status = INELIGIBLE
                        break
                    if met is None:
                        status = POSSIBLE
            opens, closes = self._window(item, today)
            ranked.append((STATUS_ORDER[status], -(item.amount_max_wan or 0),
                           closes if closes and closes >= today else far, item.doc_id, item.article, n, status,
                           opens, closes))
        ranked.sort()
        return ranked, live

    def match(self, profile: CompanyProfile, *, today: dt.date | None = None,
              items: list[tuple[PolicyItem, Any]] | None = None) -> list[Match]:
        """Every item with its status, best first (conditions worded when read)."""
        today = today or self.clock()
        ranked, live = self._rank(profile, today, items)
        return [self._lazy(profile, live[n][0], live[n][1], today, status, opens, closes)
                for *_, n, status, opens, closes in ranked]

    def top(self, profile: CompanyProfile, *, today: dt.date | None = None, limit: int = 100,
            statuses: set[str] | None = None) -> tuple[dict[str, int], list[Match]]:
        """Counts per status over every item, and the first ``limit`` matches (of ``statuses``)."""
        today = today or self.clock()
        ranked, live = self._rank(profile, today, None)
        counts = {s: 0 for s in STATUS_ORDER}
        for row in ranked:
            counts[row[6]] += 1
        chosen = [row for row in ranked if not statuses or row[6] in statuses][:limit]
        return counts, [self._lazy(profile, live[n][0], live[n][1], today, status, opens, closes)
                        for *_, n, status, opens, closes in chosen]

    def _lazy(self, profile, item, version, today, status, opens, closes) -> Match:
        expires = getattr(version, "expires", None)
        expired = not in_force(expires, today)

        def worded() -> list[ConditionResult]:
            results = [evaluate(profile, c, today) for c in item.conditions]
            if expired:
                results.insert(0, ConditionResult(
                    f"政策有效期至{expires.isoformat()}", False,
                    f"✗ 该政策已于{cn_date(expires)}到期失效，不能再申报", None))
            return results

        return Match(item, getattr(version, "title", "") or item.programme, status, worded, expired, expires,
                     opens, closes)

    def calendar(self, start: dt.date, end: dt.date, *, today: dt.date | None = None) -> list[dict[str, Any]]:
        """Items whose application window opens or closes between start and end (inclusive)."""
        today = today or self.clock()
        out = []
        for item, version in self.live():
            if not in_force(getattr(version, "expires", None), max(start, today)):
                continue
            for opens, closes in _occurrences(item.window, range(start.year, end.year + 1)):
                hits = [d for d in (opens, closes) if d and start <= d <= end]
                if not hits:
                    continue
                days = (closes - today).days if closes else None
                countdown = (f"距截止还有{days}天" if days > 0 else "今天截止" if days == 0 else "已截止") if days is not None else ""
                if opens and opens > today:
                    countdown = f"{opens.month}月{opens.day}日开始申报" + (f"，{countdown}" if countdown else "")
                out.append({
                    "item_id": item.item_id, "doc_id": item.doc_id, "title": getattr(version, "title", ""),
                    "article": item.article, "programme": item.programme, "benefit": item.benefit,
                    "amount_text": item.amount_text, "amount_max_wan": item.amount_max_wan,
                    "window": {"start": opens.isoformat() if opens else None,
                               "end": closes.isoformat() if closes else None, "text": item.window.text},
                    "opens_in_range": bool(opens and start <= opens <= end),
                    "closes_in_range": bool(closes and start <= closes <= end),
                    "days_left": days, "countdown": countdown, "department": item.department,
                    "url": f"/documents/{item.doc_id}" + (f"#chunk-{item.chunk_id}" if item.chunk_id else ""),
                })
        out.sort(key=lambda e: (e["window"]["end"] or "9999", e["window"]["start"] or "", e["doc_id"], e["article"]))
        return out

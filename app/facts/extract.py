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
from zhtext.clauses import CLAUSE_MARK

_GRANT = re.compile(r"给予|奖励|补贴|补助|资助|贴息|支持|返还|发放|奖补")
_MONEY = re.compile(r"(\d+(?:\.\d+)?)\s*(万|亿|千)?\s*元")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")
_CAP = re.compile(r"(?:最高|不超过|上限为?|封顶)\s*(?:不超过)?\s*(\d+(?:\.\d+)?)\s*(万|亿)?\s*元")
_YEARLY = re.compile(r"每年\s*(\d{1,2})\s*月\s*(\d{1,2})?\s*日?\s*(?:至|到|—|-|~)\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_DATED = re.compile(r"(20\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*(?:至|到|—|-|~)\s*(?:(20\d{2})\s*年)?\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_DEADLINE = re.compile(r"(20\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*(?:前|之前|截止)")
_SUBMIT_TO = re.compile(r"向([^，。；、]{2,30}?)(?:提交|申请|申报|报送|提出)")
_MONTHLY = re.compile(r"每年\s*(\d{1,2})\s*月(?:份)?(?:集中|统一)?(?:申报|受理|组织申报)")
_EXEMPT = re.compile(r"实行\W?免申即享|免申即享\W?[，,]?\s*无需申请|企业无需提交申请")
_GRANT_VERB = r"(?:给予|予以|奖励|补贴|补助|资助|贴息|奖补|返还|发放)"
_FIGURE = r"(?:\d+(?:\.\d+)?\s*(?:万|亿|千)?元|\d+(?:\.\d+)?\s*%)"
# A grant and its figure in one phrase: 给予一次性奖励10万元, 按投入额的20%给予补助.
_GRANTS_FIGURE = re.compile(_GRANT_VERB + r"[^，。；;\n]*?" + _FIGURE + "|" + _FIGURE + r"[^，。；;\n]*?" + _GRANT_VERB
                            + r"|按[^，。；;\n]{0,30}(?:给予|予以|计算)")
_BASIS = re.compile(r"按.{0,12}(?:系数|实际缴纳|实际发生|实际支付).{0,40}(?:给予|计算)")
_CONDITIONAL = re.compile(r"^(?:\d{1,2}[.、．]|[（(][一二三四五六七八九十]{1,3}[)）])?\s*(?:申请|申报|申领)[^，。；]{1,8}的[，,]")
_SCOPE_HEADING = re.compile(r"适用范围|支持范围|支持对象|申报对象|适用对象|申领条件|申请条件|申报条件|基本条件")
_DEPT = re.compile(r"受理部门(?:为|是|[:：])\s*([^，。；\n]{2,40})")

def _named(table: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """``name: regex`` lines (the regex may hold any character but a newline) as (name, pattern)."""
    rows = (line.split(": ", 1) for line in table.strip().splitlines())
    return tuple((name.strip(), re.compile(pattern.strip())) for name, pattern in rows)


# Benefit types, most specific first.
BENEFITS = _named(r"""
贴息: 贴息
用地: 用地|供地|土地|厂房
人才: 人才|安家|购房|租房|生活补贴|毕业生
资质认定: 认定|评定|入库
补贴: 补贴|补助|返还
奖励: 奖励|奖补|资助|支持
""")

ENTERPRISE_TYPES = _named(r"""
规上工业: 规模以上工业|规上工业|规上企业|首次升规
高新技术企业: 高新技术企业(?!培育)|高企(?!培育)
小巨人: 小巨人
专精特新: 专精特新
创新型中小企业: 创新型中小企业
科技型中小企业: 科技型中小企业
外资: 外资|外商投资
总部企业: 总部企业|总部
""")
# "科技型企业" names either recognition: any of them qualifies.
_TYPE_GROUPS = ((re.compile(r"科技型企业"), ["高新技术企业", "科技型中小企业"]),)
EVENTS = _named(r"""
首次认定: 首次(?:被)?(?:认定|入库|评为|入选|通过)|新认定为
重新认定: 重新(?:通过)?认定
新引进: 新引进|新落户|整体迁入
招用高校毕业生: (?:招用|吸纳).{0,20}毕业生|高校应届毕业生|应届高校毕业生
招用就业困难人员: 招用.{0,6}就业困难人员
购置设备: 设备(?:（含配套软件）|和软件)?(?:投入|购置)|(?:购置|采购).{0,6}设备|新增设备投资
拿地: 竞得|拿地|取得.{0,6}土地
研发费用增长: 研发费用.{0,40}增长
首台套认定: 首台（套）|首台套
首次升规: 首次(?:升规|纳入规模以上)|小升规
首次申报研发费用加计扣除: 首次申报研发费用加计扣除
创新联合体认定: (?<!鼓励组建)创新联合体
研发机构认定: 研发机构|企业技术中心|工程技术研究中心
智能制造示范认定: 智能制造示范|示范(?:工厂|车间)|智能(?:工厂|车间)
购买科技成果: 购买.{0,12}科技成果|科技成果.{0,4}转化
获得智改贷款: (?:智能化改造|智改)[^。；]{0,30}贷款
首次获得科技贷款: 首次获得科技贷款
入选高企培育库: 高新技术企业培育库|高企培育库
入驻标准厂房: 入驻.{0,12}标准厂房
引进人才: 引进.{0,10}人才|人才(?:集聚|计划|引进)|领军人才|人才在昆|的人才
""")
# Events a grant's basis implies (按设备购置额的20%, 按贷款额的1%贴息).
_BASIS_EVENTS = (("购置设备", re.compile(r"设备(?:购置|投入)额")), ("获得智改贷款", re.compile(r"按贷款额")))
_INDUSTRY = (
    (re.compile(r"制造(?:业)?企业"), "eq", "C 制造业"),
    (re.compile(r"(?<!规模以上)(?<!规上)工业企业"), "in",
     ["B 采矿业", "C 制造业", "D 电力、热力、燃气及水生产和供应业"]),
)
# Threshold fields: the words that name them; the figure follows within a few characters.
_FIELD_WORDS = (
    ("rd_ratio", r"(?:研发(?:费用|投入))?占(?:营业收入|销售收入|主营业务收入)(?:总额)?(?:的)?(?:比重|比例)?"),
    ("revenue_wan", r"(?:营业收入|营收|销售收入|主营业务收入)"),
    ("rd_expense_wan", r"研发(?:费用|投入)(?!占)"),
    ("investment_wan", r"(?:设备(?:（含配套软件）|和软件)?(?:和软件)?投入|设备投资额?|年度投入|投资额|总投资)"),
    ("employees", r"(?<!参保)(?<!研发)(?:职工|员工|从业人员)(?:总数|人数)?"),
    ("land_mu", r"(?:用地|面积)"),
)
_UNITS = {"rd_ratio": ("%",), "revenue_wan": ("万元", "亿元"), "rd_expense_wan": ("万元", "亿元"),
          "investment_wan": ("万元", "亿元"), "employees": ("人",), "land_mu": ("亩",)}
_CMP = (r"(?P<pre>不低于|不少于|达到|超过|突破|高于|大于|不超过|不高于|低于|少于|不足|不满|在)?\s*"
        r"(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>万元|亿元|%|人|亩)(?P<list>(?:、\d+(?:\.\d+)?(?:万|亿)?元)*)"
        r"(?P<post>（含）以上|（含）以下|及以上|及以下|以上|以下)?")
_THRESHOLD = [(name, re.compile(words + r"[^，。；、\d%]{0,12}?" + _CMP)) for name, words in _FIELD_WORDS]
_RANGE_END = re.compile(r"^\s*、?\s*(?:且)?\s*(?P<num>\d+(?:\.\d+)?)\s*(?P<unit>万元|亿元|%|人|亩)(?P<post>（含）以下|及以下|以下)")
_YEARS = re.compile(r"成立(?:时间)?(?:(?P<lt>不满|不足|未满|少于)|(?P<ge>满|超过|达到))\s*(?P<num>\d+)\s*年")
_OPS_PRE = {"不低于": "gte", "不少于": "gte", "达到": "gte", "在": "gte", "超过": "gt", "突破": "gt", "高于": "gt",
            "大于": "gt", "不超过": "lte", "不高于": "lte", "低于": "lt", "少于": "lt", "不足": "lt", "不满": "lt"}


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
    for tail in re.findall(r"(?:最高|不超过|上限为?|封顶)\s*\d+(?:\.\d+)?\s*(?:万|亿)?\s*元((?:、\d+(?:\.\d+)?(?:万|亿)?元)+)", joined):
        caps += [_wan(n, u) for n, u in re.findall(r"(\d+(?:\.\d+)?)(万|亿)?元", tail)]  # 最高100万元、300万元、500万元
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
        start = f"{int(y):04d}-01-01" if re.search(r"常年受理", text) else None  # 常年受理，…12月15日前提交
        return Window(text=m.group(0), start=start, end=dt.date(int(y), int(mo), int(d)).isoformat())
    if m := _MONTHLY.search(text):
        month = int(m.group(1))
        last = (dt.date(2001 + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
        return Window(text=m.group(0), recurring=f"{month:02d}-01/{month:02d}-{last:02d}")
    if re.search(r"常年受理|随时申报|随时受理", text):
        return Window(text="常年受理", recurring="01-01/12-31")
    return None


def item_windows(text: str) -> dict[str, Window]:
    """Windows a schedule gives to numbered items: 第（二）、（三）项于2026年3月1日至4月30日申报."""
    out: dict[str, Window] = {}
    for segment in re.split(r"[；;。\n]", text):
        refs = re.findall(r"(?:第|、|和)（([一二三四五六七八九十]{1,3})）(?=[、项和])", segment)
        if refs and (w := window_of(segment)):
            for ref in refs:
                out.setdefault(f"（{ref}）", w)
    return out


def department_of(text: str) -> str | None:
    if m := _DEPT.search(text):
        return m.group(1).strip()
    if m := _SUBMIT_TO.search(text):
        return m.group(1).strip()
    return None


def condition_part(text: str) -> str:
    """What a granting clause asks of the company: the words before its grant (…的，给予…)."""
    out = ""
    for part in re.split(r"(?<=[，,；;])", text):
        if re.search(r"的[，,]$", part):
            return out + part
        if _GRANTS_FIGURE.search(part):
            break
        out += part
    return out


def _money_value(number: str, unit: str) -> float:
    return float(number) / 100 if unit == "%" else float(number) * 10000 if unit == "亿元" else float(number)


def _thresholds(text: str) -> list[Condition]:
    """营收/研发费用/占比/投资额/员工/用地 thresholds with their operator (以上/以下 include the
    figure, 超过/不满 do not); a range (10人以上50人以下) gives two; a list (突破100亿元、50亿元)
    gives the lowest figure that qualifies."""
    out: list[Condition] = []
    for name, pattern in _THRESHOLD:
        for m in pattern.finditer(text):
            if m.group("unit") not in _UNITS[name]:
                continue
            post, pre = m.group("post") or "", m.group("pre") or ""
            op = ("gte" if "以上" in post else "lte" if "以下" in post else _OPS_PRE.get(pre, "gte"))
            values = [_money_value(m.group("num"), m.group("unit"))]
            for n, u in re.findall(r"(\d+(?:\.\d+)?)(万|亿)?元", m.group("list") or ""):
                values.append(float(n) * (10000 if u == "亿" else 1 if u == "万" else 0.0001))
            value = min(values) if op in ("gt", "gte") else max(values)
            out.append(Condition(m.group(0), name, op, round(value, 4)))
            if (end := _RANGE_END.match(text[m.end():])) and end.group("unit") in _UNITS[name]:
                out.append(Condition(m.group(0) + end.group(0), name, "lte",
                                     round(_money_value(end.group("num"), end.group("unit")), 4)))
            break
    for m in _YEARS.finditer(text):
        out.append(Condition(m.group(0), "years_established", "lt" if m.group("lt") else "gte" if m.group("ge") != "超过" else "gt",
                             float(m.group("num"))))
        break
    return out


def _types(text: str) -> list[Condition]:
    """Enterprise types a text requires: a list joined by 、/和/或 is any-of (in), separate ones all-of."""
    found: list[tuple[int, int, str]] = []
    for name, pattern in ENTERPRISE_TYPES:
        for m in pattern.finditer(text):
            if re.search(r"不(?:属于|是|含)$", text[max(0, m.start() - 4):m.start()]):
                continue
            after = text[m.end():m.end() + 6]
            # 规模以上工业企业或当年新投产工业企业: an alternative that is not a type — not required.
            if re.match(r"^(?:企业|证书)[，,]?或", after) and not any(
                    p.search(text[m.end():m.end() + 20]) for n, p in ENTERPRISE_TYPES if n != name):
                continue
            found.append((m.start(), m.end(), name))
            break
    for pattern, names in _TYPE_GROUPS:
        if m := pattern.search(text):
            return [Condition(m.group(0), "enterprise_type", "in", names)]
    found.sort()
    names = list(dict.fromkeys(n for _, _, n in found))
    if "小巨人" in names and "专精特新" in names:
        names.remove("专精特新")
        found = [f for f in found if f[2] != "专精特新"]
    if len(found) >= 2 and all(re.fullmatch(r"[、和及或与/\s]*", text[a[1]:b[0]].replace("企业", ""))
                               for a, b in zip(found, found[1:])):
        return [Condition(text[found[0][0]:found[-1][1]], "enterprise_type", "in", names)]
    return [Condition(text[a:b], "enterprise_type", "has", n) for a, b, n in found if n in names]


def _industry(text: str) -> list[Condition]:
    for pattern, op, value in _INDUSTRY:
        if m := pattern.search(text):
            return [Condition(m.group(0), "industry", op, value)]
    return []


def conditions_of(text: str, *, region_hint: str | None = None, granting: bool = False) -> list[Condition]:
    """Typed conditions a text states. For a granting clause (``granting``) only the words before
    the grant count (a bonus tier after it — 营业收入超过50亿元的，奖励提高至 — is no condition),
    plus the events the grant's basis implies (按设备购置额的20%)."""
    scope = condition_part(text) if granting else text
    out: list[Condition] = _types(scope) + _industry(scope)
    events = {name: m.group(0) for name, pattern in EVENTS if (m := pattern.search(scope))}
    if granting:
        for name, pattern in _BASIS_EVENTS:
            if name not in events and (m := pattern.search(text[len(scope):])):
                events[name] = m.group(0)
    out += [Condition(said, "event", "has", name) for name, said in events.items()]
    if "首次升规" in events and not any(c.field == "enterprise_type" for c in out):
        out.append(Condition("首次升规", "enterprise_type", "has", "规上工业"))
    out += _thresholds(scope)
    if region_hint:
        out.append(Condition(f"在{region_hint}依法登记注册", "region", "eq", region_hint))
    return out


def _label(path: list[str]) -> str:
    """第三条（一）: the last two clause markers of the path, or the heading itself."""
    marks: list[str] = []
    for p in path:
        m = CLAUSE_MARK.match(p)
        if m and (not marks or marks[-1] != m.group(0)):
            marks.append(m.group(0))
    if marks:
        return "".join(marks[-2:])
    return path[-1][:20] if path else ""


def _region(doc_title: str, text: str) -> str | None:
    if doc_title.startswith(("昆山开发区", "昆山经济技术开发区")):
        return "昆山开发区"
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
            materials += [CLAUSE_MARK.sub("", ln).strip("；;。 ") for ln in lines[1:] if CLAUSE_MARK.match(ln)][:12]
        if sl.heading_states(heading, sl.CONDITIONS) or (lines and re.search(r"(?:申报|申请)条件", lines[0][:20])):
            for ln in lines[1:] if len(lines) > 1 else lines:
                typed = [] if _CONDITIONAL.match(ln) else conditions_of(ln)
                if re.search(r"可申请|可享受", ln):  # the scope of one programme (…的，可申请贴息奖励)
                    typed = [t for t in typed if t.field in ("region", "industry", "enterprise_type")]
                general += typed or [Condition(CLAUSE_MARK.sub("", ln).strip("；;。 ")[:80])]
        elif _SCOPE_HEADING.search(heading) and not _granting_units(c):
            general += [t for ln in lines for t in conditions_of(ln)  # 适用范围 / 支持范围: who, not what for
                        if t.field in ("region", "industry", "enterprise_type")]
        for sentence in re.split(r"[。\n]", c.text):  # 本办法适用于…的规模以上工业企业、高新技术企业…
            if "适用于" in sentence and "所称" not in sentence:
                general += conditions_of(sentence)
    general = list({(g.field, g.op, str(g.value), g.text if g.field is None else ""): g for g in general}.values())
    scheduled = item_windows(full)
    items: list[PolicyItem] = []
    seen: set[str] = set()
    previous: PolicyItem | None = None
    previous_section = ""
    sections: dict[str, str] = {}
    for c in clauses:
        if key := _section(c.path):
            sections[key] = sections.get(key, "") + "\n" + c.text
    for c in clauses:
        units = _granting_units(c)
        for path, text in units:
            if "累计" in text and not re.search(r"给予|予以|资助|奖励\s*\d", text):
                continue  # 同一年度累计补贴最高不超过1000万元: a cap on the items above, not an item
            amount_text, top, ratio = amounts(text)
            if top is None and ratio is None:
                if not (basis := _BASIS.search(text)):
                    continue
                amount_text = re.split(r"[。；]", text[basis.start():])[0][:80]
            label = _label(path)
            if label in seen:
                label = _label(path[-3:]) if len(path) >= 3 else f"{label}·{len(items) + 1}"
            seen.add(label)
            heading = path[-1] if path else title
            own = conditions_of(text, granting=True)
            if previous is not None and "提高至" in text and previous_section == _section(path):
                # （二）…补贴比例提高至10%: the tier above keeps the conditions of the item it raises.
                own += [p for p in previous.conditions if p.field in _UNITS or p.field == "event"
                        if (p.field, p.op) not in {(o.field, o.op) for o in own}]
            whole = {"region", "industry", "enterprise_type"}
            conditions = own + [g for g in general
                                if not (g.field in whole and any(o.field == g.field for o in own))
                                and (g.field, g.op, str(g.value)) not in {(o.field, o.op, str(o.value)) for o in own}]
            if region and not any(x.field == "region" for x in conditions):
                conditions.insert(0, Condition(f"在{region}依法登记注册", "region", "eq", region))
            benefit = next((name for name, p in BENEFITS if p.search(text)), "奖励")
            key = f"{doc_id}#{label}"
            items.append(PolicyItem(
                item_id=hashlib.sha1(f"{key}|{content_hash}".encode()).hexdigest()[:16], doc_id=doc_id,
                content_hash=content_hash, article=label, chunk_id=c.chunk_id,
                programme=re.split(r"[。：:，,]", CLAUSE_MARK.sub("", heading).strip())[0][:40] or title,
                benefit=benefit, amount_text=amount_text, amount_max_wan=top, ratio=ratio,
                window=_item_window(text, label, sections.get(_section(c.path), c.text), scheduled, window), department=department_of(text) or department,
                materials=materials, conditions=conditions, text=text[:400]))
            previous, previous_section = items[-1], _section(path)
    if not items and (scoped := _scope_item(doc_id, content_hash, title, clauses, general, region, window,
                                             department, materials)):
        items.append(scoped)
    return items


def _scope_item(doc_id: str, content_hash: str, title: str, clauses: list[Clause], general: list[Condition],
                region: str | None, window: Window, department: str | None, materials: list[str]) -> PolicyItem | None:
    """A document that grants land or a recognition without a sum (分期供地, 标准地, 专精特新认定):
    one item from the scope or conditions section with the most typed thresholds."""
    if not re.search(r"用地|供地|土地|标准地|认定|申报", title):
        return None
    sections: dict[str, list[Clause]] = {}
    for c in clauses:
        heading = " ".join(c.path[-2:])
        if (_SCOPE_HEADING.search(heading) or re.search(r"不单独供应|不予供应", c.text)) and not re.search(r"材料|清单", heading):
            sections.setdefault(c.path[0] if c.path else "", []).append(c)
    best: tuple[int, str, list[Condition], Clause] | None = None
    for name, group in sections.items():
        conds: list[Condition] = []
        for c in group:
            for ln in (ln.strip() for ln in c.text.split("\n") if ln.strip()):
                typed = conditions_of(ln)
                excluded = re.search(r"不足.{0,40}(?:项目|企业).{0,30}(?:不单独|不予)", ln)
                if re.search(r"或者|或(?!以上)", ln) and not excluded:
                    typed = [t for t in typed if t.field not in _UNITS]  # an alternative is not required
                if excluded:  # 不足10亩或者投资额不足5000万元的项目…不单独供应: both figures are needed
                    flip = {"lt": "gte", "lte": "gt", "gt": "lte", "gte": "lt"}
                    typed = [Condition(t.text, t.field, flip.get(t.op or "", t.op), t.value) if t.field in _UNITS else t
                             for t in typed]
                conds += [t for t in typed if (t.field, t.op, str(t.value)) not in {(x.field, x.op, str(x.value)) for x in conds}]
        score = sum(1 for t in conds if t.field in _UNITS)
        if score and (best is None or score > best[0]):
            best = (score, name, conds, group[0])
    if best is None:
        return None
    _, name, conds, first = best
    conds += [g for g in general if g.field in ("region", "industry") and g.field not in {x.field for x in conds}]
    if region and not any(x.field == "region" for x in conds):
        conds.insert(0, Condition(f"在{region}依法登记注册", "region", "eq", region))
    text = "\n".join(c.text for c in sections[name])
    label = _label(first.path[:1]) if first.path and CLAUSE_MARK.match(first.path[0]) else _label(first.path)
    benefit = "用地" if re.search(r"用地|供地|土地|标准地", title) else "资质认定"
    return PolicyItem(
        item_id=hashlib.sha1(f"{doc_id}#{label}|{content_hash}".encode()).hexdigest()[:16], doc_id=doc_id,
        content_hash=content_hash, article=label, chunk_id=first.chunk_id,
        programme=re.split(r"[。：:，,]", CLAUSE_MARK.sub("", first.path[0] if first.path else title).strip())[0][:40] or title,
        benefit=benefit, amount_text="", amount_max_wan=None, ratio=None, window=window, department=department,
        materials=materials, conditions=conds, text=text[:400])


def _section(path: list[str]) -> str:
    """The top numbered heading a clause sits under (一、失业保险稳岗返还), "" when none."""
    return next((p for p in path if CLAUSE_MARK.match(p)), "")


def _item_window(text: str, label: str, clause_text: str, scheduled: dict[str, Window], default: Window) -> Window:
    """The item's own window, else the schedule's for its number, else 免申即享, else the document's."""
    if own := window_of(text):
        return own
    marks = re.findall(r"[（(][一二三四五六七八九十]{1,3}[)）]", label)
    if marks and marks[-1].replace("(", "（").replace(")", "）") in scheduled:
        return scheduled[marks[-1].replace("(", "（").replace(")", "）")]
    if _EXEMPT.search(clause_text):
        return Window(text="免申即享，无需申请")
    return default


def _granting_units(clause: Clause) -> list[tuple[list[str], str]]:
    """The parts of a clause that grant something: its numbered lines, or the clause itself."""
    lines = [ln.strip() for ln in clause.text.split("\n") if ln.strip()]
    units: list[tuple[list[str], str]] = []
    own = CLAUSE_MARK.match(clause.path[-1]).group(0) if clause.path and CLAUSE_MARK.match(clause.path[-1]) else None
    for i, ln in enumerate(lines):
        mark = CLAUSE_MARK.match(ln)
        if i == 0 and (own is None or (mark and mark.group(0) == own)):
            continue  # the clause's own opening line
        if mark and _GRANT.search(ln) and (_MONEY.search(ln) or _PERCENT.search(ln) or _BASIS.search(ln)):
            units.append((clause.path + [ln[:20]], ln))
    if units:
        return units
    lines = [ln for ln in lines if not ln.startswith((">", "说明", "注："))]
    text = " ".join(lines)
    if _GRANT.search(text) and (_MONEY.search(text) or _PERCENT.search(text) or _BASIS.search(text)) \
            and not re.search(r"申报材料|申请材料", text[:12]):
        return [(clause.path, text)]
    return []

"""Chat side of the 政策计算器: "我们公司能申请哪些？" answered with the matched policy items.

``Eligibility.answer(query)`` is the one hook ChatService calls before retrieval. It returns None
for an ordinary question. For an eligibility question it reads the company facts the message
states (营收、行业、企业类型、区镇、员工、成立年份、研发费用、计划事项), asks for the missing ones in
one message when too little is known, and otherwise lists the items found, each cited to the
article's chunk like any other answer.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Callable

from app.facts.matching import (
    ELIGIBLE, INDUSTRIES, KUNSHAN_DISTRICTS, POSSIBLE, SUZHOU_OTHER, CompanyProfile, Match, Matcher,
)
from app.services.answering.base import Answer, Citation
from zhtext.tokens import words
from zhtext.validity import cn_date

_INTENT = re.compile(
    # (凭卡能享受哪些服务, 能申请哪些事项: what a card or a window offers, not what the company qualifies for)
    r"(?:能|可以|可|能够|该|适合)(?:申请|申报|享受|拿到?|领取?|报)(?:到)?(?:哪些|什么|啥|哪几(?![年个月天次]))(?!服务|事项|内容|便利|证照)|"
    r"(?:符合|够得上|满足)(?:哪些|什么|哪几)(?:政策|补贴|奖励|扶持|项目)|哪些(?:政策|补贴|奖励|扶持|项目)(?:可以|能)(?:申请|申报|享受)|"
    r"政策体检|政策匹配|政策计算器|有什么(?:政策|补贴|奖励)(?:可以|能)(?:申请|申报|享受|拿)")
# Words every title has (办法, 昆山市, 企业): they name no programme.
_TITLE_WORDS = re.compile(r"办法|意见|措施|通知|指南|政策|细则|规定|方案|示例|整理|昆山|苏州|江苏|企业|公司|工作|实施|若干|关于")
_AFTER_STATUS = re.compile(r"(?:认定|评上|评为|入选|获批|入库|成为)(?:下来|上了?|了)?(?:以后|之后|后)[^。？?]{0,16}(?:享受|拿|申请|有)[^。？?]{0,4}(?:哪些|什么)")
_BY_POLICY = re.compile(r"(?:按|按照|根据|依据|对照)(?:昆山|苏州)?市?(?:那个|的)?([\u4e00-\u9fff]{4,12}?)(?:实施)?(?:细则|办法|政策|意见|措施|方案)")
_QUESTION = re.compile(r"[？?]|吗|呢|怎么|如何|多少|哪些|什么|是否|能否|可否|有没有|能不能|可不可以|行不行|够不够")

_INDUSTRY_WORDS = (
    ("C", r"制造|工业企业|工厂|生产型|加工"), ("I", r"软件|信息技术|互联网|信息服务|IT企业"),
    ("F", r"批发|零售|商贸|贸易"), ("M", r"研发服务|科技服务|技术服务|检测"), ("E", r"建筑|施工"),
    ("G", r"物流|运输|仓储"), ("H", r"餐饮|住宿|酒店"), ("A", r"农业|种植|养殖"), ("K", r"房地产"),
    ("L", r"商务服务|租赁|咨询"), ("J", r"金融"), ("D", r"电力|燃气|供水"), ("B", r"采矿"),
)
_TYPE_WORDS = (
    ("规上工业", r"规上|规模以上"), ("高新技术企业", r"高新技术企业|高企|高新企业"), ("小巨人", r"小巨人"),
    ("专精特新", r"专精特新"), ("创新型中小企业", r"创新型中小企业"), ("科技型中小企业", r"科技型中小企业|科小"),
    ("外资", r"外资|外商投资|外企"), ("总部企业", r"总部企业"),
)
_EVENT_WORDS = (
    ("招用高校毕业生", r"招(?:用|聘|了)?.{0,6}(?:应届|高校毕业生|毕业生|大学生)"), ("购置设备", r"(?:购置|买|采购|添置).{0,4}设备|技改"),
    ("拿地", r"拿地|竞得|买地|土地"), ("新引进", r"新引进|新落户|刚落户|迁入"), ("引进人才", r"引进(?:了)?.{0,4}人才"),
    ("首次认定", r"首次(?:被)?认定|新认定|刚认定|首次入库"), ("研发费用增长", r"研发(?:费用|投入).{0,6}增长"),
    ("首台套认定", r"首台套|首台（套）"), ("获得智改贷款", r"智改.{0,4}贷款|技改贷款"),
)
_DISTRICTS = sorted(KUNSHAN_DISTRICTS + SUZHOU_OTHER, key=len, reverse=True)
_SHORT = {"开发区": "昆山开发区", "高新区": "昆山高新区", "花桥": "花桥镇", "玉山": "玉山镇", "周市": "周市镇",
          "陆家": "陆家镇", "张浦": "张浦镇", "千灯": "千灯镇", "巴城": "巴城镇", "淀山湖": "淀山湖镇",
          "周庄": "周庄镇", "锦溪": "锦溪镇", "园区": "苏州工业园区"}


def _wan(number: str, unit: str | None) -> float:
    value = float(number)
    return value * 10000 if unit and unit.startswith("亿") else value


_MONEY = r"(\d+(?:\.\d+)?)\s*(亿|万)"


def profile_from_text(text: str) -> tuple[CompanyProfile, list[str]]:
    """The company facts a message states, and their Chinese names (what was understood)."""
    data: dict[str, Any] = {}
    said: list[str] = []
    if m := re.search(r"(?:营收|营业收入|销售收入|销售额|产值|收入)[^\d，。；]{0,6}" + _MONEY, text) or \
            re.search(r"年(?:营收|收入|销售)?[^\d，。；]{0,4}" + _MONEY + r"元?(?:的|营收|收入|左右)", text):
        data["revenue_wan"] = _wan(m.group(1), m.group(2))
        said.append(f"上年营收{data['revenue_wan']:g}万元")
    if m := re.search(r"研发(?:费用|投入|经费)[^\d，。；]{0,6}" + _MONEY, text):
        data["rd_expense_wan"] = _wan(m.group(1), m.group(2))
        said.append(f"研发费用{data['rd_expense_wan']:g}万元")
    if m := re.search(r"(?:员工|职工|从业人员|人员)[^\d，。；]{0,4}(\d+)\s*(?:人|名|个)|(\d+)\s*(?:人|名)(?:左右)?(?:的)?(?:员工|职工|规模|团队)", text):
        data["employees"] = int(m.group(1) or m.group(2))
        said.append(f"员工{data['employees']}人")
    if m := re.search(r"((?:19|20)\d{2})\s*年(?:成立|注册|创办|设立)|成立(?:于|在)?\s*((?:19|20)\d{2})", text):
        data["founded_year"] = int(m.group(1) or m.group(2))
        said.append(f"{data['founded_year']}年成立")
    if m := re.search(r"(?:设备|技改)(?:投资|投入)?[^\d，。；]{0,6}" + _MONEY, text):
        data["equipment_investment_wan"] = _wan(m.group(1), m.group(2))
        said.append(f"设备投资{data['equipment_investment_wan']:g}万元")
    if m := re.search(r"(\d+(?:\.\d+)?)\s*亩", text):
        data["land_mu"] = float(m.group(1))
        said.append(f"用地{data['land_mu']:g}亩")
    district = next((d for d in _DISTRICTS if d in text), None) or \
        next((full for short, full in _SHORT.items() if short in text), None)
    if district:
        data["district"] = district
        said.append(f"位于{district}")
    elif re.search(r"在昆山|昆山(?:的|本地)?(?:企业|公司)", text):
        data["district"] = "昆山市"
        said.append("位于昆山")
    letter = next((letter for letter, words in _INDUSTRY_WORDS if re.search(words, text)), None)
    if letter:
        data["industry"] = next(i for i in INDUSTRIES if i.startswith(letter))
        said.append(f"行业为{data['industry'].split()[1]}")
    types = [name for name, words in _TYPE_WORDS if re.search(words, text)]
    if "小巨人" in types and "专精特新" not in types:
        types.append("专精特新")
    if types:
        data["enterprise_types"] = types
        said.append("、".join(types))
    events = [name for name, words in _EVENT_WORDS if re.search(words, text)]
    if events:
        data["events"] = events
        said.append("计划/已有：" + "、".join(events))
    return CompanyProfile(**data), said


def wants_matching(text: str) -> bool:
    return bool(_INTENT.search(text))


ASK = ("为了帮您匹配可申请的政策，请在一条消息里告诉我以下信息（知道几项说几项，不涉及个人信息）：\n"
       "1. 所在区镇（如 玉山镇、花桥镇、昆山开发区）；\n"
       "2. 行业和企业类型/资质（如 制造业、规上工业、高新技术企业、专精特新、科技型中小企业）；\n"
       "3. 上年营收、研发费用、员工数，以及今年是否计划招用应届高校毕业生、购置设备、拿地。\n"
       "例如：“我们在玉山镇，制造业，规上工业和高新技术企业，营收3000万元，研发费用200万元，员工80人，今年计划购置设备500万元。”\n"
       "您也可以在页面的“政策匹配”中填写表单查看全部结果。")


class Eligibility:
    """The chat hook: an Answer for an eligibility question, None for any other."""

    def __init__(self, matcher: Matcher, registry=None, *, limit: int = 8,
                 titles: Callable[[], list[str]] | None = None):
        self.matcher = matcher
        self.registry = registry
        self.limit = limit
        # the live policies' titles (the composition root passes the retriever's cached live set, so a
        # question costs no registry read); without it, read from the registry
        self.titles = titles or (lambda: [row.title for row in registry.live()] if registry is not None else [])

    def answer(self, query) -> Answer | None:
        text = getattr(query, "question", str(query))
        profile, said = profile_from_text(text)
        if _AFTER_STATUS.search(text):
            return None  # 认定下来以后还能享受哪些政策: what that status brings, from its policies
        if not wants_matching(text):
            # A reply to our request for facts: several company facts and no question of its own.
            if len(said) < 3 or _QUESTION.search(text):
                return None
        known = profile.known()
        named = self._named_titles(text, said)
        if len(known) < 2:
            if named:
                # 牵头组建昆山市级创新联合体，认定后能享受哪些支持: that programme's benefits, from its policy
                # (昆山市 alone describes no company)
                return None
            return Answer(text=ASK, citations=[], grounded=False, refusal_reason="need_profile")
        # 按昆山研发投入奖补细则能拿哪几笔: that policy's items for this company, not the whole library's;
        # when it has none to list, its text answers (None: retrieval goes on)
        return self.compose(profile, said, only=named)

    def _named_titles(self, text: str, said: list[str]) -> set[str]:
        """The policies the question names by a word of their title (创新联合体, 首台（套）, 研发投入)
        that does not describe the company (我们是专精特新企业 says what it is)."""
        described = " ".join(said)
        named = [w for w in words(text) if len(w) >= 3 and not _TITLE_WORDS.search(w) and w not in described]
        named += [m.group(1) for m in _BY_POLICY.finditer(text)]  # 按昆山研发投入奖补细则: 研发投入奖补
        return {title for title in self.titles() if any(w in title for w in named)}

    def compose(self, profile: CompanyProfile, said: list[str], only: set[str] | None = None) -> Answer | None:
        today = self.matcher.clock()
        matches = self.matcher.match(profile, today=today)
        if only:
            matches = [m for m in matches if m.title in only]
            if not any(m.status in (ELIGIBLE, POSSIBLE) for m in matches):
                return None
        eligible = [m for m in matches if m.status == ELIGIBLE]
        possible = [m for m in matches if m.status == POSSIBLE]
        shown = (eligible + possible)[:self.limit]
        head = f"根据您提供的信息（{'，'.join(said)}），" if said else ""
        if not shown:
            return Answer(text=head + "政策库中暂未找到您可能符合条件的现行政策条目。建议补充所在区镇、企业类型和计划事项后再试，"
                          "或在“政策匹配”中填写表单查看每项政策不符合的原因。", citations=[], grounded=False,
                          refusal_reason="no_match")
        lines = [head + f"政策库中有{len(eligible)}项您符合条件、{len(possible)}项可能符合（需补充信息或人工确认）的政策条目，"
                 f"按金额排列如下（以原文和主管部门审核为准）："]
        citations: list[Citation] = []
        for m in shown:
            n = len(citations) + 1
            citations.append(self._citation(n, m, today))
            lines.append(self._line(n, m, today))
        missing = [name for name, key in (("所在区镇", "district"), ("企业类型/资质", "enterprise_types"),
                                          ("上年营收", "revenue_wan"), ("计划事项（招用应届生、购置设备等）", "events"))
                   if getattr(profile, key) is None]
        rest = len(eligible) + len(possible) - len(shown)
        if rest > 0:
            lines.append(f"另有{rest}项未列出，可在“政策匹配”中查看全部结果。")
        if missing:
            lines.append(f"补充{'、'.join(missing[:3])}后，结果会更准确。")
        return Answer(text="\n".join(lines), citations=citations, grounded=True)

    def _line(self, n: int, m: Match, today: dt.date) -> str:
        i = m.item
        mark = "✅符合" if m.status == ELIGIBLE else "❔可能符合"
        amount = i.amount_text if len(i.amount_text) <= 40 else ""
        if not amount and (i.amount_max_wan or i.ratio):
            amount = "，".join(x for x in (f"按{i.ratio * 100:g}%" if i.ratio else "",
                                           f"最高{i.amount_max_wan:g}万元" if i.amount_max_wan else "") if x)
        line = f"{n}. {mark}《{m.title}》{i.article}：{i.programme}" + (f"，{amount}" if amount else "")
        if m.closes:
            if m.opens and m.opens <= today <= m.closes:
                line += f"；正在申报，距截止还有{(m.closes - today).days}天"
            elif m.closes >= today:
                line += f"；申报时间{cn_date(m.opens) if m.opens else ''}至{cn_date(m.closes)}"
        elif i.window.text:
            line += f"；申报时间：{i.window.text}"
        unknown = [c.why.split("；")[0] for c in m.conditions if c.met is None and c.why and not c.why.startswith("需人工")]
        if unknown:
            line += f"（待确认：{'；'.join(unknown[:2])}）"
        return line + f" [{n}]"

    def _citation(self, n: int, m: Match, today: dt.date) -> Citation:
        i = m.item
        row = self.registry.get(i.doc_id) if self.registry is not None else None
        return Citation(
            n=n, doc_id=i.doc_id, title=m.title, doc_number=getattr(row, "doc_number", None) or None,
            article=i.article, source=getattr(row, "source", "") or "", url=getattr(row, "url", None) or None,
            snippet=(i.text or i.amount_text)[:300], expires=m.expires.isoformat() if m.expires else None,
            expired=m.expired, sample=bool(getattr(row, "sample", False)), chunk_id=i.chunk_id,
            heading_path=i.article)

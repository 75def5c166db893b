"""One query object per question: normalised text, tokens, what is asked, what is named.

Built once per request and passed down to retrieval and answering, so the question is
tokenised and analysed once. Follow-ups are resolved here from the previous turn's topic
(never by gluing every earlier question together).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, NamedTuple

from app.facts import slots as sl
from zhtext.normalize import normalize
from zhtext.tokens import dictionary_tag, tagged, tokenize, words

# Words that say what is asked or who asks, never what about: a question made of these alone
# has no topic of its own (申报截止是什么时候？) and takes the previous turn's topic.
GENERIC = frozenset(
    "申报 申请 截止 时间 什么 时候 什么时候 材料 资料 条件 要求 多少 多少钱 钱 补贴 奖励 资助 奖补 支持 扶持 政策 企业 "
    "公司 我们 我司 咱们 可以 能 能够 需要 要 哪些 哪个 怎么 如何 怎样 办理 流程 步骤 部门 哪里 提交 标准 最高 金额 "
    "多久 办 拿 领 给 有 有没有 没有 是 的 了 吗 呢 吧 啊 请问 一下 具体 规定 相关 专门 这个 那个 这项 该 它 那 "
    "截至 几 号 几月 日期 期限 时限 期 开始 结束 还 也 都 又 再 就 最多 上限 额度 比例 百分之 几成 窗口 电话 联系 "
    "找 谁 向 交 送 带 准备 证明 办结 工作日 天 年 月 日 今年 明年 去年 现在 目前 最新 现行 当前 "
    "昆山 昆山市 苏州 苏州市 江苏 江苏省 本市 我市 市里 市级 省级 国家级 区级 区镇 级 在 对 和 与 及 或 等 从 到 "
    "问 想 咨询 了解 知道 告诉 帮 帮忙 查 查询 看看 说 讲 一样 相同 不同 区别 差别 比较 相比 情况 方面 内容 "
    "符合 满足 资格 门槛 够 够不够 申领 申报期 受理 受理部门 负责 途径 渠道 方式 办法 措施 举措 "
    # papers every application names: 除了申报书和营业执照还要交啥 still asks about the last topic
    "申报书 申请书 申请表 营业执照 执照 复印件 审计报告 财务报表 承诺书 身份证 身份证件 "
    "大概 大约 一共 总共 合计 分别 各 每 个 家 项 类 种 算 计算 怎么算 多久 能否 是否 部分 时候 不能 能不能 以后 之后 "
    "剩下 剩余 其余 其他 别的 还要 需不需要 要不要 是不是 会不会 怎么样 如果 要是 的话 情况下 退 交 报 批".split()
)
# How a question is put, not what it asks about: words that match any sentence (以后, 大概) or no
# policy sentence at all (多久, 怎么). Never a topic; in sentence matching they weigh as little as a
# common word however rare the index finds them.
PHRASING = frozenset(
    "以后 之后 后面 前面 大概 大约 一般 然后 那边 这边 中间 整个 已经 还是 或者 到底 究竟 具体 一下 一共 总共 左右 "
    "差不多 听说 好像 应该 可能 现在 目前 这样 那样 这种 那种 多久 多长 多长时间 多少 什么 哪些 哪个 怎么 如何 怎样 "
    "为什么 是否 能否 能不能 可不可以 额外 另外 除了 啥 咋 啥时候 交给 交到 送到 递交 报给 申报材料 "
    "不知道 沾边 沾不 在不在 算不算 够不够 东西 怎么弄 怎么搞 咋弄 咋搞".split()
)
GENERIC = GENERIC | PHRASING

# 要是工程拖了…会怎么样: what happens under the last answer's rules, whatever the case names.
_CONDITIONAL = re.compile(r"^(?:要是|如果|万一|假如)[^，,。？?]{1,20}[，,][^。？?]*(?:会怎么样|会怎样|怎么办|怎么算|还能|还退|还给|"
                          r"要(?:准备|交|提交|带)|找谁|向谁|去哪)")
_FOLLOW_MARK = re.compile(
    _CONDITIONAL.pattern + "|"
    r"^(?:那|那么|那如果|还有|另外|如果是|这个|那个|它|其|该|这项|上述|刚才|同样|再问|剩下|剩余|其余|其他的)|呢[？?。]?$|^[^，,。？?]{1,10}呢[？?，,]|"
    r"这项|该政策|该项|上述|刚才|剩下的|那部分|这部分|这些|那些|它们|上面说|前面说|这个政策|这个补贴|这个奖励|"
    # (…是自己开公司当法人的，这种也能申请吗: may one in this case apply — for what was asked before)
    r"这种(?:情况)?(?:也|还)(?:能|可以)")

# 这个政策里对高企有没有专门的资助标准: the last answer's policy, wherever in the question it is pointed at
_POINTS_AT_POLICY = re.compile(r"(?:这个|这份|该|上述|刚才那个|前面那个)(?:政策|办法|细则|文件|通知|指南|意见|措施|规定)")

# 这个也是交科技局吗: a question that points back at the last one keeps its subject, whatever it names.
_POINTER = re.compile(r"^(?:这个|这项|该(?:政策|项|计划)?|它|这些|上述|刚才(?:那个|说的)?|前面(?:那个|说的)?)")

# 那博士呢: a degree or a class of person narrows the last question; it names no new programme.
_ATTRIBUTE = re.compile(r"^(?:博士|硕士|本科|本科生|大专|专科|研究生|博士后|应届生|毕业生|[A-Ea-e]类(?:人才)?)$")
_OWN_DOCUMENT = re.compile(r"《[^》]{4,}》|^(?:换个问题|换个话题|另一个问题|问个别的)")

SLOT_PHRASE = {
    sl.AMOUNT: "多少", sl.RATIO: "比例", sl.WINDOW: "什么时候申报", sl.DURATION: "多久",
    sl.MATERIALS: "需要什么材料", sl.DEPARTMENT: "向哪个部门提交", sl.CONDITIONS: "申请条件",
    sl.PROCEDURE: "办理流程", sl.LIST: "有哪些", sl.DEFINITION: "是什么",
}

# Offline understanding of English questions: the multilingual embedding finds passages, these
# terms give BM25 and the evidence check the Chinese words the corpus uses.
ENGLISH_TERMS = {
    "high-tech": "高新技术企业", "high tech": "高新技术企业", "hnte": "高新技术企业",
    "specialized": "专精特新", "little giant": "小巨人", "subsid": "补贴", "reward": "奖励", "grant": "资助",
    "talent": "人才", "housing": "购房 安居", "house": "购房", "rent": "租房", "land": "用地", "factory": "厂房",
    "r&d": "研发投入", "research": "研发", "innovation": "创新", "consortium": "创新联合体",
    "equipment": "设备", "technical renovation": "技术改造", "upgrade": "技术改造", "digital": "智改数转",
    "startup": "开办企业", "start a business": "开办企业", "register": "登记", "license": "许可",
    "business licen": "营业执照 开办企业", "new company": "开办企业", "how long": "多久",
    "hotline": "12345热线", "service station": "服务驿站", "deadline": "申报时间", "apply": "申报",
    "materials": "申报材料", "documents": "申报材料", "conditions": "申报条件", "eligib": "申报条件",
    "how much": "多少", "amount": "金额", "kunshan": "昆山", "suzhou": "苏州", "graduate": "高校毕业生",
    "job": "稳岗", "employment": "就业", "headquarter": "总部", "artificial intelligence": "人工智能", " ai ": "人工智能",
    "smart manufactur": "智能制造", "construction permit": "施工许可", "environmental": "环评",
    "first major equipment": "首台套", "quantum": "量子", "bonus": "奖励", "incentive": "奖励",
    "recogni": "认定", "certif": "认定", "qualif": "认定", "sme": "中小企业", "small and medium": "中小企业",
    "sophisticated": "专精特新", "giant": "小巨人", "apartment": "人才公寓", "rental": "租房", "land transfer": "工业用地出让",
    "performance bond": "履约保证金", "deposit": "保证金", "standard land": "标准地", "interest": "贴息", "loan": "贷款",
    "environmental impact": "环评", "permit": "许可", "registration": "登记", "company name": "企业名称",
    "social insurance": "社会保险", "unemployment insurance": "失业保险", "r&d expense": "研发费用",
    "one-stop": "一站式", "window": "窗口", "which department": "受理部门", "submit": "提交", "where": "哪里",
    "when": "什么时候", "application period": "申报时间", "renovation": "技术改造", "intelligent": "智能化",
    "demonstration": "示范", "workshop": "车间", "headquarters": "总部", "foreign": "外资", "tax": "税",
    "application window": "申报时间", "apply window": "申报时间", "fixed window": "申报时间", "last date": "截止 前提交",
    "closing date": "截止 前提交", "all year": "常年受理", "any time": "常年受理 随时", "anytime": "常年受理 随时", "master": "硕士", "phd": "博士", "doctor": "博士",
    "bachelor": "本科", "undergraduate": "本科", "newly": "首次", "first time": "首次", "for the first time": "首次",
    "contact": "受理部门 联系", "who handles": "受理部门", "how to apply": "怎么申请", "procedure": "流程",
    "process": "流程", "steps": "步骤", "manufactur": "制造业 工业企业", "scale": "规模以上", "above-scale": "规上",
    "tech-based sme": "科技型中小企业", "technology-based sme": "科技型中小企业", "science and technology sme": "科技型中小企业",
    "database": "入库", "large enterprise": "大型企业", "large company": "大型企业",
    "small and micro": "中小微企业", "refund": "返还", "return": "返还 退回", "premium": "缴纳", "share": "比例",
    "percentage": "比例", "ratio": "比例", "first": "首次", "one-off": "一次性", "one-time": "一次性",
    # everyday words of officers' English questions
    "working day": "工作日 办结", "business day": "工作日 办结", "saturday": "周六", "sunday": "周日", "weekend": "周六 周末", "evening": "夜间", "night": "夜间",
    "lunch": "中午", "appointment": "预约", "counter": "窗口", "hand in": "提交", "hand it in": "提交",
    "bidding": "竞买", "bid ": "竞买", "auction": "拍卖", "starting price": "起始价", "reserve price": "起始价",
    "idle": "闲置", "not started": "未动工 开工", "start construction": "开工", "started building": "开工",
    "start date": "开工日期", "completion": "竣工", "full production": "达产", "reclaim": "收回", "take back": "收回",
    "fee": "费", "fine": "罚款", "penalty": "违约", "report form": "报告表", "report book": "报告书",
    "living subsidy": "生活补贴", "living allowance": "生活补贴", "youth": "青年", "young": "青年",
    "master's": "硕士", "overseas": "留学", "abroad": "留学", "studied in": "留学", "degree": "学历 学位",
    "national-level": "国家级", "national level": "国家级", "provincial": "省级", "province": "省级",
    "city-level": "市级", "municipal": "市级", "award": "奖励", "plant": "工厂", "expert": "人才",
    "foreigner": "外籍", "foreign expert": "外籍 人才", "employee": "员工 职工", "staff": "员工 职工",
    "hire": "招用", "recruit": "招用", "salary": "工资", "contract": "合同", "office": "办公",
    "relocat": "迁移 迁入", "move to": "迁入", "move out": "迁出", "leave kunshan": "迁出",
    "patent": "专利", "software": "软件", "insurance": "保险", "mortgage": "抵押", "property": "不动产",
    "real estate": "不动产", "title certificate": "不动产权证书", "name approval": "名称", "seal": "公章 印章",
    "invoice": "发票", "bank account": "银行开户", "change": "变更", "cancel": "注销", "deregist": "注销",
}


_ENGLISH_LONGEST_FIRST = sorted(ENGLISH_TERMS, key=len, reverse=True)


def english_to_chinese(text: str) -> str:
    """The policy words an English question names, the longest phrase first and each span once
    ("application window" is 申报时间, not a service 窗口)."""
    low = f" {text.lower()} "
    found = []
    for en in _ENGLISH_LONGEST_FIRST:
        if en in low:
            found.append(ENGLISH_TERMS[en])
            low = low.replace(en, " ")
    return " ".join(dict.fromkeys(found))


# Parts of speech that can carry a topic (nouns, verbal nouns, abbreviations, set phrases, verbs).
_TOPIC_FLAGS = re.compile(r"^(?:n|vn|v|j|l|eng|i)")


@lru_cache(maxsize=4096)
def topic_words(text: str) -> tuple[str, ...]:
    """Content words of a question without slot, function and place/level words."""
    return tuple(w for w, _ in _topic_tagged(text))


_NOUNISH = re.compile(r"^(?:n|vn|j|l|eng|i)")


def has_subject(text: str) -> bool:
    """Names a thing (a noun, an abbreviation such as 技改), not only actions (按期开工以后能退多少)."""
    return any(_NOUNISH.match(flag) for _, flag in _topic_tagged(text))


# Everyday words jieba's dictionary also tags as places (要带哪些东西: things, not east and west).
NOT_PLACES = frozenset("东西 南北 上下 前后 左右 中间 里面 外面 东南 西北 沾边".split())


def place_names(text: str) -> list[str]:
    """Place names in a text (jieba part-of-speech ``ns``)."""
    return [w for w, flag in tagged(text) if flag == "ns" and len(w) >= 2 and w not in NOT_PLACES]


_PLACE_SUFFIX = re.compile(r"(?:省|市|县|区|镇|乡|村|州|街道|园区|新区)$")
# characters that begin no place name but stand before a level word (里省, 在市, 各区, 本镇)
_NOT_A_NAME = frozenset("里在到从去和与及或的个是各全本每该此哪某这那")


def surely_place(word: str) -> bool:
    """A place name jieba's dictionary knows, or one that says it is a place (…市, …镇). jieba
    also tags words it has never seen as places by guesswork: a typo (能延其几次 → 延其) is not
    a city the corpus lacks. Its dictionary also files a few phrases that end in a verb as places
    (花钱买): a known word and a verb after it is what someone did, not where."""
    if len(word) >= 3 and dictionary_tag(word[-1]) == "v" and dictionary_tag(word[:-1]) not in (None, "ns"):
        return False
    if len(word) == 2 and word[0] in _NOT_A_NAME and dictionary_tag(word) != "ns":
        return False  # 政策里省重点实验室: 里 and the 省 of 省重点, not a province called 里省
    return dictionary_tag(word) == "ns" or bool(_PLACE_SUFFIX.search(word))


@lru_cache(maxsize=4096)
def _topic_tagged(text: str) -> tuple[tuple[str, str], ...]:
    out = []
    for w, flag in tagged(text):
        if len(w) < 2 or w in GENERIC or not _TOPIC_FLAGS.match(flag) or sl.levels(w):
            continue
        if re.fullmatch(r"[\d.]+|20\d\d年?", w) or re.fullmatch(r"[a-z]+", w, re.I) and flag != "eng":
            continue
        out.append((w, flag))
    return tuple(out)


@dataclass
class Query:
    question: str                 # what the user typed, normalised
    standalone: str               # the question with the conversation's topic filled in
    tokens: list[str] = field(default_factory=list)   # search tokens of the standalone question
    own_tokens: list[str] = field(default_factory=list)  # tokens of what the user typed (= tokens unless rewritten)
    places: list[str] = field(default_factory=list)   # place names in the standalone question
    slots: list[str] = field(default_factory=list)
    levels: set[str] = field(default_factory=set)
    years: set[int] = field(default_factory=set)
    topic: list[str] = field(default_factory=list)    # the standalone question's content words
    latest: bool = False
    excluded: str = ""            # 除了增量奖励还有别的吗: what the user already knows, not the answer
    english: bool = False
    follow_up: bool = False
    previous_docs: list[str] = field(default_factory=list)  # the last answer's documents, for a follow-up
    history: list[tuple[str, str]] = field(default_factory=list)  # earlier (question, answer) turns
    vector: Any = None            # the question's embedding, computed once by retrieval
    # The policies the question's rare words name (增资扩产 → the 外资 reward policy), set by retrieval
    naming_docs: set[str] = field(default_factory=set)
    same_policy: bool = False     # a follow-up in its own words about the last answer's policy

    @property
    def single_fact(self) -> bool:
        return sl.single_fact(self.slots)

    @property
    def set_aside(self) -> list[str]:
        """The words that mark what the user set aside: the whole phrase (增量奖励), or, for what the
        answer is said not to be, those of its words the rest of the question does not use (姑苏, 领军,
        安家 of 别跟姑苏领军的安家补贴搞混)."""
        if not self.excluded:
            return []
        if "除" in self.question:
            return [self.excluded.lower()]  # 除了申报书和营业执照: the rest of the list is the answer
        rest = self.question.replace(self.excluded, "")
        own = [t for t in tokenize(self.excluded) if len(t) >= 2 and t not in rest and not re.search(r"\d", t)]
        return [self.excluded.lower(), *own]

    @property
    def wants_list(self) -> bool:
        """A list, the materials, the conditions or the steps: answered by a whole article."""
        return bool(self.slots) and not self.single_fact and (
            sl.LIST in self.slots or self.slots[0] in (sl.MATERIALS, sl.CONDITIONS, sl.PROCEDURE))


def analyse(question: str, *, standalone: str | None = None, follow_up: bool = False,
            previous_slots: list[str] | None = None, previous_docs: list[str] | None = None) -> Query:
    question = normalize(question)
    standalone = normalize(standalone or question)
    english = sl.is_english(question)
    search_text = standalone
    if english:
        search_text = f"{standalone} {english_to_chinese(standalone)}"
    asked = sl.asked_slots(question) or list(previous_slots or [])
    own_years = {str(y) for y in sl.company_years(question)}
    tokens = [t for t in tokenize(search_text) if t not in own_years]
    return Query(
        question=question, standalone=search_text, tokens=tokens,
        own_tokens=tokens if question == search_text else tokenize(question), places=place_names(search_text),
        slots=asked,
        levels=sl.levels(question) or sl.levels(standalone), years=sl.years(question), excluded=excluded(question),
        topic=list(topic_words(_english_topic(standalone) if english else search_text)), latest=sl.asks_latest(question), english=english,
        follow_up=follow_up, previous_docs=list(previous_docs or []),
    )


_HAN_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")


def _english_topic(question: str) -> str:
    """What an English question is about: the Chinese term it quotes (… newly upgraded (小升规) firms),
    which says it better than the policy words its English is taken for (upgraded: 技术改造);
    else those policy words."""
    return " ".join(_HAN_RUN.findall(question)) or english_to_chinese(question)


_EXCEPT = re.compile(r"除了?([^，,。？?]{2,12}?)(?:以外|之外|外)?[，,]?(?:还|另外|其他|别的)")


# 别跟姑苏领军的安家补贴搞混 / 不是苏州那个一千万的: what the user says the answer is not.
_NOT_THIS = re.compile(r"(?:别|不要|不能)(?:跟|和|与)([^，,。？?]{2,16}?)(?:搞混|混淆|弄混|混为一谈|混了)|"
                       r"不是(?:问)?([^，,。？?]{2,30}?)(?:那个|那笔|那项|那一项)")


def excluded(question: str) -> str:
    """What a 除了…还有… question sets aside (除了增量奖励还有别的奖吗 → 增量奖励), or what it says the
    answer is not (别跟姑苏领军的安家补贴搞混 → 姑苏领军的安家补贴)."""
    match = _EXCEPT.search(question) or _NOT_THIS.search(question)
    return next((g for g in match.groups() if g), "") if match else ""


def is_follow_up(question: str) -> bool:
    """Does the question lean on the previous turn (那…呢, 这项, or no topic of its own)?"""
    if _OWN_DOCUMENT.search(question):
        return False  # 换个问题，按《…管理办法》，剩下那部分…: it names its own policy
    if _FOLLOW_MARK.search(question):
        return True
    return not has_subject(normalize(question))


_TITLE_NOISE = re.compile(r"[（(][^）)]*[）)]|《|》|昆山市|苏州市|关于|印发|若干|实施细则|实施办法|管理办法|办法|措施|意见|通知|指南|政策|规定|细则")


def title_subject(title: str) -> str:
    """The programme a document title names: 工业用地履约保证金 from 《昆山市工业用地履约保证金管理办法（示例）》."""
    return _TITLE_NOISE.sub("", title or "").strip()[:20]


class Resolved(NamedTuple):
    standalone: str
    inherited: list[str]          # the slots the follow-up takes from the previous question
    same_policy: bool = False     # new words, but about the policy the last answer quoted


def resolve_follow_up(question: str, previous: str, previous_title: str = "",
                      about_previous: Callable[[list[str], str], str | None] | None = None) -> Resolved:
    """The follow-up as a question that stands on its own, and the slots it inherits.

    The previous turn's topic (its content words, levels and places replaced by the ones the
    follow-up names) is put before the follow-up; it never grows with the conversation, because
    the topic is re-derived from the previous standalone question each turn. ``about_previous``
    tells whether the follow-up's words are about the policy the last answer quoted ("same"), name
    another one ("other"), or neither (None).
    """
    previous = normalize(previous)
    question = normalize(question)
    own_topic = topic_words(question)
    own_levels = sl.levels(question)
    inherited = [] if sl.asked_slots(question) or sl.asks_any_form(question) else sl.asked_slots(previous)
    if has_subject(question) and not _FOLLOW_MARK.search(question):
        return Resolved(question, [])
    same_policy = False
    previous_topic = set(topic_words(previous))
    verdict = about_previous(list(own_topic), question) if about_previous is not None and own_topic else None
    if own_topic and has_subject(question) and (verdict == "other" or not any(w in previous_topic or w in previous for w in own_topic)) \
            and not all(_ATTRIBUTE.match(w) for w in own_topic) and not _POINTER.match(question) \
            and not _CONDITIONAL.match(question) and not _POINTS_AT_POLICY.search(question):
        # 那技改补贴呢？ after a 高企 question — a new subject, asked the same way as before (also when
        # it shares a word with the last question: 那人工智能产业那个措施呢，对超算中心…这类项目); but
        # 那对企业这几年的安全环保记录有啥要求？ after a 技改 answer asks more of the same policy: the
        # question is searched as it is, that policy preferred (its words would pull other clauses).
        same_policy = verdict == "same"
        subject = ""
    else:
        kept = [w for w in words(previous) if w not in GENERIC or w in ("昆山", "苏州")]
        if own_levels:
            kept = [w for w in kept if not sl.levels(w)]
        if any(_ATTRIBUTE.match(w) for w in own_topic):
            kept = [w for w in kept if not _ATTRIBUTE.match(w)]  # 那博士呢 after 硕士能拿多少: 博士 replaces 硕士
        subject = "".join(dict.fromkeys(kept))
        anchor = title_subject(previous_title)
        # (compared without its generic words: the previous standalone already carries it so)
        if anchor and "".join(w for w in words(anchor) if w not in GENERIC) not in subject:
            # The policy the last answer quoted keeps the thread when the question before was
            # itself elliptic (按期开工以后能退多少？ → 剩下的那部分什么时候退？).
            subject = f"{anchor} {subject}"
        prev_levels = sl.levels(previous)
        if prev_levels and not own_levels:
            subject = "".join(sorted(prev_levels)) + subject
    tail = "".join(SLOT_PHRASE[s] for s in inherited[:1] if s in SLOT_PHRASE)
    parts = [p for p in (subject, question.rstrip("？?。"), tail) if p]
    return Resolved(" ".join(parts) + "？", inherited, same_policy)

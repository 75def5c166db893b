"""What a policy sentence states, and what a question asks for.

One vocabulary of "slots" serves both sides: the answer step matches the slot a question asks
(amount, application window, materials, department…) with sentences that state it, and the
policy-facts extractor fills the same slots per article.
"""

from __future__ import annotations

import re
from functools import lru_cache

from app.facts.vocab import PERSONAL_TAX

AMOUNT = "amount"          # 多少钱 / 最高…万元
RATIO = "ratio"            # 比例 / 百分之几
WINDOW = "window"          # 什么时候申报 / 截止
DURATION = "duration"      # 多久办结 / 几个工作日 / 有效期几年
MATERIALS = "materials"    # 要什么材料
DEPARTMENT = "department"  # 向哪里交 / 哪个部门 / 电话
CONDITIONS = "conditions"  # 条件 / 哪些企业可以
PROCEDURE = "procedure"    # 流程 / 怎么申请
YESNO = "yesno"            # 能不能 / 是否
LIST = "list"              # 有哪些
COMPARISON = "comparison"  # 区别 / 哪个多
DEFINITION = "definition"  # 是什么 / 指什么
COUNT = "count"            # 多少个部门 / 多少场 / 多少亩
CONSEQUENCE = "consequence"  # 会怎么样 / 什么后果 (of breaking a rule: 追回资金, 取消资格)

SLOTS = (AMOUNT, RATIO, COUNT, WINDOW, DURATION, MATERIALS, DEPARTMENT, CONDITIONS, PROCEDURE)

# -- what a question asks ------------------------------------------------------------------------

_ASKS: list[tuple[str, re.Pattern[str]]] = [
    (WINDOW, re.compile(r"(?:\d{1,2}|[一二三四五六七八九十]{1,2})月份?(?:报|申报|申请|受理|截止)(?:吗|不|么)|(?:是不是|是否|也是|都是)[^，,。？?]{0,6}(?:\d{1,2}|[一二三四五六七八九十]{1,2})月份?(?:报|申报|申请|受理|截止)|什么时候|何时|随时|几点|赶上|赶得上|赶不上|(?:当年|第二年|次年|下一年)(?:就|再|才)(?:报|申报|申请)|(?:第二年|次年|下一年|第二个年度)(?:报|申报|申请)|开门|关门|营业时间|办公时间|上班时间|工作时间|last date|closing date|any ?time|all year|fixed window|哪天都|哪天|几月|时间|截止|申报期|受理期|窗口期|开始申报|几号|日期|还来得及|过期了吗|deadline|when", re.I)),
    (DURATION, re.compile(r"how long|how many (?:working |business )?(?:days|weeks|months|years)|how (?:quickly|soon)|多久|多长时间|多少个?工作日|多少天|几个月|几天|几个工作日|时限|办结|有效期(?:多|几|是)|期限|多少天|几年", re.I)),
    (RATIO, re.compile(r"比例|百分之|百分比|几成|多少%|按多少比|分担|谁出钱|谁来出|市里出|区镇出|谁承担|资金来源|钱从哪", re.I)),
    (COUNT, re.compile(r"多少\s*(?:个|项|家|场|所|人|次|回|亩|平方米?|类)|(?<!哪)几\s*(?:个|项|家|场|所|类|次|回)(?!工作日|月)")),
    (DEPARTMENT, re.compile(r"哪里|在哪|去哪|上哪|到哪(?:办|申|交|报|领)|(?:交|送|报|递|寄)到哪|(?:局|委|部门)(?:报|交|申请|申报|办理?)?还是|先过(?:区镇|街道|园区)|直接(?:送|交|报)(?:到|给)?|还是(?:要)?先(?:交|报|送|过)|通过谁|谁来?(?:报|审|批|办)|哪个部门|什么部门|哪个(?:局|委|办|单位|科室)|归谁管|谁管|找谁|向谁|交给谁|谁受理|谁牵头|谁负责|哪个单位|牵头单位|负责部门|受理部门|窗口|电话|热线|联系|地址|哪儿|where|which department|who (?:do|should|can|handles|is responsible)|contact", re.I)),
    (AMOUNT, re.compile(r"多少|金额|怎么算|如何计算|怎么计算|计算标准|几万|多少钱|最高|上限|额度|能拿|能领|给多少|奖多少|补多少|标准是|奖励多少|how much|amount", re.I)),
    (MATERIALS, re.compile(r"(?<!把)(?<!新)(?<!电池)(?<!先进)(?<!复合)(?<!化工)(?<!建筑)(?<!包装)(?<!纳米)(?<!金属)(?<!电子)(?<!光伏)材料(?!造假|作假|虚假|不实|弄虚|递|交上|交了|报上|送|都?准备好|提交(?:后|以后|了)|过了|审完|通过)|资料|要带|需要带|准备什么|提交什么|交什么|(?:交|带|准备|提交|备齐?)(?:哪些|些?什么|点什么)(?:东西|文件)|证明|documents?\b", re.I)),
    (CONDITIONS, re.compile(r"条件|要求|资格|门槛|符合|哪些企业|什么企业|谁可以|够不够|能不能申请|可以申请吗|能申请吗|有资格|eligib", re.I)),
    (PROCEDURE, re.compile(r"流程|步骤|怎么申请|如何申请|怎么办|如何办|怎么办理|如何办理|怎么报|程序|怎么弄|how to|procedure|"
                           r"哪几步|几个?步|哪些步|做哪些事|先做什么|要做什么|需要做什么|操作什么|要怎么操作|怎么走|怎么处理|"
                           r"(?:怎么|如何|怎样)(?:发|拨|兑现|到账|安排|预约)|"
                           r"(?:怎么|如何|怎样)(?:才能)?(?:申|办|报|领|退|返还|提交|操作|处理|认定|备案|登记|兑现|走|评|审)", re.I)),
    (COMPARISON, re.compile(r"区别|不同|差别|哪个(?:多|高|好)|比较|相比|和.{1,12}(?:一样|相同)吗")),
    (LIST, re.compile(r"哪些|哪几|有什么|包括|包含|几种|几类|清单|举措|措施|(?:问|办|咨询|提供)些?什么(?:内容|事|服务|业务)|哪[两三四五六七八九十\d]{1,2}\s*[个项类种条件大]|分别是|"
                      r"what (?:are|subsidies)", re.I)),
    (CONSEQUENCE, re.compile(r"会怎么样|会怎样|会如何|(?:什么|有何|哪些)后果|后果是|(?:怎么|如何|怎样|会被)处罚|什么处罚|会(?:怎么|如何|怎样)处理|会被(?:怎么|怎样|如何)|"
                             r"罚多少|会不会被(?:罚|处罚|追回|取消)|(?:会|有)(?:什么)?影响|受(?:到)?影响")),
    (YESNO, re.compile(r"能不能|可不可以|会不会|是否|可以吗|能吗|吗[？?]?$|吗(?=还是|[，,])|有没有|(?:能|可以|会|要|用|算|行).{0,16}不[？?]?$|行不行|算不算|要不要|用不用")),
    (DEFINITION, re.compile(r"是什么|指什么|什么是|是指|什么意思|含义")),
]


_ASKS_ELIGIBILITY = re.compile(r"(?:能|可以|可不可以|还能|能不能|会|还会)(?:一起|再|单独|同时|也|先)?(?:把[^，,。？?]{1,12}?)?(?:报|申报|申请|享受|领|拿|给|算)")


_OWN_COUNT = re.compile(r"(?:我们|我司|公司|厂里|单位)(?:有|招了|来了|引进了?|新招了?)几个")


_PARTS = re.compile(r"[？?；;]+")


def asked_slots(question: str) -> list[str]:
    """The question types a question asks, most specific first (may be empty). A question in several
    parts (申请条件是什么？合同要签几年) asks its first part's types first."""
    question = question.replace("啥", "什么")  # 啥时候, 交啥: everyday speech for 什么
    parts = [p for p in _PARTS.split(question) if p.strip()]
    if len(parts) >= 2:
        first = _slots_of(parts[0] + "？")
        whole = _slots_of(question)
        return [x for x in first if x in whole] + [x for x in whole if x not in first]
    return _slots_of(question)


# What makes a clause a question of its own (吗, 什么, 哪…); a bare 几 is often the company's own
# count (几个资深工程师), so it only asks before a unit of time, money or steps.
_INTERROGATIVE = re.compile(r"吗|呢|什么|啥|哪|多少|怎么|咋|谁|多久|多长|是否|能否|要不要|是不是|有没有|能不能|会不会|"
                            r"可不可以|用不用|需不需要|算不算|行不行|几(?=天|年|月|号|点|个?工作日|万|成|步|次|档|类|种|项)")
_CLAUSES = re.compile(r"(?<=[？?；;。！!，,])")


def question_parts(question: str) -> list[tuple[str, str]]:
    """The separate questions of a question in several parts (人才购房补贴最多能拿多少？是一次性打给他吗),
    each as (what was said just before it, the question); one part when it asks one thing."""
    clauses = [c for c in _CLAUSES.split(question) if c.strip()]
    parts, context = [], ""
    for clause in clauses:
        if _OWN_COUNT.search(clause) or not _INTERROGATIVE.search(_OWN_COUNT.sub("", clause)):
            context += clause
            continue
        parts.append((context, clause.rstrip("，,；;。！!？? ")))
        context = ""
    return parts if len(parts) >= 2 else [("", question)]


# 比较大, 比较多: an adverb of degree, not a comparison
_RATHER = re.compile(r"比较(?=[大多少高低好难快慢严急紧复杂麻烦])")


def _slots_of(question: str) -> list[str]:
    found = [slot for slot, pattern in _ASKS if pattern.search(question)]
    # "有效期多久" asks for a duration, not an application window.
    if DURATION in found and WINDOW in found and not re.search(r"申报|受理|截止|开始|随时", question):
        found.remove(WINDOW)
    if DURATION in found and _FORMS[PAYOUT][0].search(question):
        found.remove(DURATION)  # 一次给齐还是分几年发: how it is paid out, not how long anything takes
    # "能拿多少" / "标准" is an amount even when 比例 is not named; "比例" beats a bare 多少.
    if RATIO in found and AMOUNT in found and not re.search(r"多少钱|金额|几万|最高", question):
        found.remove(AMOUNT)
    if LIST in found and AMOUNT not in found and re.search(
            r"(?:哪些|什么|哪几|哪)(?:类|种|项)?.{0,4}(?:奖励|补贴|资助|扶持|奖补|贴息|支持)|"
            r"(?:奖励|补贴|资助|扶持|奖补|贴息|支持).{0,4}(?:有哪些|有什么|包括|哪几)", question) and \
            not {MATERIALS, CONDITIONS, PROCEDURE, DEPARTMENT, WINDOW} & set(found) and \
            not re.search(r"除了?[^，,。？?]{0,10}(?:奖|钱|补)", question):
        # "有什么奖励？" lists the amounts: the clauses that state them answer it (除了奖钱还有哪些支持:
        # not the amounts).
        found.insert(0, AMOUNT)
    if AMOUNT in found and YESNO in found and not re.search(r"多少|几万|金额|标准|最高|上限|额度|怎么算|如何计算|怎么计算", question):
        found.remove(AMOUNT)  # 能拿昆山的奖励吗: whether, not how much
    if re.search(r"(?:什么时候|何时|多久|几时)(?:能|会|才能|可以|才)?(?:到账|拨付|拨下来|发放|发下来|兑现|打款|打过来)", question):
        # 钱什么时候能到账: how the money is paid (公示无异议后直接拨付至对公账户), not when to apply
        found = [PROCEDURE] + [x for x in found if x not in (PROCEDURE, WINDOW)]
    if PROCEDURE in found and found[0] != PROCEDURE and re.search(r"(?:怎么|如何|怎样)(?:申请|办理?|报|申报).{0,12}还是", question):
        # 怎么申请，是上网填表还是去窗口交材料: the way is asked; 窗口 and 材料 are the options offered.
        found = [PROCEDURE] + [x for x in found if x != PROCEDURE]
    if PROCEDURE in found and MATERIALS in found and re.search(r"从[^，,。？?]{1,8}到", question):
        # 从交材料到拨款，流程是咋走的: the steps between, not the papers.
        found = [PROCEDURE] + [x for x in found if x not in (PROCEDURE, MATERIALS)]
    if found[:1] != [DEPARTMENT] and re.search(r"哪(?:些|几个|几家)(?:部门|单位|机构|科室)", question):
        # 还有哪些部门配合: the departments are the list asked for
        found = [DEPARTMENT] + [x for x in found if x != DEPARTMENT]
    if COMPARISON in found and not dict(_ASKS)[COMPARISON].search(_RATHER.sub("", question)):
        found.remove(COMPARISON)  # 出过比较大的事故: 比较 says how big, it compares nothing
    if CONSEQUENCE in found:
        # 会有什么后果 asks what happens, not for a list; 会不会被罚 is not a plain yes or no.
        found = [CONSEQUENCE] + [x for x in found if x not in (CONSEQUENCE, LIST, YESNO)]
    if found == [YESNO] and _ASKS_ELIGIBILITY.search(question):
        # 这几台能一起报吗 / 还会再给钱吗: whether the company qualifies, which the conditions decide.
        found.append(CONDITIONS)
    if COUNT in found and not dict(_ASKS)[COUNT].search(_OWN_COUNT.sub("", question)):
        found.remove(COUNT)  # 我们有几个博士…，能办哪些事: the company's own count, not the one asked
    if COUNT in found and AMOUNT in found and not re.search(r"多少钱|金额|几万|奖励|补贴|资助|支持", question):
        found.remove(AMOUNT)
    elif COUNT in found and AMOUNT in found:
        found.remove(COUNT)
    return found


FACT_SLOTS = {AMOUNT, RATIO, COUNT, WINDOW, DURATION, DEPARTMENT}  # one figure, date or place is the answer


def single_fact(slots: list[str]) -> bool:
    return bool(slots) and slots[0] in FACT_SLOTS and LIST not in slots and COMPARISON not in slots


# -- what a sentence states ------------------------------------------------------------------------

# A figure in digits or in Chinese numerals (documents write both: 327元 and 三百二十七元).
_NUM = r"(?:\d+(?:\.\d+)?|[一二三四五六七八九十两百千]+)"
_MONEY = _NUM + r"\s*(?:万|亿|千)?元"
_STATES: dict[str, re.Pattern[str]] = {
    AMOUNT: re.compile(_MONEY + r"|最高(?:不超过)?\s*" + _NUM + r"|给予.{0,12}(?:奖励|补贴|资助|支持)\s*" + _NUM
                       + r"|\d+(?:\.\d+)?\s*%"),
    COUNT: re.compile(r"\d+\s*余?\s*(?:个|项|家|场|所|人|次|回|亩|平方米|倍|分|类)|[两二三四五六七八九十]\s*(?:次|回)"),
    RATIO: re.compile(r"\d+(?:\.\d+)?\s*%|百分之|\d+\s*[:：比]\s*\d+\s*(?:比例)?分担|按.{0,10}比例"),
    WINDOW: re.compile(
        r"每年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?\s*(?:至|到|—|-|~)|\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日\s*(?:至|到|—|-|~|前|起)|"
        r"\d{1,2}\s*月\s*\d{1,2}\s*日\s*(?:至|到|—|-|~|前)|申报时间|受理时间|集中受理|集中申报|常年受理|随时申报|申报期|逾期不予受理|截止|"
        r"(?:按|每)年度?(?:分批|集中)(?:组织|开展|受理|申报)|分批组织|"
        r"每年\s*\d{1,2}\s*月份?(?:集中)?(?:申报|受理)|\d{1,2}\s*[:：]\s*\d{2}"),
    DURATION: re.compile(r"期限(?:最长)?(?:不超过|不超|为)?\s*[一二三四五六七八九十两\d]+\s*(?:年|个月)|(?:连续|累计|最长(?:不超过|不超|可达|为)?|为期|共)\s*(?:补贴|发放|享受|支持)?\s*[一二三四五六七八九十两\d]+\s*(?:年|个月|天)|\d+\s*个?工作日|\d+\s*(?:天|日)内|[一二三四五六七八九十\d]+\s*(?:个月|年)内|即办|当场办结|当日办结|\d+\s*小时|"
                         r"(?:有效|建设|支持|补贴|培育|考核|运营|服务)期(?:为|是|一般为)?\s*[一二三四五六七八九十两\d]+\s*(?:年|个月)|(?:不少于|不得少于|至少|提前)\s*[一二三四五六七八九十两\d]+\s*(?:个?工作日|天|日|年|个月)|(?:每次|单次)(?:不超过|最长|最多)\s*[一二三四五六七八九十两\d]+\s*(?:年|个月|天|日)|每(?:个)?(?:季度|月|半年)[^，。；]{0,6}(?:审核|受理|评审|发放|拨付)|[一二三四五六七八九十\d]+\s*(?:个?工作日|天|日|个月|年)(?:后|以后|之后)"),
    # A list of papers: a word that says so, or two papers named (领取营业执照 alone is not one).
    MATERIALS: re.compile(r"材料|申请表|申请书|复印件|承诺书|清单|凭证|(?:证明|营业执照|报告|合同|发票|身份证|章程|证书).{0,40}"
                          r"(?:证明|营业执照|报告|合同|发票|身份证|章程|证书)"),
    DEPARTMENT: re.compile(
        r"向.{1,24}(?:提交|申请|申报|报送)|(?:提交|报送|报)至.{1,20}|受理部门|牵头单位|责任单位|承办单位|主管部门|"
        r"由.{2,16}(?:牵头|负责|受理)|窗口|驿站|服务中心|热线|12345|"
        r"(?:局|委|办|中心|部门)(?:受理|审核|初审|负责|牵头|咨询和报送|报送|提交)|负责解释|网上办理|一网通办|登录|电话|"
        r"平台(?:上)?(?:申报|提交|办理|申请|填报|预约|受理)|(?:通过|在).{0,16}平台(?:上)?(?:申报|提交|办理|申请|填报|预约)"),
    CONDITIONS: re.compile(r"须|应当|符合|条件|满足|具备|不得|以上|以下|不低于|不超过|达到|首次|经认定|注册|依法登记"),
    PROCEDURE: re.compile(r"流程|步骤|审核|初审|复核|公示|拨付|提交|申请|办理|受理|登录|领取|核查|审批|先.{1,10}再"),
}


# A yes or a no in the policy's words (allowed, not allowed, not needed, not counted, except):
# what a 能不能 / 还要…吗 question is answered by.
_VERDICT = re.compile(r"不得|不予|不能|不可|不单独|不另行|不纳入|不属于|不包括|不含|除外|不再|不重复|就高|可以|均可|"
                      r"可(?:直接|同时|叠加|申请|享受|在|通过|按)|无需|不需|不必|不用|即可|允许|免于|免收|不收费|"
                      r"仅限|只能|方可|差额|补足|叠加|重复享受|全新|二手")


# What one step of a procedure does (审核, 公示, 拨付…): a materials list names papers, not steps.
_STEP = re.compile(r"初审|审核|复核|评审|核查|公示|拨付|发放|出具|推荐|登记|派单|答复|回访|确认|核发|送达|网上申报|提出申请")


_PENALTY = re.compile(r"追回|收回|自行废止|作废|纳入.{0,10}(?:低效|淘汰|整治|失信).{0,6}(?:清单|名单)|不予返还|不予退还|扣减|没收|取消.{0,8}资格|列入.{0,10}(?:失信|黑名单|名单)|处罚|罚款|追究|不予受理|停止享受|退回已")


def states_penalty(sentence: str) -> bool:
    """The sentence says what happens to a company that breaks the rules (追回资金, 取消申报资格)."""
    return bool(_PENALTY.search(sentence))


def states_step(sentence: str) -> bool:
    return bool(_STEP.search(sentence))


def step_count(sentence: str) -> int:
    """How many distinct steps a sentence names (提出申请, 出具意见, 办理登记: a procedure)."""
    return len(set(_STEP.findall(sentence)))


# Ways of asking that one kind of sentence answers: what the question says, what the answer says.
CAP = "cap"          # 最多给多少 → 单个企业最高200万元
CLASSES = "classes"  # 分成哪几档 → 分为A类（优先发展）、B类…四类
THRESHOLD = "threshold"  # 营收要到多少 → 年主营业务收入在2000万元及以上
BASIS = "basis"      # 按审计报告的数算还是按税务的 → 以税务部门加计扣除口径为准
PAYOUT = "payout"    # 一次给齐还是分几年发 → 20万元以上的，分5年发放；20万元及以下的，一次性发放
IN_FORCE = "in_force"  # 那个实施意见哪天开始执行、管到哪年 → 自2026年1月1日起施行，有效期至2028年12月31日
ISSUER = "issuer"    # 那个通知是哪个部门发的、文号多少 → 《…》（昆工信发〔2026〕3号）由昆山市工业和信息化局印发
LAW = "law"          # 环评是依据哪部法律要求办的 → 依据《中华人民共和国环境影响评价法》…制定本指引
PURPOSE = "purpose"  # 分期供地的出发点是什么 → 为盘活存量低效工业用地，防止"圈而不用、多占少用"…制定本细则
_FORMS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    CAP: (re.compile(r"最多|最高|上限|封顶|顶格|最大|at most|maximum|up to", re.I),
          re.compile(r"最高|最多|不超过|上限|封顶")),
    CLASSES: (re.compile(r"分(?:成|为)(?:哪|几|什么)|哪几(?:档|类|级|等)|几(?:档|类|级|等)|什么(?:档次|等级|类别)"),
              re.compile(r"分为.{0,60}(?:[两三四五六七八九十\d]|几)(?:类|档|级|等|种)|(?:[A-D]|甲|乙)类.{0,20}(?:[B-D]|乙|丙)类")),
    THRESHOLD: (re.compile(r"(?:要|需要?|得|必须)(?:达)?到多少|达到多少|至少(?:要|得)?(?:有|达到)?多少|起码(?:要)?多少|门槛(?:是|有)?多"),
                re.compile(r"(?:\d|[一二三四五六七八九十百千万])\s*(?:万|亿)?(?:元|人|亩|%|千瓦时)?\s*(?:及|或)?(?:以上|以下)|不低于|不少于|达到|超过|满\s*\d")),
    BASIS: (re.compile(r"口径|为准|(?:按|以)(?:哪个|哪种|什么)(?:数|口径|数据|报表)|按[^，,。？?]{1,14}算[^，,。？?]{0,3}[，,]?还是"),
            re.compile(r"为准|口径|按照?[^，,。；;]{0,14}(?:计算|核定|核算)")),
    IN_FORCE: (re.compile(r"(?:哪天|哪一天|什么时候|何时|几号|啥时候|哪年|几月)(?:开始|起)?(?:执行|施行|实施|生效)|(?:执行|施行|实施|生效)(?:的)?(?:日期|时间)|"
                          r"(?:办法|意见|措施|细则|政策|文件|通知|规定|指南|方案|rule|policy|measures)[^，,。？?]{0,8}(?:还有效|有效期|管到|失效|过期|到期|废止|still in force|in effect|valid)|"
                          r"管到哪|还有效吗|还有效不|是否(?:还)?有效|还在有效期|still (?:in force|valid|in effect)|valid until|"
                          r"when (?:does|did) (?:it|the \w+) (?:take effect|expire)", re.I),
               re.compile(r"施行|有效期|印发之日|废止")),
    ISSUER: (re.compile(r"(?:哪个|哪一?个|什么)(?:部门|单位|机关|机构)(?:印发|发布|出台|制定|下发|发)的?|谁(?:印发|发布|出台|制定|发)的|"
                        r"(?:发文|发布|印发)(?:单位|机关|部门)|文号(?:是|为)?(?:多少|什么|啥)|什么文号|(?:who|which (?:body|department)) issued", re.I),
             re.compile(r"印发|发布")),
    LAW: (re.compile(r"(?:依据|根据|按照?|依照)(?:的是)?(?:哪|什么)(?:部|个|些|条|几部)?(?:法|规定|文件|条例)|(?:法律|法规|政策|上位法)依据|"
                     r"上位法|哪部法|什么法律|哪些法律|(?:under|according to) (?:which|what) (?:laws?|regulations?)|legal basis", re.I),
          re.compile(r"(?:依据|根据|依照|按照)[：:]?《[^》]{2,40}(?:法|条例|规定|决定)》|《[^》]{2,30}(?:法|条例)》")),
    PURPOSE: (re.compile(r"出发点|目的(?:是|何在|在哪)|(?:什么|啥)目的|初衷|用意|为什么要?(?:搞|推|出台|实行|实施|制定|设立?|建)|"
                         r"(?:想|要|主要)(?:解决|防|防止|避免)(?:什么|哪种|哪些|啥)|what is the purpose|why (?:does|did|is|was) (?:it|the)", re.I),
              re.compile(r"^(?:第[一二三四五六七八九十]+条\s*)?为了?.{4,80}(?:制定|特制定|出台)|旨在|防止|避免|着力解决")),
    PAYOUT: (re.compile(r"一次(?:性)?(?:给|发|付|拨|领)|分(?:几|多少|\d+)?(?:年|期|次|批)(?:给|发|付|拨|领|兑现)|(?:钱|补贴|奖励|奖金)(?:是|会)?怎么(?:发|给)|一次给齐"),
             re.compile(r"一次性(?:发放|拨付|给予|兑现)|分\s*[\d一二三四五]+\s*(?:年|期|次|批)(?:发放|拨付|兑现)|分期(?:发放|拨付|兑现|支付)")),
}


# E类人才具体指哪些人 / “两端”指的是什么: what a term stands for, which the clause that defines it says
# (E类人才（硕士研究生、副高级职称…）, 本办法所称X，是指…)
_MEANS = re.compile(r"([A-Za-z\u4e00-\u9fff“”\"]{2,12}?)[，,]?(?:具体|到底|主要)?(?:指的是|是指|指)(?:哪些|什么|哪几|啥|哪一?类)")


@lru_cache(maxsize=1024)  # (asked once per candidate sentence of the same question)
def asked_term(question: str) -> str:
    """The term whose meaning is asked (E类人才 of E类人才具体指哪些人), or ""."""
    match = _MEANS.search(question)
    # (人才分类目录里的E类人才 → E类人才: the words after the last 的/里 name the term)
    return re.split(r"[的里中之“”\"、，,]", match.group(1).rstrip("“”\""))[-1] if match else ""


def defines(sentence: str, term: str) -> bool:
    """The sentence says what the term stands for: the term with its meaning in brackets after it, or 是指."""
    at = sentence.find(term)
    return at >= 0 and bool(re.match(r".{0,3}?[（(]|[^。]{0,6}?是指", sentence[at + len(term):]))


_BENEFIT_KINDS = re.compile(r"(?:哪几|几)(?:类|种|项)(?:奖励|补贴|资助|扶持|奖补|支持)|"
                            r"(?:奖励|补贴|资助|扶持|奖补)[^，,。？?]{0,4}(?:哪几|几)(?:类|种|项)|"
                            r"有(?:什么|哪些|啥)(?:样的)?(?:奖励|补贴|资助|扶持|奖补)[吗呢？?]*$")
# Sections of a policy that say how to apply, not what it gives.
_PROCEDURAL_HEADING = re.compile(r"申报|申请|受理|材料|流程|程序|时间|条件|其他|附则|说明|监督|管理|职责|总则")


def asks_benefit_kinds(question: str) -> bool:
    """一共有哪几类奖励 / 补贴一共有哪几项: the kinds of benefit a policy gives (its benefit sections)."""
    return bool(_BENEFIT_KINDS.search(question))


def procedural_heading(heading: str) -> bool:
    return bool(_PROCEDURAL_HEADING.search(heading))


def asks_any_form(question: str) -> bool:
    """The question says what it asks by one of the ways above (一次给齐还是分几年发), even where it
    names no slot: a follow-up so put asks that, not the last question's slot again."""
    return any(pattern.search(question) for pattern, _ in _FORMS.values())


@lru_cache(maxsize=4096)  # (asked once per candidate sentence of the same question)
def asks(form: str, question: str) -> bool:
    return bool(_FORMS[form][0].search(question))


def answers(form: str, sentence: str) -> bool:
    return bool(_FORMS[form][1].search(sentence))


_ASKED_HEAD = re.compile(r"(?:哪些|哪几(?:类|种|个|项)?)([\u4e00-\u9fff]{2,6}?)(?=[？?，,。！!]|$|呢|啊|吗)")
_ASKED_AREA = re.compile(r"(?:在|对|关于)([\u4e00-\u9fff]{2,4}?)(?:方面|这块|这一块)")


def asked_head(question: str) -> str:
    """The kind of thing a list question asks for: 围绕哪些主导产业？ → 主导产业; 在生活方面能办哪些事 → 生活."""
    match = _ASKED_HEAD.search(question) or _ASKED_AREA.search(question)
    return match.group(1) if match else ""


# A threshold a company's own figure is measured against (不低于100万元, 30人以上).
_THRESHOLD = re.compile(r"不低于|不少于|不超过|不高于|以上|以下|以内|达到|超过|满\s*\d")


def states_threshold(sentence: str) -> bool:
    return bool(_THRESHOLD.search(sentence))


_WHETHER = re.compile(r"(?:要不要|用不用|需不需要|能不能|可不可以|会不会|是否(?:需要|要|可以|能)?|有没有)"
                      r"(?:一次|马上|立刻|直接|同时|一起|再|都|也|还)?([\u4e00-\u9fff]{1,4})|"
                      r"(?:能|可以|可否)(?:马上|立刻|直接|再|同时|一起)?([\u4e00-\u9fff]{1,3}?)(?:吗|么)[？?]?$")


# 保证金怎么扣: a deduction, refund or stop is asked for by its verb, whatever the slot.
_ACTION = re.compile(r"(?:怎么|如何|怎样|会不会|会|要|能|时候)(扣|罚|追回|收回|退|停)")


# 还能再报吗, 能不能…再去报: whether the same thing may be claimed twice
_AGAIN = re.compile(r"再去?(?:报|申报|申请|拿|领)")


def asked_predicate(question: str) -> str:
    """What a yes-or-no question asks about (要不要交钱 → 交钱, 能不能网上办 → 网上办, 还能再报吗 → 再报)."""
    if (again := _AGAIN.search(question)) and re.search(r"能|可以|可否|行不行", question):
        return again.group(0)
    m = _WHETHER.search(question)
    return next((g for g in m.groups() if g), "") if m else ""


def asked_action(question: str) -> str:
    """The deduction, refund or stop a question asks how it happens (剩下的怎么扣 → 扣)."""
    m = _ACTION.search(question)
    return m.group(1) if m else ""


def states_verdict(sentence: str) -> bool:
    return bool(_VERDICT.search(sentence))


# Words of an article's heading that say which slot the article answers (四、申报条件).
HEADING_WORDS = {
    CONDITIONS: re.compile(r"条件|资格|对象|范围|要求"),
    MATERIALS: re.compile(r"材料|资料|清单"),
    WINDOW: re.compile(r"时间|期限|安排"),
    DEPARTMENT: re.compile(r"受理|部门|地点|窗口|联系|渠道"),
    PROCEDURE: re.compile(r"流程|程序|步骤|方式|办理(?!时限|时间|地点|部门|渠道|内容|事项|范围)"),
    AMOUNT: re.compile(r"标准|金额|奖励|补贴|资助|支持"),
    DURATION: re.compile(r"时限|期限|时间"),
}


def heading_states(heading: str, slot: str) -> bool:
    pattern = HEADING_WORDS.get(slot)
    return bool(pattern and pattern.search(heading))


def headed_elsewhere(heading: str, asked: list[str]) -> bool:
    """The heading names another kind of fact than the ones asked (返还条件 for a ratio)."""
    return not any(heading_states(heading, slot) for slot in asked) and any(
        heading_states(heading, other) for other in HEADING_WORDS if other not in asked)


# When a policy takes effect or ends (自2026年1月1日起施行, 有效期至…) is not an application window.
_IN_FORCE = re.compile(r"施行|有效期至|印发之日")
_APPLYING = re.compile(r"申报|受理|申请|报送|提交")


def sentence_slots(sentence: str) -> set[str]:
    found = {slot for slot, pattern in _STATES.items() if pattern.search(sentence)}
    if WINDOW in found and _IN_FORCE.search(sentence) and not _APPLYING.search(sentence):
        found.discard(WINDOW)
    return found


# -- entities a question names --------------------------------------------------------------------

LEVELS = {
    "国家级": re.compile(r"国家级|国家(?:级|重点|首台|认定|示范|专精特新)|国家高新|全国"),
    "省级": re.compile(r"省级|江苏省(?!.{0,2}苏州)|(?<![市区县])省(?:重点|专精特新|认定|科技|技术|首台|工程|企业|示范|领军|双创|里)"),
    "苏州市级": re.compile(r"苏州市级|苏州市(?!.{0,3}昆山)|苏州(?:市)?(?:认定|级)"),
    "昆山市级": re.compile(r"昆山市级|昆山级|县级|昆山(?:本级|本地)"),
    "区级": re.compile(r"区级|区镇级|园区级|镇级"),
}


def levels(text: str) -> set[str]:
    return {name for name, pattern in LEVELS.items() if pattern.search(text)}


def strip_levels(text: str) -> str:
    """The text without the levels it names (国家重点小巨人 → 小巨人)."""
    for pattern in LEVELS.values():
        text = pattern.sub("", text)
    return re.sub(r"^(?:级|市级)", "", text)


_BARE_CITY_LEVEL = re.compile(r"(?<![州山省])市级")


def levels_in(text: str, title: str) -> set[str]:
    """The levels a policy passage names, a bare 市级 read as its own city's (市级攻关项目 in a 昆山 policy
    is 昆山市级)."""
    found = levels(text)
    if _BARE_CITY_LEVEL.search(text):
        city = "昆山市级" if "昆山" in title else "苏州市级" if "苏州" in title else None
        if city:
            found.add(city)
    return found


_YEAR = re.compile(r"(20\d{2})\s*年")


# "21年出的那个措施": a year said with two digits, where what follows shows it is a year.
_SHORT_YEAR = re.compile(r"(?<![\d.])([12]\d)年(?=[的那出发印版昆苏省市底初中])")


# A year of the company's own story (2025年才注册, 2024年评上) names no policy.
_COMPANY_EVENT = re.compile(r"\s*(?:[才刚就已]|年底|年初|年中)?\s*(?:注册|成立|设立|开业|投产|认定|评上|获评|入库|入选|搬|迁|上市|招|拿到|取得|获得|购买|买)")


def company_years(text: str) -> set[int]:
    """The years of the company's own story (2025年才注册): no passage is about them."""
    return {int(m.group(1)) for m in _YEAR.finditer(text) if _COMPANY_EVENT.match(text, m.end())}


def years(text: str) -> set[int]:
    """The years a question names as a policy's (2021年的措施, 21年出的), not the company's."""
    found = {int(m.group(1)) for m in _YEAR.finditer(text) if not _COMPANY_EVENT.match(text, m.end())}
    return found | {2000 + int(y) for y in _SHORT_YEAR.findall(text)}


_LATEST = re.compile(r"现在|目前|现行|最新|当前|今年|眼下|如今|新版|latest|current", re.I)


def asks_latest(text: str) -> bool:
    # (2021年那个措施现在还有效吗 asks about that one, not for the newest revision)
    return bool(_LATEST.search(text)) and not (asks(IN_FORCE, text) and years(text))


# -- refusals that no document can fix --------------------------------------------------------------

_CHEATING = re.compile(
    r"虚报|虚增|虚开|虚构|造假|假材料|伪造|骗取|骗补|套取|套现|多报|瞒报|冒充|挂靠.{0,6}(?:凑|充)|"
    r"(?:不容易|(?<!会)不会|不被|避免|怎么躲|逃过|绕过).{0,6}(?:发现|查出|查到|核查|审核|检查)|钻.{0,4}空子|走后门|找关系|"
    r"露馅|做假账|假账|做高一?点|做低一?点|做大一?点|(?:数据|数字|报表|账|营收|收入|税收|发票|材料).{0,6}(?:改一改|改一下|修改一下|调一调|调高|调低|做高|做低|做大|美化|包装一下)|"
    r"(?:把|将).{0,8}(?:数据|数字|营收|收入).{0,4}改|买发票|借.{0,4}(?:专利|人才|资质).{0,4}(?:凑|充数|挂)|刷单|刷数据|"
    r"弄虚作假|作假|造假|虚开|假发票|假合同|阴阳合同|挂名|挂靠|借用.{0,4}资质|冒用|串通|围标|刷流水|"
    r"(?:数据|报表|发票|合同|材料|人数|社保).{0,4}(?:编一?下|凑一?下|造一?下|做一?下手脚)|做手脚|瞒(?:着|过)|躲过|"
    r"规避.{0,4}(?:审核|检查|监管|核查)|套补|骗补|重复申领.{0,6}(?:办法|怎么|如何)|"
    # Figures made bigger, papers borrowed or bought, reviewers kept from seeing: the shape of the
    # request, whatever the words for the figure.
    r"多写(?:一?点|些)|写大(?:一?点|些)|报大(?:一?点|些)|反正.{0,10}(?:不会|没人|不).{0,4}(?:查|量|核|看|管)|"
    r"(?:多算|算多|报多(?!少|久|长|个)|多报|写高|写多(?!少)|报高(?!新|校|层|级|企)|改高|填高|虚高|抬高).{0,12}(?:拿|领|补|奖|通过|没人|吧|吗)|"
    r"(?:借|租|买).{0,6}(?:社保|人头|员工|专利|资质|证书|发票).{0,6}(?:凑|充|用|先用|顶)|凑数|凑人头|"
    r"(?:挪到|挪一下|挪用|换个名字|换个名义|换个壳).{0,12}(?:报|申|拿)|变通.{0,8}(?:拿到|拿|通过|申请)|"
    r"(?:看不出|查不出|没人查|不会查|发现不了|不会被查|不被查)|包装一下|"
    r"(?:专利|资质|证书|社保|发票).{0,8}(?:买|借|租).{0,6}(?:先用|凑|充|顶)|中介.{0,8}(?:做|编|弄|包装).{0,4}(?:材料|数据|账)|"
    # A year's figures moved to another year, a reviewer talked round, one project split to be paid
    # twice, an invoice written bigger.
    r"(?:去年|今年|明年|上年|往年)的?.{0,8}(?:写成|挪到|改成)(?:今年|去年|明年|本年)|通融|打招呼|走关系|疏通|送礼|好处费|放一马|"
    r"睁一只眼|(?:拆成|拆分|分拆).{0,16}多拿|多拿一份|(?:发票|合同|金额|数字).{0,8}(?:开大|开高|多开|写大|做大)|"
    # Papers dated back or signed for show: 日期开成去年, 倒签, 签个假的租房合同.
    r"日期.{0,6}(?:开成|写成|改成|提前|往前)|倒签|(?:假的?|虚假的?|阴阳)(?:劳动|租房|租赁|购销|技术)?(?:合同|发票|协议)|"
    r"签个?假|虚开|互相签|"
    # Work done for hire to reach a threshold, books adjusted "a little", reviewers asked for marks.
    r"(?:找人|请人|花钱|外包)(?:代做|代写|代编|做|写|编).{0,8}(?:专利|论文|数据|账|报表|研发项目)|凑(?:够|满).{0,10}(?:数量|人数|个数|指标|门槛|专利|条件)|"
    r"(?:调|改|做|动)(?:一下|一调|一点|点儿?)(?:报表|账目?|数据|营收|收入|研发费用)|"
    r"(?:评审|专家|评委|审核人员|工作人员).{0,10}(?:打高分|给高分|高抬贵手|关照一下|照顾一下)|打个?高分|"

    r"(?i:\b(?:inflate\w*|overstat\w*|exaggerat\w*|fake|falsif\w*|forge|fabricat\w*|cheat\w*|brib\w*|fudg\w*)\b|"
    r"without (?:being|getting) caught|(?:adjust|tweak|massag|pad)\w* (?:the |our )?(?:numbers|figures|books|revenue|accounts)|cook the books)")
_ACCOUNT = re.compile(
    r"(?:钱|资金|奖励|补贴|奖补|款).{0,8}(?:到账了|打到账|打过来了|拨下来了|发下来了|到位了|到了吗|到了没|收到了)|到账了[吗没]|到没到账|打款了[吗没]|"
    r"(?:我们|我司|我的|本公司|我们公司).{0,20}(?:审核|审批|申请|申报|办理|材料)(?:到哪|进度|结果|通过了?吗|怎么样了|批了吗)|"
    r"(?:办理|审批|审核|申报)进度|(?<![检核审调抽排督巡])查(?:一下|询|查)?(?:一下)?(?:我们|我司|我的|本公司|我公司|我们公司)|案件(?:号|状态)|"
    r"(?:我们|我司|我的|本公司|我们公司|我们厂).{0,16}(?:通过了没|批了没|批下来了?没|审核结果|到哪一步|有没有通过|通过没有|通过了没有|拨付了没|发了没)|"
    r"(?:我们|我司|本公司|公司|我们厂|我单位)的?.{0,12}(?:申请|申报|材料|补贴|奖励|资金|款项|审批|审核).{0,8}"
    r"(?:怎么样了|到哪了|到哪一步|有结果了?吗|批下来了?吗|通过没|下来了吗|办好了吗|出来了吗|什么进展|有进展吗)|"
    r"还没(?:到账|收到钱|拨付|批下来)|帮(?:我|我们|忙)?查(?:一?下|查|一查)?.{0,12}(?:到哪|哪一步|进度|结果|状态|怎么样了|"
    r"(?:出来|下来|批|通过|公示)了?(?:没有|没|吗))|办到哪一步|"
    # 帮我看一下…同步过去了没有: a look at one company's case, whatever the step is called
    r"帮(?:我|我们|忙)(?:查|看)(?:一?下|查|一查|看)?[^？?]{0,24}了(?:没有|没)|(?:钱|款|资金|补贴|奖励)批下来了?(?:没有|没|吗)|"
    r"(?:受理|工单|案件)编号.{0,16}(?:查|到哪|进度)|(?:查|看)(?:一下|一查)?.{0,6}(?:进度|办理状态|审核状态)|"
    # "our …" + a state only the case file knows (批了吗, 出了没有, 怎么还没到, 被退回).
    r"(?:我们|我司|我公司|本公司|我们公司|我们厂|我们企业|我单位).{0,20}(?:批了吗|批了没|出了没|出来了没|发放了没|发了吗|"
    r"怎么还没|还没到|被退回|退回了|通过了吗|(?<![会能就动己将])到账|(?<![会能就将])打款)|打到(?!哪)[^，,。？?]{0,6}(?:账户|账上)(?=了|没|吗|上了|上没)|"
    r"(?:提交|交上去|报上去)的.{0,8}被退回|"
    # where our case stands, whether we are on a list, what one company (by its code) was given
    r"(?:申请|申报|材料|审批|项目)(?:现在|目前)?(?:到|在|走到)了?哪个?(?:环节|阶段|一步)|(?:初审|复审|审核|复核|审批|评审)(?:过|通过)了?(?:没有|没|吗)|(?:名单|公示|结果).{0,12}有没有(?:我们|我司|本公司|我公司)|"
    r"(?:统一社会信用代码|信用代码|税号)\s*[0-9A-Z]{8,}|"

    r"(?:钱|款|资金|保证金|补贴|奖励).{0,6}(?:退了没|退了吗|退没退|退回来了[吗没]|到了没有|到没到|发了没有|拨了没)|"
    r"(?i:\b(?:has|have|was|were) (?:our|my) .{0,40}(?:been )?(?:paid|approved|processed|rejected)|status of (?:our|my) application|"
    r"\b(?:our|my) application\b.{0,30}\b(?:status|approved|progress))")
_PERSONAL = re.compile(
    r"个人(?:住房)?公积金|公积金(?:提取|贷款|余额)|个人所得税|" + PERSONAL_TAX + r"|(?:我|本人)的?(?:社保|医保|养老金|退休|工资|体检|病|婚|离婚|孩子|户口)|"
    r"医保报销|养老金|退休金|离婚|遗产|彩礼|我个人|我本人的|我老婆|我老公|我爱人|我妻子|我丈夫|我父母|我孩子|生育津贴|生孩子|产假|"
    r"个人(?:社保|医保|养老|贷款|房贷|征信)|我(?:自己|个人)的|本人(?:的)?(?:社保|公积金|个税|工资|医保|档案)|社保卡|医保卡|"
    r"孩子上学|入学|我(?:女儿|儿子|家小孩|小孩|闺女)|上(?:小学|幼儿园|初中)|小升初|中考|高考|房贷|征信|离职证明|失业金|退休手续|提取公积金|公积金.{0,4}(?:买房|贷款|提取|缴存)|我失业|失业了|我家孩子|"
    r"(?:我|本人)(?:自己)?(?:辞职|离职|被辞退)|(?:我|本人)(?:自己|个人)?.{0,6}(?:报考|考证|考个证)|灵活就业|(?:我|本人)自己.{0,8}(?:买|卖)了?.{0,4}房|个人.{0,4}(?:过户|买房|卖房)|二手房|"
    r"(?i:housing (?:provident )?fund|\bmy (?:pension|salary|personal income tax|social insurance|medical insurance)\b)")


# 要是报告表还没批下来就先干起来，会怎样: what follows, not where a case stands.
_HYPOTHETICAL = re.compile(r"要是|如果|万一|假如|假设")
# 云客服能查进度吗: whether a channel offers look-ups is a question about the channel.
_SERVICE_LOOKS_UP = re.compile(r"(?:云客服|客服|热线|12345|系统|小程序|APP|app|平台|网上|线上|窗口)(?:能|可以|能不能|可不可以|是否可以|支持)(?:帮忙|帮我们)?查|"
                               r"除了?[^。？?]{0,30}查(?:询)?进度")  # 除了…查进度以外还能问哪些
# (才不会被认定是串通: how not to be caught, which is no question about what follows)
_CONSEQUENCE = re.compile(r"会怎么样|会怎样|什么后果|有什么后果|怎么处理|如何处理|怎么处罚|处罚|追责|追回|(?<!不)会被|"
                          r"查出来(?:后|以后|之后)|要不要退|还能不能再(?:申报|申请|报)")


def refusal_intent(question: str) -> str | None:
    """'cheating', 'account_status' or 'personal' for requests no policy text may answer."""
    if _CHEATING.search(question) and not _CONSEQUENCE.search(question):
        return "cheating"
    if _ACCOUNT.search(question) and not (_HYPOTHETICAL.search(question) and _CONSEQUENCE.search(question)) \
            and not _SERVICE_LOOKS_UP.search(question):
        return "account_status"
    if _PERSONAL.search(question):
        return "personal"
    return None


_LATIN = re.compile(r"[A-Za-z]")
_HAN = re.compile(r"[\u4e00-\u9fff]")


def is_english(text: str) -> bool:
    """Mostly Latin letters, Chinese at most for a name quoted in passing (the 扩岗补助 subsidy):
    answered in Chinese with a short note."""
    latin = len(_LATIN.findall(text))
    return latin >= 8 and len(_HAN.findall(text)) <= max(2, latin // 8)

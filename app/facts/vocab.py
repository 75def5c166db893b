"""Subjects a question can name that make a passage the answer or not.

A question about 量子计算 or 印花税 or 无锡 or 海外仓 is answered by a passage that names it, not
by the closest 技改 clause. These lists name sectors (after GB/T 4754 and the strategic emerging
industries), taxes, places outside Kunshan and programmes enterprise policies often fund; the
answerability check refuses a question whose subject appears in none of the passages found.
"""

from __future__ import annotations

import re

SECTORS = (
    "量子计算 量子信息 量子通信 量子 元宇宙 区块链 直播电商 直播带货 电子商务 跨境电商 电商 数字人民币 消费券 "
    "生物医药 医疗器械 创新药 仿制药 集成电路 芯片 半导体 流片 新能源汽车 汽车零部件 光伏 储能 氢能 锂电池 动力电池 "
    "新材料 航空航天 低空经济 无人机 机器人 大模型 算力 数据中心 云计算 大数据 物联网 工业互联网 网络游戏 游戏 "
    "动漫 影视 文创 文化创意 旅游 酒店 餐饮 零售 批发 物流 快递 冷链 农业 种植 养殖 渔业 林业 畜牧 种业 采矿 煤炭 "
    "石油 化工 纺织 服装 家具 造纸 印刷 食品 饮料 烟草 钢铁 有色金属 建材 房地产 建筑业 银行 保险 证券 "
    "融资租赁 小额贷款 融资担保 教育培训 培训机构 幼儿园 养老 托育 医院 诊所 体育 健身 会展 广告 律所 "
    "会计师事务所 人力资源服务 固废 污水处理 碳交易 碳排放 光电 显示面板 面板 精密机械 模具 船舶 轨道交通 商业航天 "
    "卫星 北斗 生物制造 合成生物 细胞治疗 基因 中医药 宠物 化妆品 外卖 网约车 共享单车 民宿 农家乐 预制菜 "
    "新能源 电动车 充电桩 半导体设备 光刻 纳米 石墨烯 稀土 核电 风电 水电"
).split()

TAXES = (
    "印花税 增值税 消费税 房产税 城镇土地使用税 土地增值税 契税 车船税 关税 环境保护税 资源税 预缴 汇算清缴 "
    "出口退税 留抵退税 个人所得税 个税 社保基数 公积金基数 积分落户 落户 摇号 签证 公租房 经济适用房 廉租房"
).split()

# Cities and county-level cities other than Kunshan (and Suzhou, whose city-level policies the
# corpus holds): a question about their rules is not answered by Kunshan's.
OTHER_PLACES = (
    "北京 上海 天津 重庆 深圳 广州 杭州 宁波 南京 无锡 常州 南通 扬州 镇江 泰州 盐城 淮安 宿迁 连云港 徐州 "
    "常熟 张家港 太仓 江阴 宜兴 义乌 温州 合肥 武汉 成都 西安 长沙 郑州 济南 青岛 厦门 福州 东莞 佛山 珠海 "
    "香港 澳门 台湾 前海 浦东 临港 雄安 海南 美国 日本 韩国 德国 新加坡 英国 法国"
).split()

# Things enterprise policies commonly fund that a question names as its subject (建海外仓,
# 新设博士后工作站, 吸纳退役军人): a passage about another programme does not answer it. Words a
# company uses to describe itself (上市公司, 外贸企业) are left out on purpose.
PROGRAMMES = (
    "海外仓 境外展会 广交会 进博会 展位费 临床试验 一致性评价 博士后工作站 博士后 院士工作站 技能大师工作室 "
    "出口信用保险 信用保险 首贷 创业担保贷款 担保费 退役军人 残疾人 就业见习 以工代训 稳岗 职业技能培训 技能培训 "
    "贯标 质量奖 地理标志 驰名商标 商标 品牌建设 老字号 绿色工厂 清洁生产 节能改造 碳足迹 标准制定 "
    "上市奖励 挂牌奖励 新三板 北交所 科创板 发行债券 研学 夜间经济 首店"
).split()

_TERMS = sorted(set(SECTORS) | set(TAXES) | set(OTHER_PLACES) | set(PROGRAMMES), key=len, reverse=True)
# 个税 as a word (那个税务 holds none); the personal-matter shape in slots.py reads it the same way
PERSONAL_TAX = r"(?<![那这哪一每几某])个税(?!务)"
_PATTERN = re.compile("|".join(PERSONAL_TAX if t == "个税" else re.escape(t) for t in _TERMS))


def key_terms(text: str) -> list[str]:
    """The sectors, taxes and outside places a text names (longest match first), except where
    the company only describes itself (我们是做模具的, 从上海搬到昆山, 注册地在上海): that is who asks, not what
    about."""
    return [t for t in dict.fromkeys(_PATTERN.findall(text)) if not self_described(t, text)]


def self_described(term: str, text: str) -> bool:
    """The term occurs only where the company says who it is or where it came from (or, in a
    question that asks no benefit, what company it is setting up: 新开一家物流运输公司，…哪些证照)."""
    found = [m.group(0) for m in _SELF.finditer(text)]
    if not _BENEFIT.search(text):
        found += [m.group(0) for m in _OPENING.finditer(text)]
    described = " ".join(found)
    if term in described and text.count(term) == described.count(term):
        return True
    if term in described and term in OTHER_PLACES and not _BACK.search(text) and not _ASKS_BENEFIT.search(_asking(text)):
        return True  # 注册在太仓，准备迁到昆山…档案要回太仓去调吗: the place it comes from, said again
    return _told_beside(term, text)


def _clauses(text: str) -> list[str]:
    return [c for c in re.split(r"(?<=[，,。；;！!？?])", text) if c.strip()]


def _asking(text: str) -> str:
    return "".join(c for c in _clauses(text) if _ASKS.search(c))


# A clause that asks (…吗, 怎么…, 哪个部门) and one that tells about the asker (我们总公司在上海,
# 他毕业后先在上海干了两个月, 我们签了个动力电池项目): a term said only where the asker tells about
# itself, while the question asks about something of its own, is context, not the subject.
_ASKS = re.compile(r"[吗呢？?]|什么|啥|哪|多少|多久|怎么|怎样|如何|能否|是否|可否|有没有|能不能|可不可以|要不要|"
                   r"会不会|是不是|行不行|几[个月天年家种项次]")
_TELLS = re.compile(r"我|咱|本公司|公司|厂|他|她|单位|项目|客户|股东|员工|总部|去年|今年|前年|现在|目前|刚|已经|"
                    r"之前|准备|打算|签了|干了")
_ASK_WORDS = re.compile(_ASKS.pattern + r"|[，,。；;！!、\s“”\"「」]|我们|我司|还|也|能|可以|要|都|这个|那个|这些|那些|这边|那边")


# 海门的… 那边, 养殖用地…这种地: what a later clause points back to is asked about
_BACK = re.compile(r"那边|那里|那儿|当地|该地|这种|这类|这块地|那块地")


def _told_beside(term: str, text: str) -> bool:
    # Only where someone was or is (上海, 太仓) and what a project or another firm makes (动力电池,
    # 模具) can be said in passing; a programme (出口信用保险, 绿色工厂) the company took part in is
    # what a benefit question is about, and so is a sector when a benefit is asked (装了分布式光伏，补多少).
    if term not in OTHER_PLACES and (term not in SECTORS or _ASKS_BENEFIT.search(_asking(text))):
        return False
    if _BACK.search(text):
        return False
    clauses = _clauses(text)
    asking = [c for c in clauses if _ASKS.search(c)]
    if not asking or any(term in c for c in asking):
        return False
    if not any(term in c and _TELLS.search(c) for c in clauses if c not in asking):
        return False
    # (我们厂准备建加氢站。要办什么手续？ asks about nothing else: the 加氢站 is what it is about)
    return len(_ASK_WORDS.sub("", "".join(asking))) >= 6


_OPENING = re.compile(r"(?:新开|开|成立|注册|新办|办)(?:一|个)?(?:家|个)[^，,。？?]{1,10}?(?:公司|企业|厂)")


_SELF = re.compile(r"(?:我们|我司|本公司|公司|企业|我厂|厂里)(?:是|主要)?(?:做|从事|搞|生产|经营)[^，,。？?]{1,14}?的|"
                   # 我们是规上汽车零部件厂, 我们是一家日资精密零部件企业: what the company is
                   r"(?:我们|我司|本公司)是(?:一家|一个|个)?[^，,。？?]{2,14}?(?:厂|企业|公司|工厂)(?![^，,。？?]*[吗？?])|"
                   r"从[^，,。？?]{2,8}?(?:搬|迁)|"
                   # where the company or an employee goes (搬去无锡, 跳槽去上海) and whom it serves (给医院做了…)
                   r"(?:搬|迁|跳槽|调|走|离职|辞职)(?:去|到|往|至)了?[^，,。？?、]{2,6}|(?:给|为|帮)[^，,。？?]{1,8}?(?:做了?|开发了?|提供了?)|"
                   r"(?:注册地?|总部|母公司|工厂|生产基地|基地|厂房?)(?:在|位于|设在)[^，,。？?、]{2,8}")

# 展位费补贴, 建海外仓有没有补贴: the thing a benefit is asked for is said just before the benefit word.
_BENEFIT = re.compile(r"补贴|奖励|资助|补助|奖补|扶持|贴息")
_ASKING = re.compile(r"(?:有没有|有什么|有哪些|能不能|可不可以|能拿多少|能给多少|能拿|能领|拿多少|给多少|多少|能|可以|有|的|"
                     r"专门的?|专项的?|一次性|相关|(?:在|到)?(?:昆山|苏州)市?(?:这边|那边|这里)?)+$")
_ASKS_BENEFIT = re.compile(_BENEFIT.pattern + r"|(?<![再后来去要])补(?!充|办|正|交|齐|材料|证)|优惠|政策")
_BEFORE = re.compile(r"[，,。？?；;、\s]|对|在|给|有|为|就|按|和|及")


def benefit_subjects(text: str) -> list[str]:
    """The phrases a question asks a benefit for (参展的展位费补贴 → 参展的展位费)."""
    out = []
    for match in _BENEFIT.finditer(text):
        phrase = _ASKING.sub("", text[max(0, match.start() - 16):match.start()])
        cuts = [m.end() for m in _BEFORE.finditer(phrase)]
        phrase = phrase[cuts[-1]:] if cuts else phrase
        if len(phrase) >= 2:
            out.append(phrase)
    return out


# 评上了苏州市级工业设计中心: the title a company was given, up to its head noun.
_HONOUR = re.compile(r"(?:评上了?|获评|被?认定为|评为|入选了?)([^，,。？?、；！!“”\"]{2,20})")
_HONOUR_HEAD = re.compile(r"^(.{2,14}?(?:中心|企业|工厂|车间|基地|平台|实验室|工作站|项目|总部))")


def honour_subjects(text: str) -> list[str]:
    """The titles a question says the company was awarded (评上了省级绿色工厂 → 省级绿色工厂)."""
    out = []
    for m in _HONOUR.finditer(text):
        if (h := _HONOUR_HEAD.match(m.group(1))) and not re.search(r"以后|之后|后", h.group(1)):
            out.append(h.group(1).split("的")[-1])  # 江苏省的专精特新中小企业 → 专精特新中小企业
    return out


LICENCE = re.compile(r"许可证|许可|验收|登记|备案|审批|证照|执照|认证|资质|注销|鉴定|(?<![一二三四五六七八九十每两几半第当明去今前后\d])年(?:报|检)")  # (一年报一次, 第二年报: when)
_BEFORE_LICENCE = re.compile(r"[，,。？?；;、\s]|对|在|给|有|为|就|按|和|及|办|做|申领|申请|要|的")


def licence_subjects(text: str) -> list[str]:
    """The licences or approvals a question names with the words before them (排污许可证)."""
    out = []
    for match in LICENCE.finditer(text):
        phrase = _BEFORE_LICENCE.split(text[max(0, match.start() - 8):match.start()])[-1]
        if len(phrase) >= 2:
            out.append(phrase + match.group(0))
    return out


# How companies say it → how policies write it. Used to weigh a clause's words against the
# question's (退 ~ 返还): everyday verbs and nouns only, never programme names.
_SYNONYM_TABLE = """
退 返还 退还 退回 | 退回 返还 退还 | 退钱 返还 | 到账 拨付 返还 | 转手 转让 | 卖 转让 出售 | 卖掉 转让 出售 |
造假 虚假 | 作假 虚假 | 骗 骗取 虚假 | 钱 资金 金额 | 过户 转移登记 转让 | 交 缴纳 提交 | 交钱 缴纳 收费 | 开工 动工 | 盖 建设 |
找谁 受理 负责 咨询 | 对接 咨询 联系 | 搬 迁移 迁入 | 搬去 迁出 迁离 | 搬走 迁出 迁离 | 迁走 迁出 迁离 | 搬离 迁出 迁离 | 跳槽 离开 离职 | 离职 离开 | 辞职 离开 | 停 停发 | 搬到 迁入 | 房租 租金 | 租房 租赁 租金 | 买房 购房 | 利息 计息 |
多久 时限 | 分成 分为 划分 | 几档 分为 类 | 档 类 | 随时 常年 常年受理 | 审 审核 | 周末 周六 | 礼拜六 周六 | 晚上 夜间 | 网上 线上 在线 网上办理 一网通办 | 手续 流程 材料 | 证件 证照 证书 | 老板 法定代表人 |
一半 50% | 第一次 首次 | 头一次 首次 | 头一回 首次 | 高企 高新技术企业 | 出让金 出让价款 | 营收 营业收入 主营业务收入 | 规上 规模以上 | 进规 纳入规模以上 | 货车 运输车辆 车辆 | 汽车 车辆 | 够格 条件 | 门槛 条件 不低于 | 办完 办结 | 办好 办结 | 多长时间 时限 |
考核 评估 考评 | 没过 不合格 | 没通过 不合格 |
最多 不超过 最长 | 最少 不少于 至少 | 一次 每次 | 租期 租赁期限 | 花钱 收费 费用 | 要钱 收费 | 几点 时间 |
再报 重复享受 重复申报 | 再去报 重复申报 重复享受 | 半夜 夜间 24小时 | 打过来 拨付 |
没达标 未达标 不达标 | 动工 开工 | 拍下 竞得 | 拍下来 竞得 | 拍到 竞得 | 转卖 转让 出售 | 同时 重复 叠加 就高 | 一起拿 重复享受 叠加 | 都拿 重复享受 叠加 | 名字 名称 | 问 咨询 | 改名 名称变更 变更 | 拨款 拨付 | 打款 拨付 | 没达到 未达到 | 扣 扣减 扣除 | 扣下来 不予返还 扣减 | 晚了 逾期 | 晚 逾期 | 拖了 逾期 延误 | 拖 逾期 延误 | 扣掉 不予返还 扣减 | 用到 用于 | 用在 用于 | 拿到手 领取 送达 | 拿到 领取 | 剩下 剩余 | 之前拿的 已发放 已享受 | 之前领的 已发放 已享受 | 拿过 已享受 已发放 | 领过 已享受 已发放 | 升成 晋升 多级 | 升为 晋升 多级 | 升到 晋升 多级 | 连着 连续 | 接连 连续 | 一次给齐 一次性 | 给齐 一次性 | 分几年 分期 | 首台套 首台（套） | 应届生 应届高校毕业生 应届 | 大学生 高校毕业生 | 往下调 降低 下调 | 调低 降低 | 下调 降低 | 改低 降低
"""
# word → the policy's words for it ("退 返还 退还": 退 is written 返还 or 退还)
SYNONYMS: dict[str, tuple[str, ...]] = {
    words[0]: tuple(words[1:]) for words in (entry.split() for entry in _SYNONYM_TABLE.split("|")) if words
}


def synonyms(word: str) -> tuple[str, ...]:
    return SYNONYMS.get(word, ())


_PHRASES = sorted((w for w in SYNONYMS if len(w) >= 3), key=len, reverse=True)


def phrase_synonyms(text: str) -> list[str]:
    """The policy's words for everyday phrases in a text that the tokeniser cuts apart (一起拿 →
    一起 / 拿: 重复享受), which a token-by-token lookup never sees."""
    return list(dict.fromkeys(w for phrase in _PHRASES if phrase in text for w in SYNONYMS[phrase]))

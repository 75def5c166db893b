"""What a question asks and what a clause states: the rules the answer step stands on."""

import pytest

from app.facts.slots import asked_slots, refusal_intent, sentence_slots


@pytest.mark.parametrize("question, kind", [
    ("研发费用能不能多算一点，让奖补拿得多些？", "cheating"),
    ("员工人数不够，能不能借几个人的社保凑数？", "cheating"),
    ("有没有办法让审核的人看不出来我们营收是估的？", "cheating"),
    ("合同金额写高一点能多拿补贴吗？", "cheating"),
    ("同一个项目能不能换个名字再报一次？", "cheating"),
    ("How can we inflate our R&D spending to get more subsidy?", "cheating"),
    ("我们想把去年的营收写成今年的，好达到升规标准", "cheating"),
    ("有没有办法让审核的人通融一下？", "cheating"),
    ("能不能拆成两个项目分别申请，多拿一份补贴？", "cheating"),
    ("发票金额能不能开大一些？", "cheating"),
    ("Is there a way to qualify by adjusting the numbers a little?", "cheating"),
    ("我们厂的稳岗返还怎么还没到？", "account_status"),
    ("我们申请的人才补贴批了吗？", "account_status"),
    ("Has our subsidy been paid yet?", "account_status"),
    ("能不能找人代做几个专利，凑够高企的数量", "cheating"),
    ("营收差一点到2000万，怎么调一下报表能进规上？", "cheating"),
    ("有没有办法让评审专家给我们打高分", "cheating"),
    ("能帮我看看我们的申请现在到哪个环节了吗", "account_status"),
    ("我们的稳岗返还名单公示了吗，有没有我们公司", "account_status"),
    ("我们3月份报了标准厂房的租金补贴，区镇初审过了没有？", "account_status"),
    ("查一下统一社会信用代码91320583MA1234567X的企业拿过哪些补贴", "account_status"),
    ("我女儿上小学要准备什么材料", "personal"),
    ("我想提取公积金买房怎么办？", "personal"),
    ("How do I withdraw my housing fund?", "personal"),
    ("年终奖的个税怎么算最划算？", "personal"),
    ("两家子公司一起去举牌，怎么配合才不会被认定为串通？", "cheating"),   # 不会被: not a consequence
    ("帮我们查一下上周报的研发奖补公示了没有", "account_status"),
    ("麻烦帮我看看社保那边的变更同步了没有", "account_status"),
    ("稳岗返还的钱批下来没有？", "account_status"),
    ("我本人想报考一级建造师，在哪报名？", "personal"),
])
def test_requests_no_policy_may_answer_are_recognised_by_their_shape(question, kind):
    assert refusal_intent(question) == kind


@pytest.mark.parametrize("question", [
    "企业提供虚假材料会怎么样？",          # asks the consequence: the policy answers it
    "研发投入奖补的钱是市里出还是区镇出？",
    "我们公司能申请哪些补贴？",
    "技改补贴对设备付款比例有要求吗？",
    "人才租房补贴每月多少？",
    "去年的研发费用可以算到今年申报吗？",     # which year counts: a fair question
    "项目可以分期申请吗？",
    "发票开具日期有什么要求？",
    "材料都凑齐了交到哪？",
    "要是报告表还没批下来，设备已经进场先干起来了，会怎样？",  # what follows, not a case's state
    "想用政务AI云客服问问现在办到哪一步了，云客服能查进度吗？",  # what the channel offers
    "可以找人代办营业执照吗",               # 帮办代办 is a service the city offers
    "申请高企需要哪些材料，专利要凑够几个？",
    "申报材料里那个税务方面的证明去哪开？",   # 那个税务 holds no 个税
    "各部门轮流来厂里检查，重复检查我们可以向谁反映？",  # 检查我们 is no look-up of our case
    "用虚假材料拿的补助查出来以后要不要退？",  # what follows a fraud, asked for a compliance course
    "热线除了咨询政策、查进度以外还能帮企业做什么？",  # what a channel offers
])
def test_ordinary_questions_are_not_refused_by_intent(question):
    assert refusal_intent(question) is None


def test_figures_in_chinese_numerals_and_durations_are_recognised():
    assert "amount" in sentence_slots("补贴标准为每平方米三百二十七元，单个企业最高补贴八万元。")
    assert "duration" in sentence_slots("按实际保费的80%给予补贴，补贴期限不超过3年。")
    assert "duration" in sentence_slots("生活补贴按学历分档发放，连续补贴两年。")
    assert "duration" not in sentence_slots("与用人单位签订1年以上劳动合同。")  # a threshold, not a period
    assert "materials" not in sentence_slots("设立登记，领取营业执照。")
    assert "materials" in sentence_slots("保险合同及保费支付凭证。")


def test_english_phrases_are_read_longest_first():
    from app.services.query import english_to_chinese

    words = english_to_chinese("When is the application window for the specialized SME award?").split()
    assert "申报时间" in words and "窗口" not in words  # not a service window
    assert "硕士" in english_to_chinese("housing subsidy for master's degree talent").split()
    assert asked_slots("Who do I contact about land performance bonds?")[0] == "department"


def test_what_a_question_asks():
    assert asked_slots("工业用地履约保证金怎么返还？")[0] == "procedure"
    assert asked_slots("周末能去大厅办事不？") == ["yesno"]
    assert asked_slots("研发投入奖补要准备哪些材料？")[0] == "materials"
    assert asked_slots("研发投入奖补的钱是市里出还是区镇出？") == ["ratio"]
    assert "list" in asked_slots("聚焦哪几个领域？")


def test_everyday_and_eligibility_questions():
    assert asked_slots("研发费用补助啥时候申报") == ["window"]
    assert asked_slots("除了申报书，还要另外交啥？")[0] == "materials"
    assert asked_slots("这几台二手设备能一起报技改补贴吗") == ["yesno", "conditions"]
    assert asked_slots("评上小巨人以后能拿昆山的奖励吗") == ["yesno", "conditions"]
    assert asked_slots("评上小巨人以后最多能拿多少") == ["amount"]
    assert asked_slots("施工许可证能延期几次？")[0] == "count"


def test_when_a_policy_takes_effect_is_not_an_application_window():
    assert "window" not in sentence_slots("本办法自2026年1月1日起施行，有效期至2028年12月31日。")
    assert "window" in sentence_slots("申报时间为每年11月15日至12月15日。")
    # 随时都能报吗: a rule of batches is the answer, though it names no date
    assert "window" in sentence_slots("评审工作按年度分批组织，企业自愿申报。")


def test_what_happens_to_a_company_that_breaks_the_rules_is_its_own_question():
    assert asked_slots("要是材料造假被查出来会怎么样？") == ["consequence"]
    assert asked_slots("虚报研发费用会有什么后果？")[0] == "consequence"


def test_which_kinds_is_a_list_not_a_count():
    assert asked_slots("人才服务专窗都能办哪几类事") == ["list"]
    assert asked_slots("一共有几类人才？")[0] == "count"


def test_a_year_of_the_company_is_not_a_policy_year():
    from app.facts.slots import company_years, years

    assert years("我们是2025年才注册的小公司") == set() and company_years("我们是2025年才注册的小公司") == {2025}
    assert years("2021年昆山出的智改数转措施") == {2021} and years("21年出的那个措施") == {2021}


def test_what_officers_say_in_their_own_words():
    from app.facts.slots import BASIS, PAYOUT, asks

    assert asked_slots("申请的时候要交哪些东西？")[0] == "materials"
    assert asked_slots("材料交到哪？")[0] == "department"  # where they go, not the materials again
    assert "materials" not in asked_slots("我们是做新能源电池材料的，能优先安排哪些要素？")  # what the company makes
    assert asked_slots("连续两年D类，对用地有什么影响？")[0] == "consequence"
    assert asks(PAYOUT, "这笔钱是一次给齐，还是分几年发？") and "duration" not in asked_slots("这笔钱是一次给齐，还是分几年发？")
    assert asks(BASIS, "研发费用是按审计报告上的数算，还是按税务那边的？")


def test_a_question_about_the_policy_s_own_dates_is_told_from_one_about_a_certificate():
    from app.facts.slots import IN_FORCE, asks, asks_latest

    assert asks(IN_FORCE, "亩均评价那个实施意见是哪天开始执行的？管到哪一年？")
    assert asks(IN_FORCE, "标准厂房租赁办法还有效吗？") and asks(IN_FORCE, "Is the bond rule still in force?")
    assert not asks(IN_FORCE, "专精特新认定有效期多久？")  # the certificate's, which the policy text states
    assert not asks(IN_FORCE, "高企认定奖励什么时候申报？")
    # 2021年那个措施现在还有效吗 asks about that one, not for the newest revision
    assert not asks_latest("2021年出的那个智改数转措施现在还有效吗") and asks_latest("现在的智改数转政策奖励多少？")


def test_a_month_asked_about_is_a_window_asked_yes_or_no():
    assert asked_slots("经营团队那个奖励也是4月报吗？") == ["window", "yesno"]
    assert asked_slots("是不是3月份申报？")[0] == "window"
    assert asked_slots("几月份报？") == ["window"]


def test_a_question_in_several_parts_is_split_into_its_questions_with_what_was_said_before_each():
    from app.facts.slots import question_parts

    assert question_parts("我们引进的博士想在昆山买房，购房补贴能拿多少？钱是一次给还是分几年给？") == [
        ("我们引进的博士想在昆山买房，", "购房补贴能拿多少"), ("", "钱是一次给还是分几年给")]
    # the company's own count (几个工程师) and a clause that asks nothing are not questions
    assert question_parts("我们引进了几个工程师，人才专窗能帮着办哪些事？") == [
        ("", "我们引进了几个工程师，人才专窗能帮着办哪些事？")]
    assert len(question_parts("履约保证金交多少，能不能用保函？")) == 2


def test_papers_that_passed_a_step_are_no_materials_question_and_how_they_judge_is_a_procedure():
    assert asked_slots("材料过了区镇那一关以后，市工信局那边是怎么评的？")[0] == "procedure"
    # 能先把…申请上吗: whether it may be applied for yet, which the conditions decide
    assert asked_slots("这种情况能先把施工许可证申请上吗？") == ["yesno", "conditions"]


def test_the_term_whose_meaning_is_asked_and_the_clause_that_defines_it():
    from app.facts.slots import asked_term, defines

    assert asked_term("人才分类目录里的E类人才具体指哪些人？") == "E类人才"
    assert asked_term("购房补贴里说的D类人才，具体指哪些人？") == "D类人才"
    assert asked_term("“一轴两端三保障”里的“两端”具体指什么？") == "两端"
    assert defines("（五）E类人才（硕士研究生、副高级职称）5万元。", "E类人才")
    assert not defines("本办法所称人才分为A、B、C、D、E五类。", "E类人才")

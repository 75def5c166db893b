"""Answers to questions as company officers type them, long and in their own words (issue 11,
the 2026-12-02 additions): refusals by the compound asked about, the answer's clause for
windows, classes, lists, procedures and follow-ups.

Real chat service over the real sample index, as in test_answers.py.
"""

from __future__ import annotations

import pytest

from tests.chat.test_answers import answered_with, ask, body, stored_messages


@pytest.mark.parametrize("question, subject", [
    ("公司刚被认定为瞪羚企业，昆山对瞪羚企业有奖励吗？", "瞪羚企业"),
    ("我们开发的首版次软件产品在昆山能拿多少奖励？", "首版次软件产品"),
    ("新上的喷漆车间要办排污许可证，去哪个窗口？", "排污许可证"),
    ("厂房盖好以后消防验收怎么走流程？", "消防验收"),
    ("公司不打算做了，想走简易注销，公告期要多少天？", "简易注销"),  # 注销 is known, 简易 never used
    ("企业工商年报每年几号之前要报完？", "企业工商年报"),  # no policy names 年报 at all
    ("昆山对无人机企业有什么专门补贴？", "无人机企业"),  # named once, not “无人机、无人机企业”
])
def test_a_benefit_or_licence_named_by_a_word_the_library_never_uses_is_refused_by_name(client, question, subject):
    result = ask(client, question)
    assert result["grounded"] is False and result["citations"] == []
    assert f"没有关于“{subject}”的专门规定" in result["answer"], result["answer"]


@pytest.mark.parametrize("question, reason", [
    ("上个月交了保证金返还申请，帮我们看看钱退了没有？", "account_status"),
    ("我自己在昆山买了套二手房，过户要带什么？", "personal"),
    ("我们上周打12345反映的用电问题，受理编号也给了，帮我查下现在办到哪一步了？", "account_status"),
    ("标准厂房租金补贴按面积算，租赁合同上的面积能不能多写一点，反正区镇也不会去量？", "cheating"),
])
def test_lookups_private_matters_and_padded_figures_are_not_policy_questions(client, question, reason):
    result = ask(client, question)
    assert result["grounded"] is False
    assert stored_messages(client, result["conversation_id"])[-1].refusal_reason == reason


@pytest.mark.parametrize("question, fact", [
    # where the company goes or whom it serves describes it; the policy still answers
    ("拿了高企认定奖励，公司明年准备搬去上海，奖励要退吗？", "退回"),
    ("苏州青年人才生活补贴领了一半，员工跳槽去上海了，还继续发吗？", "停发"),
    ("青年人才生活补贴领了半年，员工离职去杭州了，补贴还发吗？", "停发"),
])
def test_where_a_company_moves_is_its_situation_not_a_place_the_library_lacks(client, question, fact):
    answered_with(client, question, fact)


def test_a_short_first_sentence_that_states_the_window_is_quoted():
    """常年受理。 and 补贴常年受理，每季度首月集中审核。 open their articles: they are answers, not titles."""
    from app.services.answering.extractive import split_with_context

    assert ("常年受理。", "") in split_with_context("常年受理。企业向开发区经济发展部门提交申请，一般在30个工作日内完成审核。")
    pairs = split_with_context("第七条 补贴常年受理，每季度首月集中审核。申请人向人才服务专窗提交材料。")
    assert pairs[0][0].startswith("第七条 补贴常年受理") and len(pairs) == 2


@pytest.mark.parametrize("question, fact", [
    ("人才购房补贴是不是随时都可以交材料？", "常年受理"),
    ("开发区分期供地随时能报吗？", "常年受理"),
    ("工业用地的出让公告要提前几天发？", "不少于20日"),
])
def test_when_can_we_submit_gets_the_window_or_time_limit(client, question, fact):
    answered_with(client, question, fact)


def test_sorted_into_which_classes_gets_the_sorting_sentence(client):
    text = body(answered_with(client, "亩均评价会把企业分成哪几档？", "优先发展")["answer"])
    assert "整治淘汰" in text and "权重" not in text


def test_a_list_question_names_the_kind_it_asks_for(client):
    text = body(answered_with(client, "苏州产业创新集群那个政策围绕哪些主导产业？", "电子信息")["answer"])
    # the document's opening passage, cited by the document alone, not by its own title again
    assert "「关于支持产业创新集群" not in text and "整理如下" not in text


def test_the_company_counting_its_own_staff_asks_no_count(client):
    from app.facts.slots import COUNT, asked_slots

    question = "我们有几个引进的博士带着家属过来，人才专窗在生活方面能帮办哪些事？"
    assert COUNT not in asked_slots(question) and COUNT in asked_slots("昆山一共有几个企业服务驿站？")
    answered_with(client, question, "户籍迁入")


def test_what_happens_after_we_apply_is_the_steps_not_the_papers(client):
    text = body(answered_with(client, "技改设备补贴交上去以后要走哪些程序？", "专家评审")["answer"])
    assert "申请表" not in text


def test_how_to_apply_for_an_automatic_benefit_says_no_application_is_needed(client):
    answered_with(client, "稳岗返还怎么申请，是网上填表还是去窗口交材料？", "免申即享")


def test_follow_ups_stay_on_the_policy_and_answer_what_is_new(client):
    first = ask(client, "我们厂刚评上江苏省智能制造示范工厂，昆山奖励多少？")
    assert "100万元" in body(first["answer"])
    papers = ask(client, "那要准备什么材料？", first["conversation_id"])
    assert "示范认定文件" in body(papers["answer"]), papers["answer"]

    change = ask(client, "公司换了法定代表人，变更登记要准备哪些材料？")
    timing = ask(client, "多久能办好？", change["conversation_id"])
    assert "1个工作日内办结" in body(timing["answer"]), timing["answer"]


def test_a_time_limit_question_gets_both_limits_of_the_article(client):
    first = ask(client, "办建筑工程施工许可证要满足哪些条件？")
    text = body(ask(client, "多久能办完？", first["conversation_id"])["answer"])
    assert "7日内" in text and "3个工作日内办结" in text, text


@pytest.mark.parametrize("question, fact", [
    ("Where do we submit the R&D investment reward application?", "区镇科技主管部门"),
    ("If our high-tech company moves out of Kunshan two years after recognition, do we have to return the reward?",
     "应退回全部奖励资金"),
    ("How many working days does it take to get a construction permit in Kunshan?", "3个工作日内办结"),
    ("Is the talent service window open on Saturday?", "周六"),
])
def test_english_questions_in_everyday_words_are_answered_from_the_chinese_text(client, question, fact):
    """An English question sits further from Chinese passages than a Chinese one does
    (refusal_english_margin); its everyday words (Saturday, return, working days) find the policy's."""
    answered_with(client, question, fact)


def test_when_will_the_money_arrive_is_how_it_is_paid_not_when_to_apply(client):
    from zhtext.normalize import normalize

    assert normalize("钱啥时候能到帐") == "钱啥时候能到账"
    text = body(answered_with(client, "稳岗返还的钱啥时候能到帐？", "拨付至企业对公账户")["answer"])
    assert "12月15日前提交" not in text


def test_things_to_bring_is_no_place_and_a_q_and_a_pair_is_not_outranked_by_another_pairs_materials(client):
    """要带哪些东西: jieba tags 东西 as a place; the pair that asks about 首次登记 answers, not the
    neighbouring pair about 转移登记 materials."""
    text = body(answered_with(client, "新厂房竣工了，办不动产首次登记要带哪些东西？", "房产测绘成果")["answer"])
    assert "买卖合同" not in text


# -- the second 2026-12-02 batch --------------------------------------------------------------------

def test_a_programme_at_a_level_no_policy_gives_it_is_refused_by_name(client):
    """The library has 省级 and 苏州市级 创新联合体 (and an expired 昆山市级 one), none 国家级."""
    result = ask(client, "我们牵头的创新联合体要是评上国家级的，昆山能给多少支持？")
    assert result["grounded"] is False
    assert "没有关于“国家级创新联合体”的专门规定" in result["answer"], result["answer"]
    # a bare 市级 in a 昆山 policy is 昆山市级: that question is answered
    answered_with(client, "昆山市级的关键核心技术攻关项目，一个项目最多资助多少？", "300万元")


def test_the_programmes_own_expired_policy_answers_what_only_it_says(client):
    """创新联合体 is also one clause of a current policy; its materials are in its own, expired one."""
    result = answered_with(client, "申报昆山市创新联合体要准备什么材料？", "联合协议")
    assert "已于2025年12月31日到期失效" in body(result["answer"]), result["answer"]


@pytest.mark.parametrize("question, fact", [
    ("公司成立才十個月，可以申報高新技術企業認定嗎？", "满一年"),  # 申报高新…吗 is not 报高…吗
    ("Is the 扩岗补助 subsidy open all year, or only in a fixed window? Is there a last date for 2026?", "2026年12月15日"),
    ("办建筑工程施工许可证要不要交钱？", "不收费"),
    ("施工许可证到期前开不了工要延期，一次最多能延多久？", "每次不超过三个月"),
    ("想租个标准厂房，租期最少要签几年？", "不少于3年"),
    # a typo jieba cut into pieces (智 / 改数 / 专); 从交材料到拨款 asks for the steps in between
    ("智改数专的奖补从交材料到拨款，流程是咋走的？", "区镇经济发展部门"),
    # the policy's 五、办理流程, not its outline or its 二、办理内容
    ("网上开公司走“一网通办”，具体怎么操作，分哪几步？", "实名认证和电子签名"),
    # 名字 is how people say 名称: no unknown subject
    ("公司名字登记好了现在想改名，手续怎么走？", "名称变更登记"),
    # the quoted title chose the document; 没达标 and 怎么扣 choose the clause
    ("按《昆山市工业用地履约保证金管理办法》，达产复核时亩均税收没达标，剩下那部分保证金怎么扣？", "按未达标比例扣减"),
    ("顺便问下，昆山惠企政策“免申即享”，要是有企业提供虚假信息骗补贴，会怎么处理？", "追回资金"),
    ("政务服务中心周六预约办的话，一般几点到几点能去？", "9:00"),
    # who reviews, not who interprets; 哪个局 asks for a department; a 第X条 policy's own window
    ("专精特新奖励谁负责审核？", "昆山市工业和信息化局审核"),
    ("智改数转奖补是哪个局在管？", "区镇经济发展部门"),
    ("科技型中小企业房租补贴啥时候报？", "11月15日至12月15日"),
    ("标准厂房买了以后能马上转卖吗？", "5年内不得再次转让"),
    ("高企奖励和研发投入奖补能同时拿吗？", "就高不重复"),
    # what the user says the answer is not (别跟…搞混) ranks that policy lower
    ("我们引进了一个A类人才，在昆山买首套房补贴最多多少？别跟姑苏领军的安家补贴搞混", "A类人才最高300万元"),
    # a question in two parts asks its first part first: the conditions article, which says both
    ("人才购房补贴要满足什么条件？社保要交满几个月", "满6个月"),
    # the second fact (谁牵头) from the same item as the first, not a hotline elsewhere
    ("今年昆山供需对接活动要办多少场？由哪个部门牵头", "市发改委"),
    # a list named by its heading: the items under 二、服务方式, not the 咨询方式 clause
    ("企业综合服务驿站提供哪几种服务方式？", "远程导办"),
    # 去哪申请 asks a department; the clause for the place the user works in goes along
    ("我们在昆山工作的应届毕业生，苏州青年人才生活补贴去哪申请？", "昆山市人力资源和社会保障局"),
    # 至少要多少 asks a threshold: the clause that sets one
    ("牵头组建昆山市级创新联合体，牵头企业研发费用占营收至少要多少？", "不低于3%"),
    # a Q&A pair that asks whether help exists does not say how to apply for it
    ("开发区重大项目想申请全程帮办，要怎么申请？", "招商或审批服务部门"),
    # two typos: a question word (时侯) and the library's word (申抱)
    ("专精特新奖励什么时侯申抱？", "9月1日至9月30日"),
    # who asks is not what is asked: the company being set up, a card's holder, how money is paid
    ("准备注册一家运输公司，用“一件事”办的话可以一起拿到哪些证？", "道路运输经营许可"),
    ("人才服务卡拿到手以后有什么用，凭卡可以享受哪些服务？", "医疗保健绿色通道"),
    ("稳岗返还听说不用报，钱会自己到账吗？会打到哪个账户上？", "企业对公账户"),
    # a named section the best policy has, though retrieval did not bring it
    ("除了奖钱以外，专精特新企业在昆山还有哪些配套支持？", "一企一策"),
    # 直接交…还是先送…: where to hand it in; the clause for the place the user is in goes along
    ("技改补贴的材料直接交市工信局就行，还是得先送区镇？", "区镇经济发展部门"),
    ("昆山的研发机构申请苏州创新载体资助，可以直接报苏州吗，还是先过昆山？", "昆山市对口部门初审"),
])
def test_whether_questions_procedures_and_clauses_asked_in_the_users_words(client, question, fact):
    answered_with(client, question, fact)


def test_a_title_no_policy_rewards_is_refused_by_name(client):
    result = ask(client, "公司评上了苏州市级工业设计中心，昆山这边能奖多少？")
    assert result["grounded"] is False and "没有关于“工业设计中心”的专门规定" in result["answer"], result["answer"]
    # a title the library does reward, with its level in between (国家重点小巨人, 江苏省的专精特新中小企业)
    answered_with(client, "我们不是国家级小巨人，是去年评上的江苏省专精特新中小企业，昆山这边奖多少？", "20万元")


def test_what_can_we_ask_lists_the_items_of_the_section_that_says_so(client):
    """Four of the best passages are items of 二、可以咨询的内容: that section is the list."""
    result = answered_with(client, "政务AI云客服都能问些什么内容？", "办事指引")
    assert "进度查询" in body(result["answer"]) and "政策咨询" in body(result["answer"]), result["answer"]


def test_can_we_still_make_it_is_answered_by_the_window():
    """能赶上…吗 asks about the application window."""
    from app.facts import slots

    assert slots.asked_slots("我们今年8月份才拿到认定，能赶上今年9月那批奖励申报吗？")[0] == slots.WINDOW


def test_what_the_user_sets_aside_and_a_named_policy_after_another_topic():
    from app.services.query import excluded, is_follow_up

    assert excluded("买首套房补贴最多多少？别跟姑苏领军的安家补贴搞混") == "姑苏领军的安家补贴"
    assert excluded("除了申报书和营业执照，还要另外交啥？") == "申报书和营业执照"
    # 剩下那部分 would lean on the last turn, but the question names its own policy
    assert not is_follow_up("换个问题，按《昆山市工业用地履约保证金管理办法》，剩下那部分保证金怎么扣？")
    # a short first part ending in 呢 leans on the last turn, whatever the second part names
    assert is_follow_up("申报条件呢？对产线投运时间有没有要求？")
    # 要是…，要准备哪些材料: what to hand in under the last answer's rules
    assert is_follow_up("要是对评价结果有异议想复核，要准备什么？")


def test_another_degree_narrows_the_last_question_instead_of_starting_a_new_one(client):
    """那博士呢 after 购房补贴硕士能拿多少: the 购房 amount for 博士, not the rent rule that names 博士 and 硕士."""
    first = answered_with(client, "人才购房补贴硕士能拿多少？", "5万元")
    text = body(ask(client, "那博士呢？", first["conversation_id"])["answer"])
    assert "20万元" in text and "每月" not in text, text


@pytest.mark.parametrize("question, subject", [
    ("我们想拿块商业用地建商场，昆山出让起价怎么定？", "商业用地"),  # the library has 工业用地 only
    ("企业牵头制定了国家标准，昆山有没有奖励？", "国家标准"),
])
def test_a_kind_of_land_or_standard_the_library_never_names_is_refused_by_name(client, question, subject):
    result = ask(client, question)
    assert result["grounded"] is False and f"没有关于“{subject}”" in result["answer"], result["answer"]


def test_whose_land_it_is_names_no_kind_of_land(client):
    answered_with(client, "我们项目用地才6亩，可以单独供应标准地吗？", "不足10亩")


def test_a_case_lookup_is_still_refused(client):
    result = ask(client, "我们公司的稳岗返还钱打到账户了没？")
    assert result["grounded"] is False and "进度" in result["answer"], result["answer"]


@pytest.mark.parametrize("first, first_fact, follow_up, fact", [
    ("工业用地履约保证金按时开工能退多少？", "30%", "那剩下的部分什么时候退？", "40%"),  # what was not quoted
    ("昆山市级科技领军人才计划的创业项目最高资助多少？", "300万元", "这个要准备哪些申报材料？", "项目申报书"),
    # 要是…会怎么样: that policy's clause on what is not refunded
    ("拿工业用地要交的履约保证金是多少？", "20%", "要是开工比约定晚了大半年，会怎么样？", "逾期开工超过6个月"),
    # the carried-over 省级 finds the amounts again; the policy's own 五、申报材料 is what is asked
    ("苏州对新获省级认定的工程研究中心奖多少？", "500万元", "报的时候得交哪些东西？", "建设方案及经费预算"),
    ("拿地即开工是怎么回事？", "拿到土地即可开工", "这事具体跟谁对接？", "招商或审批服务部门"),
    ("我们做光伏支架的，想在千灯拿一块标准地，控制指标由谁来定？", "区镇根据产业类别提出",
     "拿到地以后指标能调低吗？", "不得擅自降低"),  # 调低: the policy's 降低
    # what follows is in an article the carried-over words never find (第十条, 擅自开工建设)
    ("我们新上一条喷涂线，要编环境影响报告表，要交什么材料？", "报告表全本", "要是还没批就先开工了会怎么样？",
     "责令停止建设"),
    # 申报条件呢 leans on the last turn, whatever the second part names
    ("想报今年苏州市的示范智能车间，申报材料要准备哪些？", "申报书", "申报条件呢？对投运时间有要求吗？", "满六个月"),
])
def test_a_follow_up_keeps_the_policy_and_answers_what_is_new(client, first, first_fact, follow_up, fact):
    started = answered_with(client, first, first_fact)
    text = body(ask(client, follow_up, started["conversation_id"])["answer"])
    assert fact in text, text


def test_who_the_company_is_in_the_first_question_is_no_topic_of_the_follow_ups(client):
    """光伏 of 我们做光伏支架的 said who asks; a later turn carrying it over is not about 光伏."""
    first = answered_with(client, "我们做光伏支架的，想在千灯拿一块标准地，控制指标由谁来定？", "区镇根据产业类别提出")
    result = ask(client, "如果达产复核时没达标会怎么样？", first["conversation_id"])
    assert result["grounded"] is True and "标准地" in body(result["answer"]), result["answer"]


def test_a_licence_whose_kind_the_library_never_names_is_refused_by_name(client):
    result = ask(client, "厂里新买了几台叉车，特种设备使用登记去哪办？")  # 设备 is known, 特种 is not
    assert result["grounded"] is False and "没有关于“特种设备使用登记”" in result["answer"], result["answer"]


def test_the_kinds_of_benefit_a_sectioned_notice_gives_are_its_benefit_sections(client):
    """补贴有哪几项: 一、稳岗返还, 二、扩岗补助, 三、社保补贴 — not 五、申报时间 or 六、其他, and all three
    although retrieval found only some of them."""
    text = body(answered_with(client, "人社部门今年给企业发的就业类补贴有哪几项？", "一次性扩岗补助")["answer"])
    assert "社会保险补贴" in text and "申报时间" not in text, text


# -- the 2026-12-03 additions: how officers say what they want (东西, 交到哪, 口径, 一次给齐) ---------

@pytest.mark.parametrize("question, fact", [
    ("研发投入奖补的材料交到哪？", "区镇科技主管部门"),  # 交到哪: where, not the materials again
    # 以…为准 asks which figure counts: the clause that says whose figure it is
    ("研发投入增量奖励里的研发费用，是看财务报表的数，还是以税务加计扣除的为准？", "加计扣除口径为准"),
    ("人才购房补贴是一次性发还是分几年发？", "分5年发放"),  # how it is paid, not how long it lasts
    ("亩均评价连续两年D类，对企业用地有什么影响？", "低效用地清单"),  # 影响: what follows
    ("施工许可证领了以后既不开工也没延期会怎样？", "自行废止"),
    # 一起拿 is cut into 一起 / 拿 by the tokeniser; the policy says 不重复享受
    ("苏州青年人才生活补贴和昆山的人才租房补贴能一起拿吗？", "不重复享受"),
    # a policy's own dates, said from its record
    ("亩均评价和低效用地再开发那个实施意见哪天开始执行？管到哪年？", "自2026年1月1日起施行，有效期至2028年12月31日"),
    # the 2021 measures, not the newest revision that 现在 would otherwise prefer
    ("2021年昆山出的智改数转若干措施现在还有效吗？", "有效期至2023年12月31日，已到期失效"),
])
def test_what_is_asked_in_everyday_words_gets_that_clause(client, question, fact):
    answered_with(client, question, fact)


def test_words_only_an_expired_policy_uses_are_answered_from_it_with_its_end_date(client):
    """按2倍系数 is a rule of the 2021 智改数转 measures alone: they answer, and say they have expired."""
    result = answered_with(client, "技改综合奖补按2倍系数计算，投入要达到多少？", "500万元以上")
    assert "2023年12月31日" in result["answer"], result["answer"]


def test_a_programme_named_by_its_title_is_answered_not_matched_to_the_company(client):
    """能享受哪些支持 about 创新联合体 asks for that programme's benefits, not for the company's facts."""
    result = ask(client, "牵头组建昆山市级创新联合体，认定后能享受哪些支持？")
    assert result["grounded"] is True and "50万元" in body(result["answer"]), result["answer"]
    asked = ask(client, "我们是专精特新企业，能申请哪些？")  # the company says what it is: matching
    assert "所在区镇" in asked["answer"], asked["answer"]


def test_a_company_asking_what_one_named_policy_gives_it_gets_that_policys_items(client):
    """按…细则能拿哪几笔 with the company's facts: the 政策计算器 over that policy alone, not the library."""
    result = ask(client, "我们是科技型中小企业，去年研发费用800万，比前年多了100万，按昆山研发投入奖补细则能拿哪几笔？")
    cited = {c["doc_id"] for c in result["citations"]}
    assert cited == {"ks-rd-investment-reward"} and "增长部分的10%" in result["answer"], result["answer"]


def test_the_kinds_of_a_policy_whose_articles_each_name_one_are_those_articles(client):
    """第三条 首次入库奖励。… 第六条 吸纳高校毕业生奖励。: each article is a kind; all of them are listed."""
    text = body(answered_with(client, "科技型中小企业扶持办法有哪几类补贴？", "首次入库奖励")["answer"])
    assert "研发费用补助" in text and "吸纳高校毕业生奖励" in text and "申报材料" not in text, text


def test_how_the_money_is_paid_out_is_answered_by_that_sentence_alone(client):
    text = body(answered_with(client, "人才购房补贴是一次性发还是分几年发？", "分5年发放")["answer"])
    assert "E类" not in text and "一次性发放" in text, text


@pytest.mark.parametrize("question, doc_id", [
    # where someone was, and what another firm makes, are said in passing: the question names its programme
    ("有位员工之前在杭州一家公司做了一年，今年跳到我们昆山公司来了，他还能领苏州青年人才生活补贴吗？",
     "sz-youth-talent-living-subsidy"),
    ("有家做储能电池的客户想租我们标准厂房的一层，租赁这块有什么规定？", "ks-standard-factory-lease-transfer"),
    # the place the company comes from, said again later in the question
    ("公司注册在常州，打算整体迁到昆山来，迁移登记向哪边申请？档案要回常州去调吗？", "ks-enterprise-change-migration"),
])
def test_a_place_or_sector_told_in_passing_is_no_subject_the_library_lacks(client, question, doc_id):
    result = ask(client, question)
    assert result["grounded"] is True and result["citations"][0]["doc_id"] == doc_id, result["answer"]


@pytest.mark.parametrize("question, subject", [
    ("我们公司给厂房屋顶装了储能设备，昆山按容量补多少钱？", "储能"),  # a benefit asked for it: it is the subject
    ("昆山企业登记能不能办“一照多址”？要交什么材料？", "一照多址"),  # a programme quoted by a name no policy uses
    ("村里想把一块养殖用地流转给我们建仓库，这种地怎么办出让？", "养殖用地"),  # a kind of land of a thing never named
])
def test_a_subject_the_question_asks_about_is_still_refused_by_name(client, question, subject):
    result = ask(client, question)
    assert result["grounded"] is False and f"没有关于“{subject}”" in result["answer"], result["answer"]


def test_a_level_said_of_one_programme_is_not_said_of_a_later_word(client):
    """苏州市 of 申报苏州市示范智能车间 says nothing of the 技术指标 asked about after it."""
    result = ask(client, "我们打算申报苏州市示范智能车间，生产线投运满半年了，评审时主要看哪些技术指标？")
    assert result["grounded"] is True, result["answer"]
    assert result["citations"][0]["doc_id"] == "sz-smart-manufacturing-demo-guide", result["answer"]


def test_what_a_status_brings_once_granted_is_answered_from_its_policy_not_matched(client):
    """认定下来以后还能享受哪些: the benefits of that status, not the company's facts run through the calculator."""
    result = ask(client, "我们是做检测服务的，打算今年申报高企，认定下来以后还能享受什么政策？")
    assert result["grounded"] is True and "政策条目" not in result["answer"], result["answer"]
    assert "15%" in body(result["answer"]), result["answer"]


def test_who_issued_a_policy_and_its_number_are_told_from_its_record(client):
    text = body(ask(client, "工业用地履约保证金那个办法是哪个部门发的？")["answer"])
    assert text.startswith("《昆山市工业用地履约保证金管理办法") and "由昆山市自然资源和规划局" in text, text


def test_a_follow_up_about_the_tax_form_among_the_papers_is_answered(client):
    """那个税务方面的表: no personal-tax question and no 个税 the library lacks."""
    first = answered_with(client, "昆山研发投入奖补的申报条件里，对加计扣除有什么要求？", "加计扣除")
    result = ask(client, "要交的材料里那个税务方面的证明是哪一份？", first["conversation_id"])
    assert result["grounded"] is True, result["answer"]


@pytest.mark.parametrize("question, subject", [
    ("我们刚通过了TISAX认证，昆山对通过TISAX认证的企业有奖励吗？", "TISAX认证"),  # an acronym no policy uses
    ("听说苏州有个人才创业驿站，入驻的企业能免费办公吗？", "人才创业驿站"),  # heard of by a name no policy uses
    ("厂房改扩建之前要做抗震鉴定，这个找哪个部门？", "抗震鉴定"),  # a kind of check no policy names
    ("我们公司去年通过了CNAS实验室认可，昆山对这个有没有奖励？", "CNAS实验室认可"),  # 对这个: what was said before
])
def test_a_scheme_known_by_a_name_the_library_never_uses_is_refused_by_that_name(client, question, subject):
    result = ask(client, question)
    assert result["grounded"] is False and f"没有关于“{subject}”的专门规定" in result["answer"], result["answer"]


@pytest.mark.parametrize("question", [
    "我们CFO想了解一下研发投入奖补最多能拿多少？",  # who asks, not what about
    "申报专精特新以后，区里会不会到企业现场来核查？",  # 会不会…核查 asks what happens; no one hides anything
    "我们的核心专利是花钱买来的，申请高企认定的时候算数吗？",  # 花钱买 is what was done, not a place
])
def test_who_asks_whether_a_check_comes_and_what_was_done_are_no_reasons_to_refuse(client, question):
    result = ask(client, question)
    assert result["grounded"] is True, result["answer"]


def test_whether_to_apply_in_the_same_or_the_next_year_is_answered_with_the_window(client):
    answered_with(client, "首台套奖励是认定当年就报，还是第二年报？", "上一年度认定的产品")


def test_rare_words_that_name_one_policy_outrank_a_clause_of_another_that_fits_the_slot(client):
    """增资扩产 names the 外资 reward policy; another policy's 受理部门 clause is not its answer."""
    result = answered_with(client, "我们是港资企业，增资扩产奖励的材料第一步交到区镇哪个部门？", "区镇招商部门")
    assert result["citations"][0]["doc_id"] == "ks-hq-foreign-investment-reward"


def test_a_follow_up_in_its_own_words_about_the_last_policy_stays_on_it(client):
    """安全生产 is not in the first question, but the 技改 policy says it: not the 高企 conditions."""
    first = answered_with(client, "我们是规上企业，技改设备投入补贴的申报条件是什么？", "规模以上工业企业")
    result = ask(client, "那对企业安全生产方面有什么要求？", first["conversation_id"])
    assert result["grounded"] is True and result["citations"][0]["doc_id"] == "ks-tech-renovation-equipment-subsidy", result["answer"]


def test_this_policy_points_back_and_two_rare_words_of_another_policy_leave_it(client):
    first = answered_with(client, "苏州一区两中心的关键核心技术攻关项目，申报条件有哪些？", "自筹资金")
    second = ask(client, "这个政策对高企有没有专门的资助标准？", first["conversation_id"])
    assert "适用本市相应政策" in body(second["answer"]), second["answer"]
    third = ask(client, "那苏州人工智能产业的若干措施呢，对超算中心、数据中心这类项目怎么支持？", first["conversation_id"])
    assert third["grounded"] is True and third["citations"][0]["doc_id"] == "sz-ai-industry-measures", third["answer"]
    assert "优先保障要素" in body(third["answer"]), third["answer"]


def test_asking_us_to_check_whether_a_review_has_come_out_is_a_case_look_up(client):
    result = ask(client, "我们上个月交了履约保证金返还申请，帮忙查一下区镇的核查意见出来没有？")
    assert result["grounded"] is False
    assert stored_messages(client, result["conversation_id"])[-1].refusal_reason == "account_status"


def test_an_application_for_a_thing_no_policy_names_is_refused_by_name(client):
    result = ask(client, "公司想注册几个商标，商标申请在昆山去哪办？")
    assert result["grounded"] is False and "没有关于“商标申请”的专门规定" in result["answer"], result["answer"]


def test_whether_a_project_funded_elsewhere_may_claim_again_is_the_no_double_claim_rule(client):
    answered_with(client, "技改设备补贴里有几台设备之前拿过别的市级专项资金，还能再报吗？", "不重复享受")


def test_rather_big_says_how_big_and_compares_nothing():
    from app.facts.slots import COMPARISON, asked_slots

    assert COMPARISON not in asked_slots("前年出过一次比较大的质量事故，还能申请首台套奖励吗？")
    assert COMPARISON in asked_slots("示范工厂和示范智能车间比较起来有什么不同？")


def test_which_departments_take_part_is_answered_with_the_departments_not_the_indicators(client):
    from app.facts.slots import DEPARTMENT, asked_slots

    assert asked_slots("施工许可要经过哪些部门审批？")[0] == DEPARTMENT
    answered_with(client, "亩均评价除了工信局牵头，还有哪些部门按职责配合？", "税务部门")


def test_a_kunshan_town_the_library_never_names_is_neither_a_typo_nor_a_missing_place(client):
    first = ask(client, "我们在周市竞得了一块“标准地”，园区说区域评估已经统一做过了，环评还要单独做吗？")
    assert first["grounded"] is True, first["answer"]
    asked = stored_messages(client, first["conversation_id"])[-2]
    assert "周市" in (asked.standalone_question or asked.content) and "州市" not in (asked.standalone_question or ""), asked
    answered_with(client, "我们厂在张浦，技改设备补贴找哪个部门申请？", "区镇经济发展部门")


@pytest.mark.parametrize("question, facts", [
    # each part its own clause: the amount for 博士 (said before the part) and how it is paid out
    ("我们引进的博士想在昆山买房，购房补贴能拿多少？钱是一次给还是分几年给？", ["20万元", "一次性发放"]),
    # the second part's clause is one that the whole question's words did not find (负责解释)
    ("外资研发中心奖励的材料先交给区镇哪个部门？办法条款看不懂找谁解释？", ["区镇招商部门", "商务局负责解释"]),
    ("标准厂房租金补贴怎么申请？办法谁负责解释？", ["区镇受理初审", "负责解释"]),
    ("首台套奖励报到哪个部门？有疑问找谁解释？", ["区镇经济发展部门", "负责解释"]),
])
def test_each_part_of_a_question_in_several_parts_is_answered(client, question, facts):
    result = ask(client, question)
    assert result["grounded"] is True
    assert all(f in body(result["answer"]) for f in facts), result["answer"]


@pytest.mark.parametrize("question, fact", [
    ("我们是一家汽车零部件企业，技改设备投入补贴要交哪些材料？", "项目备案证明"),  # what the company is
    ("同事刚在昆山买了首套房申请人才购房补贴，要交哪些材料？", "学历学位或职称证书"),  # 申请 of the subsidy, not of a 套房
    ("国家级的首台套奖励按销售额的百分之几算？", "20%"),  # 国家首台（套） is the national level
])
def test_who_the_company_is_what_it_applies_for_and_the_national_level_are_not_unknown_subjects(client, question, fact):
    answered_with(client, question, fact)


@pytest.mark.parametrize("question, fact", [
    # the article that says why and by which law the document was made (usually set aside as preamble)
    ("环评审批是依据哪部法律办的？", "环境影响评价法"),
    ("施工许可证核发依据的是哪些法律法规？", "建筑法"),
    ("开发区为什么要搞工业用地分期供地？想防什么问题？", "圈而不用"),
    ("标准地改革的目的是什么？", "带指标出让"),
])
def test_the_legal_basis_and_the_purpose_are_answered_by_the_article_that_states_them(client, question, fact):
    answered_with(client, question, fact)


def test_a_follow_up_that_names_another_policy_by_its_title_starts_a_new_subject(client):
    first = answered_with(client, "人才购房补贴硕士能拿多少？", "5万元")
    # (另外 marks a follow-up, 博士 and 人才 are the last policy's words, but 青年人才生活补贴 is another title)
    then = ask(client, "另外还有个应届博士，苏州的青年人才生活补贴线下去哪里申领？", first["conversation_id"])
    assert then["grounded"] is True and "人力资源和社会保障" in body(then["answer"]), then["answer"]
    assert then["citations"][0]["doc_id"] == "sz-youth-talent-living-subsidy"


def test_the_policy_the_user_says_the_answer_is_not_is_set_aside_and_its_words_name_no_place(client):
    # (政策里省重点实验室: 里省 is no province the library lacks; the 苏州 policy named there is not the answer)
    result = answered_with(client, "刚获批省级工程技术研究中心，昆山这边奖多少？不是问苏州产业创新集群政策里省重点实验室那个资助。",
                           "30万元")
    assert result["citations"][0]["doc_id"] != "sz-industry-innovation-cluster", result["answer"]



@pytest.mark.parametrize("question, fact", [
    ("专精特新申报材料过了区镇以后，市里是怎么评的？", "组织专家评审"),
    ("施工图审查合格意见还没出来，能先把施工许可证申请下来吗？", "施工图设计文件已按规定审查合格"),
])
def test_how_they_judge_and_whether_it_may_be_applied_for_yet(client, question, fact):
    answered_with(client, question, fact)


def test_a_follow_up_asking_a_benefit_only_another_policy_names_moves_to_that_policy(client):
    first = ask(client, "我们公司做工业软件，属于科技型中小企业，今年招了四个应届生，两个做研发两个做客服，合同签了三年，"
                        "社保交了半年，吸纳高校毕业生奖励是不是四个人都能报？")
    # (那 marks a follow-up and 客服 is the last question's word; 扩岗 is used by one other policy alone)
    then = ask(client, "那两个做客服的，人社的一次性扩岗补助能拿吗？合同和缴费有啥要求？", first["conversation_id"])
    assert then["grounded"] is True and "1年以上劳动合同" in body(then["answer"]), then["answer"]


def test_a_talent_class_named_is_answered_with_that_class_alone(client):
    text = body(answered_with(client, "C类人才在昆山买首套房，购房补贴最多多少？", "C类人才最高50万元")["answer"])
    assert "A类" not in text and "300万元" not in text, text  # (the 最高 of another class is not asked)


def test_what_a_class_stands_for_is_the_clause_that_defines_it(client):
    answered_with(client, "按昆山的人才分类目录，E类人才具体是指哪些人？", "副高级职称")


def test_a_degree_asked_is_answered_by_its_class_clause_and_not_by_the_rent_for_every_degree(client):
    # (found live: D类人才（博士研究生…） also names a class the question does not, which must not count against it)
    text = body(answered_with(client, "我们公司引进了一个博士，准备在昆山买第一套房，购房补贴能拿多少？是一次给还是分几年？",
                              "20万元")["answer"])
    assert "一次性发放" in text and "每月2000元" not in text, text

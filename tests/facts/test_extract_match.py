"""Policy items extracted from real sample-corpus files, and the matching rules of MATCH_README.md
(no index needed: the documents go through the ingest path's load, clean and chunk steps)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from app.facts.eligibility import ASK, Eligibility, profile_from_text, wants_matching
from app.facts.extract import Condition, PolicyItem, Window
from app.facts.matching import CompanyProfile, Matcher, evaluate
from bench.match import DATA, align, extract_corpus, read_jsonl

TODAY = dt.date(2026, 11, 30)


@pytest.fixture(scope="module")
def corpus(sample_corpus_dir):
    return extract_corpus(sample_corpus_dir)


def items_of(corpus, doc_id: str) -> dict[str, PolicyItem]:
    return {i.article: i for i in corpus[doc_id][1]}


def typed(item: PolicyItem) -> set[tuple]:
    return {(c.field, c.op, tuple(c.value) if isinstance(c.value, list) else c.value) for c in item.conditions if c.field}


def test_thresholds_ranges_and_company_age(corpus):
    items = items_of(corpus, "ks-tech-sme-support")
    # 成立不满3年、员工人数在10人以上50人以下的科技型中小企业
    assert typed(items["第五条"]) == {("region", "eq", "昆山"), ("enterprise_type", "has", "科技型中小企业"),
                                     ("years_established", "lt", 3.0), ("employees", "gte", 10.0),
                                     ("employees", "lte", 50.0)}
    # 员工总数不超过200人 is lte, not gt
    assert ("employees", "lte", 200.0) in typed(items["第六条"])
    assert items["第四条"].amount_max_wan == 30 and items["第四条"].ratio == 0.05
    assert items["第四条"].window.recurring == "11-15/12-15"


def test_condition_scope_stops_at_the_grant(corpus):
    """营业收入超过50亿元的，奖励提高至200万元 is a bonus tier, not a condition of the item."""
    items = items_of(corpus, "ks-hq-foreign-investment-reward")
    second = next(i for a, i in items.items() if a.endswith("（二）"))
    assert not any(c.field == "revenue_wan" for c in second.conditions)
    assert {("enterprise_type", "has", "总部企业"), ("event", "has", "首次认定")} <= typed(second)
    first = next(i for a, i in items.items() if a.endswith("（一）"))
    assert {("enterprise_type", "has", "外资"), ("enterprise_type", "has", "总部企业")} <= typed(first)


def test_cap_lists_schedules_and_any_of_types(corpus):
    zhigai = items_of(corpus, "ks-zhigai-shuzhuan-2024")
    first = next(i for a, i in zhigai.items() if a.endswith("（一）"))
    assert first.amount_max_wan == 500  # 最高100万元、300万元、500万元
    assert ("investment_wan", "gt", 10000.0) in typed(first)  # 首次超过1亿元、3亿元、5亿元: the lowest
    eight = items_of(corpus, "ks-tech-eight-projects-2024")
    talent = next(i for a, i in eight.items() if a.endswith("（四）"))
    assert (talent.window.start, talent.window.end) == ("2026-04-01", "2026-05-31")  # 第（四）项…于…申报
    rd = items_of(corpus, "ks-rd-investment-reward")
    assert ("enterprise_type", "in", ("规上工业", "高新技术企业", "科技型中小企业")) in typed(rd["第三条（一）"])
    assert ("enterprise_type", "has", "规上工业") in typed(rd["第三条（三）"])  # its own type replaces the list


def test_every_labelled_item_has_an_extracted_counterpart(corpus):
    labels = read_jsonl(DATA / "match_items.jsonl")
    aligned = align(labels, {d: items for d, (_, items) in corpus.items()})
    assert [k for k, v in aligned.items() if v is None] == []


def item(conditions, *, amount=None, window=None, doc="d", article="第一条") -> PolicyItem:
    return PolicyItem(item_id=f"{doc}{article}", doc_id=doc, content_hash="h", article=article, chunk_id="c",
                      programme="示例", benefit="奖励", amount_text="", amount_max_wan=amount, ratio=None,
                      window=window or Window(), conditions=[Condition("", *c) if c[0] else Condition(c[1]) for c in conditions])


def status(profile: dict, conditions, expires=None) -> str:
    matcher = Matcher(None, None, clock=lambda: TODAY)
    version = SimpleNamespace(title="t", expires=expires)
    return matcher.match(CompanyProfile(**profile), items=[(item(conditions), version)])[0].status


def test_matching_rules():
    kunshan = ("region", "eq", "昆山")
    assert status({"district": "花桥镇"}, [kunshan]) == "eligible"
    assert status({"district": "苏州工业园区"}, [kunshan]) == "ineligible"
    assert status({"district": "苏州工业园区"}, [("region", "eq", "苏州")]) == "eligible"
    assert status({}, [kunshan]) == "possible"  # a missing field is unknown
    assert status({"events": []}, [("event", "has", "购置设备")]) == "ineligible"  # a given list is complete
    assert status({"enterprise_types": ["外资"]}, [("enterprise_type", "in", ["高新技术企业", "外资"])]) == "eligible"
    assert status({"industry": "C 制造"}, [("industry", "in", ["B 采矿业", "C 制造业"])]) == "eligible"
    # 以上/以下 include the figure, 超过/不满 do not; company age = this year − founded_year
    assert status({"revenue_wan": 2000}, [("revenue_wan", "gte", 2000)]) == "eligible"
    assert status({"revenue_wan": 2000}, [("revenue_wan", "gt", 2000)]) == "ineligible"
    assert status({"employees": 50}, [("employees", "lte", 50)]) == "eligible"
    assert status({"founded_year": 2023}, [("years_established", "lt", 3)]) == "ineligible"
    assert status({"founded_year": 2024}, [("years_established", "lt", 3)]) == "eligible"
    assert status({"rd_expense_wan": 40, "revenue_wan": 1000}, [("rd_ratio", "gte", 0.04)]) == "eligible"
    assert status({"rd_expense_wan": 40}, [("rd_ratio", "gte", 0.04)]) == "possible"
    # untyped text never changes the status; an expired programme is never eligible
    assert status({"district": "玉山镇"}, [kunshan, (None, "近三年无严重失信记录")]) == "eligible"
    assert status({"district": "玉山镇"}, [kunshan], expires=dt.date(2025, 12, 31)) == "ineligible"


def test_why_is_in_chinese_and_names_the_figures():
    result = evaluate(CompanyProfile(employees=260), Condition("员工总数不超过200人", "employees", "lte", 200.0), TODAY)
    assert result.met is False and "员工数不超过200人" in result.why and "260人" in result.why
    unknown = evaluate(CompanyProfile(), Condition("近三年无事故"), TODAY)
    assert unknown.met is None and unknown.why.startswith("需人工确认")


def test_sorted_by_status_amount_then_closing_date():
    matcher = Matcher(None, None, clock=lambda: TODAY)
    version = SimpleNamespace(title="t", expires=None)
    live = [(item([], amount=10, window=Window(recurring="03-01/03-31"), article="a"), version),
            (item([], amount=10, window=Window(recurring="12-01/12-20"), article="b"), version),
            (item([], amount=50, article="c"), version),
            (item([("event", "has", "拿地")], amount=999, article="d"), version)]
    order = [m.item.article for m in matcher.match(CompanyProfile(), items=live)]
    assert order == ["c", "b", "a", "d"]  # eligible by amount, then the window closing first (12-20 < next 03-31)


def test_profile_from_the_question():
    profile, said = profile_from_text("我们是年营收3000万的制造企业，能申请哪些补贴？")
    assert profile.revenue_wan == 3000 and profile.industry == "C 制造业"
    assert wants_matching("我们公司能申请哪些？")
    profile, _ = profile_from_text("我们在花桥，软件企业，科技型中小企业，员工25人，2025年成立，研发费用90万元")
    assert (profile.district, profile.industry[:1], profile.enterprise_types, profile.employees,
            profile.founded_year, profile.rd_expense_wan) == ("花桥镇", "I", ["科技型中小企业"], 25, 2025, 90)


def test_chat_asks_for_missing_facts_in_one_message():
    matcher = Matcher(None, None, clock=lambda: TODAY)
    eligibility = Eligibility(matcher)
    asked = eligibility.answer(SimpleNamespace(question="我们公司能申请哪些？"))
    assert asked.text == ASK and asked.refusal_reason == "need_profile"
    assert "所在区镇" in asked.text and "企业类型" in asked.text and "营收" in asked.text
    assert eligibility.answer(SimpleNamespace(question="高新技术企业认定有什么奖励？")) is None

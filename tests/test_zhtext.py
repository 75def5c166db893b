"""The Chinese text layer on its own: the one sentence splitter's options, chunk ids, validity."""

from __future__ import annotations

import datetime as dt

import pytest

from zhtext.chunk_ids import chunk_id, chunk_prefix, split_chunk_id
from zhtext.sentences import STRONG_STOPS, ends_sentence, split_sentences
from zhtext.tokens import words
from zhtext.validity import cn_date, in_force

TEXT = "对企业给予奖励。[1] 最高20万元；按比例分担！（以正式文件为准。）\n附件：申报表"


def test_pieces_join_back_to_the_text_with_every_option():
    for options in ({}, {"marks": True}, {"stops": STRONG_STOPS}, {"closers": "", "newline": False}):
        assert "".join(split_sentences(TEXT, **options)) == TEXT


def test_the_options_decide_where_a_sentence_ends():
    assert split_sentences(TEXT) == ["对企业给予奖励。", "[1] 最高20万元；", "按比例分担！", "（以正式文件为准。）",
                                     "\n", "附件：申报表"]
    # WeChat: the citation mark stays with its sentence, so no message starts with "[1]".
    assert split_sentences(TEXT, marks=True)[0] == "对企业给予奖励。[1]"
    # The answer step: semicolons keep a clause whole.
    assert "[1] 最高20万元；按比例分担！" in split_sentences(TEXT, stops=STRONG_STOPS)


def test_ends_sentence():
    assert ends_sentence("给予奖励。") and ends_sentence("（以正式文件为准。）")
    assert not ends_sentence("对符合条件的企业给予") and ends_sentence("如下：", stops="：")


def test_chunk_ids_round_trip():
    prefix = chunk_prefix("ks-bond", "0123456789abcdef0123")
    assert prefix == "ks-bond::0123456789abcdef::"
    assert chunk_id(prefix, 3) == "ks-bond::0123456789abcdef::0003"
    assert split_chunk_id(chunk_id(prefix, 3)) == (prefix, 3)
    assert split_chunk_id("no-separator") == ("no-separator", None)


@pytest.mark.parametrize("expires", [dt.date(2026, 6, 30), "2026-06-30"])
def test_a_document_is_in_force_through_its_last_day(expires):
    assert in_force(expires, dt.date(2026, 6, 30))
    assert not in_force(expires, dt.date(2026, 7, 1))


def test_no_end_date_is_always_in_force_and_dates_read_as_chinese():
    assert in_force(None, dt.date(2099, 1, 1)) and in_force("", dt.date(2099, 1, 1))
    assert cn_date(dt.date(2026, 3, 1)) == cn_date("2026-03-01") == "2026年3月1日"


def test_everyday_words_are_not_split_into_other_words():
    assert "额外" in words("要额外交什么材料？") and "外交" not in words("要额外交什么材料？")



def test_homophone_typos_become_the_library_word_only_beside_the_question_topic():
    from zhtext.typos import Homophones

    library = {"申报": {"专精特新"}, "延期": {"施工", "许可证"}, "功能": {"平台"}, "不多": {"人数"}}
    known = lambda piece: any(piece in w or any(piece in o for o in others) for w, others in library.items())
    together = lambda word, others: bool(library.get(word, set()) & set(others))
    fix = Homophones(library).correct
    assert fix("专精特新什么时候申抱？", known, together) == "专精特新什么时候申报？"
    assert fix("施工许可证开不了工能延其几次？", known, together) == "施工许可证开不了工能延期几次？"  # not 功能
    assert fix("补多少钱", known, together) == "补多少钱"  # jieba knows 多少
    assert fix("專精特新怎麼申報", known, together) == "專精特新怎麼申報"  # traditional script is no typo
    # a misspelt question word jieba holds as a word (时侯), beside a typo of the library's word
    assert fix("专精特新什么时侯申抱？", known, together) == "专精特新什么时候申报？"


def test_a_typo_jieba_cut_apart_is_corrected_across_its_pieces():
    from zhtext.typos import Homophones

    library = {"智改数转": {"奖补", "材料"}, "奖补": {"智改数转"}}
    known = lambda piece: any(piece in w or any(piece in o for o in others) for w, others in library.items())
    together = lambda word, others: bool(library.get(word, set()) & set(others))
    fix = Homophones(library).correct
    assert fix("智改数专的奖补怎么申报", known, together) == "智改数转的奖补怎么申报"  # 智 / 改数 / 专


def test_a_piece_of_a_document_number_is_no_word_to_correct_to():
    from zhtext.typos import Homophones

    # 政发 is cut out of 昆政发〔2021〕4号 and sounds like 证发 (四个证发下来: four permits issued)
    library = {"政发": {"许可证"}, "许可证": {"政发"}}
    known = lambda piece: any(piece in w or any(piece in o for o in others) for w, others in library.items())
    together = lambda word, others: bool(library.get(word, set()) & set(others))
    fix = Homophones(library).correct
    assert fix("四个证发下来以后施工许可证过期了吗", known, together) == "四个证发下来以后施工许可证过期了吗"


def test_another_everyday_word_wins_over_a_longer_dictionary_word():
    assert words("除了申报书和营业执照，还要另外交啥？")[1:3] == ["申报书", "和"]
    assert "外交" not in words("还要另外交啥？")


def test_clause_marks_are_stripped_and_articles_told_from_sections():
    from zhtext.clauses import is_article, without_mark

    assert without_mark("二、配套支持") == "配套支持" and without_mark("（三）远程导办") == "远程导办"
    assert is_article("第三条") and is_article("第十二条") and not is_article("二、配套支持")


def test_a_policy_s_dates_in_one_sentence():
    import datetime as dt

    from zhtext.validity import validity_sentence

    on = dt.date(2026, 12, 2)
    assert validity_sentence("某办法", on, effective_from=dt.date(2021, 2, 25), expires=dt.date(2023, 12, 31),
                             doc_number="昆政发〔2021〕4号") == \
        "《某办法》（昆政发〔2021〕4号）自2021年2月25日起施行，有效期至2023年12月31日，已到期失效。"
    assert validity_sentence("某意见", on, published=dt.date(2026, 5, 1), expires=dt.date(2028, 12, 31)) == \
        "《某意见》于2026年5月1日印发，有效期至2028年12月31日，目前仍在有效期内。"
    assert validity_sentence("某指南", on) == ""  # nothing known: nothing said


def test_who_issued_a_policy_in_one_sentence():
    import datetime as dt

    from zhtext.validity import issuer_sentence

    assert issuer_sentence("某通知", "某市工业和信息化局", doc_number="某工信发〔2026〕3号", published=dt.date(2026, 1, 29)) == \
        "《某通知》的文号为某工信发〔2026〕3号，由某市工业和信息化局于2026年1月29日印发。"
    assert issuer_sentence("某指南", "某局") == "《某指南》由某局印发。"
    assert issuer_sentence("某指南", "") == ""  # nothing known: nothing said
    assert issuer_sentence("某细则", "某局", number_asked=True) == "《某细则》由某局印发，政策库未标注其文号。"


def test_an_article_that_names_the_benefit_it_gives():
    from zhtext.clauses import names_benefit

    assert names_benefit("第四条 研发费用补助。科技型中小企业上年度研发费用在50万元以上的，按5%给予补助。")
    assert not names_benefit("第七条 申报材料：（一）补助奖励申请表；")
    assert not names_benefit("第三条 对新认定的企业，给予一次性奖励2万元。")

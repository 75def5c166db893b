"""WeChat 政策体检: four questions build a profile keyed to the OpenID, then the matched list;
"删除我的信息" deletes it; a later "能申请哪些" uses the saved profile."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from app.components.database import create_db_engine, create_session_factory
from app.facts.checkup import DELETED, NOTHING, QUESTIONS, Checkup
from app.facts.eligibility import Eligibility
from app.facts.extract import Condition, PolicyItem, Window
from app.facts.matching import Matcher
from app.settings import Settings

TODAY = dt.date(2026, 11, 30)


def checkup(tmp_path) -> Checkup:
    item = PolicyItem(item_id="i1", doc_id="ks-tech-sme-support", content_hash="h", article="第六条", chunk_id="c1",
                      programme="吸纳高校毕业生奖励", benefit="奖励", amount_text="每家企业每年最高10万元",
                      amount_max_wan=10, ratio=None, window=Window(text="每年11月15日至12月15日", recurring="11-15/12-15"),
                      conditions=[Condition("在昆山依法登记注册", "region", "eq", "昆山"),
                                  Condition("招用应届毕业生", "event", "has", "招用高校毕业生")])
    matcher = Matcher(None, None, clock=lambda: TODAY)
    matcher.live = lambda: [(item, SimpleNamespace(title="昆山市科技型中小企业培育和初创科技企业扶持办法（示例）", expires=None))]
    sessions = create_session_factory(create_db_engine(Settings(_env_file=None, data_dir=tmp_path / "data")))
    return Checkup(Eligibility(matcher), sessions)


def test_question_sequence_result_and_delete(tmp_path):
    c = checkup(tmp_path)
    assert c.reply("wechat_mp", "openid-1", "你好") is None  # an ordinary question goes to chat
    first = c.reply("wechat_mp", "openid-1", "政策体检")
    assert QUESTIONS[0] in first.text and "删除我的信息" in first.text
    assert c.reply("wechat_mp", "openid-1", "花桥").text == QUESTIONS[1]
    assert c.reply("wechat_mp", "openid-1", "软件企业，科技型中小企业").text == QUESTIONS[2]
    assert c.reply("wechat_mp", "openid-1", "营收300万元，员工25人，2025年成立").text == QUESTIONS[3]
    result = c.reply("wechat_mp", "openid-1", "今年招了3个应届毕业生", base_url="https://kry.example")
    assert result.grounded and "第六条" in result.text and "[1]" in result.text
    assert result.citations[0].chunk_id == "c1" and "https://kry.example/" in result.text
    saved = c.saved("wechat_mp", "openid-1").profile
    assert saved["district"] == "花桥镇" and saved["events"] == ["招用高校毕业生"] and saved["employees"] == 25
    # later: the saved profile answers the question; another account sees nothing of it
    again = c.reply("wechat_mp", "openid-1", "我们公司能申请哪些补贴？")
    assert again is not None and "第六条" in again.text
    assert c.reply("wechat_mp", "openid-2", "删除我的信息").text == NOTHING
    assert c.reply("wechat_mp", "openid-1", "删除我的信息").text == DELETED
    assert c.saved("wechat_mp", "openid-1") is None


def test_skip_and_none_answers(tmp_path):
    c = checkup(tmp_path)
    c.reply("wework", "u", "政策体检")
    c.reply("wework", "u", "跳过")
    c.reply("wework", "u", "制造业")
    c.reply("wework", "u", "不清楚")
    result = c.reply("wework", "u", "无")
    assert c.saved("wework", "u").profile == {"industry": "C 制造业", "events": []}
    assert "没有" in result.text or "暂未找到" in result.text


def test_wechat_channel_routes_checkup_before_chat(tmp_path):
    """The Official Account's text handler: 政策体检 and 删除我的信息 are answered by the checkup,
    everything else still goes to chat."""
    from app.wechat.service import WeChatChannel

    asked: list[str] = []
    chat = SimpleNamespace(checkup=checkup(tmp_path),
                           answer=lambda q, *a, **k: asked.append(q) or SimpleNamespace(answer="普通回答", citations=[]))
    channel = WeChatChannel.__new__(WeChatChannel)
    channel.channel, channel.chat = "wechat", chat
    channel.conversations = SimpleNamespace(latest_for=lambda *a: None)
    assert QUESTIONS[0] in channel._answer("openid-9", "政策体检", "https://kry.example")[0]
    assert channel._answer("openid-9", "删除我的信息", "https://kry.example") == [DELETED]
    assert channel._answer("openid-9", "稳岗补贴怎么申请？", "https://kry.example") == ["普通回答"]
    assert asked == ["稳岗补贴怎么申请？"]

"""政策体检 through the Official Account's real callback path (encrypted as WeChat does): the four
questions, the matched list with source links, then 删除我的信息."""

from __future__ import annotations

from tests.fakes.wechat_server import MpCallbacks  # noqa: F401 - used by the fixtures below
from tests.wechat.conftest import (  # noqa: F401 - re-exported fixtures
    PUBLIC_URL, ask, fake_wechat, fast_llm, fresh_state, llm, make_wechat_app, make_wechat_client, mp, openid,
    post, reply_text, wechat_services, wechat_settings,
)


def test_checkup_sequence_over_the_callback(make_wechat_client, fast_llm, fake_wechat, mp, openid):  # noqa: F811
    client = make_wechat_client()

    def say(text: str) -> str:
        return reply_text(mp, post(client, ask(mp, openid, content=text)))

    assert "政策体检 1/4" in say("政策体检")
    assert "2/4" in say("玉山镇")
    assert "3/4" in say("制造业，高新技术企业")
    assert "4/4" in say("营收5000万元，研发费用300万元，员工120人，2012年成立")
    result = say("无")
    assert "政策条目" in result and "[1] 来源：《" in result and f"{PUBLIC_URL}/documents/" in result
    assert "删除我的信息" in result
    assert "已删除" in say("删除我的信息")
    assert "没有保存过" in say("删除我的信息")

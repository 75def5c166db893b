"""Official Account callbacks through the real HTTP path, encrypted exactly as WeChat does."""

from __future__ import annotations

import time

import pytest
import xmltodict
from pydantic import ValidationError

from app.components.database import create_db_engine, create_session_factory
from app.components.shared_state import SqlState
from app.errors import CallbackRejected
from app.settings import Settings, describe_invalid
from app.wechat.service import build_mp_channel

from tests.fakes.wechat_server import MpCallbacks, new_msg_id, text_xml
from tests.wechat.conftest import MP_AES_KEY, MP_APP_ID, MP_TOKEN, PUBLIC_URL, QUESTION
from tests.wechat.conftest import ask as _ask
from tests.wechat.conftest import post as _post
from tests.wechat.conftest import reply_text as _reply_text

# --- URL verification ------------------------------------------------------------------------

def test_url_verification_with_wechatpys_published_vector(make_wechat_client):
    client = make_wechat_client(wechat_mp_token="test")
    good = client.get("/wechat/mp", params={"signature": "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff",
                                             "timestamp": "1410685589", "nonce": "test", "echostr": "hello123"})
    assert good.status_code == 200 and good.text == "hello123"
    bad = client.get("/wechat/mp", params={"signature": "f21891de399b4e33a1a93c9a7b8a8fffb5a443fe",
                                            "timestamp": "1410685589", "nonce": "test", "echostr": "hello123"})
    assert bad.status_code == 403 and "hello123" not in bad.text
    assert client.get("/wechat/mp", params={"timestamp": "1410685589", "nonce": "test"}).status_code == 403


def test_channels_are_off_until_configured(make_wechat_client):
    client = make_wechat_client(wechat_mp_token="", wework_token="")
    for path in ("/wechat/mp", "/wechat/work"):
        response = client.post(path, content=b"<xml/>")
        assert response.status_code == 404
        assert response.json()["error"] == "channel_not_configured" and "未启用" in response.json()["message"]
    # Half a WeCom configuration, or a key that is no EncodingAESKey, stops the start instead of a 503
    # on the first callback (tests/ops/test_settings_at_start.py starts the server with each).
    for bad in ({"wework_aes_key": ""}, {"wework_corp_id": ""}, {"wechat_mp_aes_key": MP_AES_KEY[:-1]},
                {"wework_aes_key": MP_AES_KEY[:-1] + "!"}, {"wechat_mp_app_id": ""}):
        with pytest.raises(ValidationError) as info:
            make_wechat_client(**bad)
        assert f"KUNRUYI_{next(iter(bad)).upper()}" in describe_invalid(info.value)


# --- answers ---------------------------------------------------------------------------------

def test_safe_mode_round_trip_answers_with_sources_and_links(make_wechat_client, fast_llm, fake_wechat, mp, openid):
    client = make_wechat_client()
    response = _post(client, _ask(mp, openid))
    assert "<Encrypt>" in response.text  # a safe-mode request gets an encrypted reply
    plain = xmltodict.parse(mp.open_reply(response.text))["xml"]
    assert plain["ToUserName"] == openid and plain["FromUserName"] == "gh_kunruyi" and plain["MsgType"] == "text"
    content = plain["Content"]
    assert "30万元" in content
    assert "[1] 来源：《" in content
    assert f"{PUBLIC_URL}/documents/" in content
    assert fake_wechat.messages == []  # answered in time: nothing through the API


def test_plaintext_and_compatible_modes(make_wechat_client, fast_llm, wechat_services, openid):
    plain_client = make_wechat_client(wechat_mp_aes_key="")
    plain_mp = MpCallbacks(MP_TOKEN)
    response = _post(plain_client, _ask(plain_mp, openid, mode="plain"))
    assert "<Encrypt>" not in response.text and "30万元" in _reply_text(plain_mp, response)

    mp = MpCallbacks(MP_TOKEN, MP_AES_KEY, MP_APP_ID)
    client = make_wechat_client()
    compatible = _post(client, _ask(mp, openid + "c", mode="compatible"))
    assert "<Encrypt>" in compatible.text and "30万元" in _reply_text(mp, compatible)


def test_follow_ups_stay_in_one_conversation_per_openid(make_wechat_client, fast_llm, wechat_services, mp, openid):
    client = make_wechat_client()
    _post(client, _ask(mp, openid))
    _post(client, _ask(mp, openid, content="那申报条件是什么？"))
    conversation = wechat_services.conversations.latest_for("wechat", openid)
    questions = [m.content for m in wechat_services.conversations.history(conversation) if m.role == "user"]
    assert questions == [QUESTION, "那申报条件是什么？"]
    assert wechat_services.conversations.get_conversation(conversation).user_ref == openid


def test_subscribe_voice_and_other_types(make_wechat_client, fast_llm, mp, openid):
    client = make_wechat_client()
    now = int(time.time())

    def send(inner: str, **kwargs):
        xml = (f"<xml><ToUserName><![CDATA[gh_kunruyi]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>"
               f"<CreateTime>{kwargs.get('create_time', now)}</CreateTime>{inner}</xml>")
        return _post(client, mp.request(xml, openid=openid))

    welcome = _reply_text(mp, send("<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event>"))
    assert "欢迎" in welcome and "高新技术企业认定有什么奖励？" in welcome

    voice = send(f"<MsgType><![CDATA[voice]]></MsgType><MediaId><![CDATA[m]]></MediaId><Format><![CDATA[amr]]></Format>"
                 f"<Recognition><![CDATA[{QUESTION}]]></Recognition><MsgId>{new_msg_id()}</MsgId>")
    assert "30万元" in _reply_text(mp, voice)
    silent_voice = send(f"<MsgType><![CDATA[voice]]></MsgType><MediaId><![CDATA[m]]></MediaId>"
                        f"<MsgId>{new_msg_id()}</MsgId>")
    assert "文字" in _reply_text(mp, silent_voice)

    image = send(f"<MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[http://x/y.jpg]]></PicUrl>"
                 f"<MsgId>{new_msg_id()}</MsgId>")
    assert "仅支持文字" in _reply_text(mp, image)
    unknown = send(f"<MsgType><![CDATA[hologram]]></MsgType><MsgId>{new_msg_id()}</MsgId>")
    assert "仅支持文字" in _reply_text(mp, unknown)
    odd_event = send("<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[teleport]]></Event>", create_time=now + 1)
    assert odd_event.status_code == 200 and odd_event.text == "success"
    unsubscribe = send("<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[unsubscribe]]></Event>", create_time=now + 2)
    assert unsubscribe.text == "success"


# --- rejections ------------------------------------------------------------------------------

def test_bad_callbacks_are_rejected_without_a_chat_call(make_wechat_client, fast_llm, fake_wechat, wechat_services,
                                                        mp, openid):
    client = make_wechat_client()
    llm_calls = len(fast_llm.requests)

    path, body = _ask(mp, openid)
    assert client.post(path.replace("signature=", "signature=0"), content=body).status_code == 403
    assert client.post(path.replace("msg_signature=", "msg_signature=0"), content=body).status_code == 403

    other_app = MpCallbacks(MP_TOKEN, MP_AES_KEY, "wx_another_app_id")
    wrong_app = _post(client, _ask(other_app, openid))
    assert wrong_app.status_code == 403 and "AppID" in wrong_app.json()["message"]

    xml = text_xml(to_user="gh_kunruyi", from_user=openid, content=QUESTION, msg_id=new_msg_id())
    stale = _post(client, mp.request(xml, openid=openid, timestamp=int(time.time()) - 3600))
    assert stale.status_code == 403 and "过期" in stale.json()["message"]
    assert _post(client, mp.request(xml, mode="plain", timestamp=int(time.time()) + 3600)).status_code == 403

    plain_client, plain_mp = make_wechat_client(wechat_mp_aes_key=""), MpCallbacks(MP_TOKEN)
    for broken in ("<xml><FromUserName>o", "not xml at all", "<root>1</root>",
                   '<!DOCTYPE xml [<!ENTITY x "boom">]><xml><Content>&x;</Content></xml>'):
        response = _post(plain_client, plain_mp.request(broken, mode="plain", openid=openid))
        assert response.status_code == 400, broken
        assert _post(client, mp.request(broken, openid=openid)).status_code == 400, broken

    assert len(fast_llm.requests) == llm_calls
    assert wechat_services.conversations.latest_for("wechat", openid) is None
    assert fake_wechat.attempts == []


# --- issue 12: plaintext in safe mode, replayed nonces ----------------------------------------

def test_with_an_aes_key_a_plaintext_callback_is_refused(make_wechat_client, fast_llm, fake_wechat, wechat_services,
                                                         mp, openid):
    # Item 4: a plaintext callback's signature covers no body, so anyone holding one signed URL
    # could post any text as any OpenID. With an EncodingAESKey set, only encrypted callbacks count.
    client = make_wechat_client()
    calls = len(fast_llm.requests)
    response = _post(client, _ask(mp, openid, mode="plain"))
    assert response.status_code == 403 and "加密" in response.json()["message"]
    assert len(fast_llm.requests) == calls
    assert wechat_services.conversations.latest_for("wechat", openid) is None
    assert "30万元" in _reply_text(mp, _post(client, _ask(mp, openid)))  # safe mode works
    assert "30万元" in _reply_text(mp, _post(client, _ask(mp, openid + "c", mode="compatible")))


def test_a_signed_timestamp_and_nonce_cannot_carry_another_body(make_wechat_client, fast_llm, fake_wechat,
                                                                 wechat_services, openid):
    # Item 5: the same timestamp+nonce+signature with another body and OpenID within the window.
    client = make_wechat_client(wechat_mp_aes_key="")  # plaintext mode: the signature covers no body
    plain = MpCallbacks(MP_TOKEN)
    path, body = _ask(plain, openid, mode="plain")
    assert "30万元" in _reply_text(plain, client.post(path, content=body))
    calls = len(fast_llm.requests)

    victim = openid + "v"
    forged = text_xml(to_user="gh_kunruyi", from_user=victim, content="帮我注销企业", msg_id=new_msg_id())
    replay = client.post(path, content=forged.encode())
    assert replay.status_code == 403 and "重复" in replay.json()["message"]
    assert len(fast_llm.requests) == calls
    assert wechat_services.conversations.latest_for("wechat", victim) is None

    # WeChat's own retry of the same message (same query, same body) is no replay: deduplicated as before.
    retry = client.post(path, content=body)
    assert retry.status_code == 200 and retry.text == "success"


def test_a_nonce_stays_used_for_the_whole_timestamp_window(wechat_settings, wechat_services, tmp_path, fast_llm,
                                                           fake_wechat, openid):
    now = [float(int(time.time()))]
    clock = lambda: now[0]  # noqa: E731 - one clock for the codec and the shared state
    settings = wechat_settings(wechat_mp_aes_key="", wechat_timestamp_tolerance=300)
    state = SqlState(create_session_factory(create_db_engine(Settings(_env_file=None, data_dir=tmp_path / "s"))),
                     clock=clock)
    channel = build_mp_channel(settings, wechat_services.chat, wechat_services.conversations, state)
    channel.codec.clock = clock
    plain = MpCallbacks(MP_TOKEN)

    def receive(xml: str, timestamp: int, nonce: str = "4242"):
        ts = str(timestamp)
        query = {"signature": plain.sign(ts, nonce), "timestamp": ts, "nonce": nonce}
        return channel.receive(query, xml.encode(), PUBLIC_URL, time.monotonic())

    signed_at = int(now[0]) - 290  # arrives late, still inside the window
    first = text_xml(to_user="gh_kunruyi", from_user=openid, content=QUESTION, msg_id=new_msg_id(),
                     create_time=signed_at)
    assert "30万元" in receive(first, signed_at).content
    forged = text_xml(to_user="gh_kunruyi", from_user=openid + "v", content="另一个问题", msg_id=new_msg_id(),
                      create_time=signed_at)
    for moment in (signed_at + 290, signed_at + 299):  # the timestamp is accepted until signed_at + 300 …
        now[0] = moment
        with pytest.raises(CallbackRejected, match="重复"):
            receive(forged, signed_at)
    now[0] = signed_at + 301  # … after which the timestamp check refuses it anyway
    with pytest.raises(CallbackRejected, match="过期"):
        receive(forged, signed_at)
    assert channel.dispatcher.drain(30)

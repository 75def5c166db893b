"""WeCom app callbacks: wechatpy's published vector, encrypted messages, answers via message/send."""

from __future__ import annotations

import time

from tests.fakes.wechat_server import WorkCallbacks, new_msg_id, text_xml
from tests.wechat.conftest import QUESTION, WORK_AES_KEY, WORK_AGENT_ID, WORK_TOKEN, post

VECTOR = {"msg_signature": "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96", "timestamp": "1411443780",
          "nonce": "437374425",
          "echostr": "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q=="}


def _message(work, user: str, content: str = QUESTION, msg_id: int | None = None, **kwargs):
    xml = text_xml(to_user="wx49f0ab532d5d035a", from_user=user, content=content, msg_id=msg_id or new_msg_id(),
                   agent_id=WORK_AGENT_ID)
    return work.request(xml, **kwargs)


def test_url_verification_with_wechatpys_published_vector(make_wechat_client):
    client = make_wechat_client()
    response = client.get("/wechat/work", params=VECTOR)
    assert response.status_code == 200 and response.text == "5927782489442352469"
    wrong_nonce = client.get("/wechat/work", params={**VECTOR, "nonce": "437374424"})
    assert wrong_nonce.status_code == 403 and "5927782489442352469" not in wrong_nonce.text


def test_encrypted_message_is_answered_through_message_send(make_wechat_client, fast_llm, fake_wechat, work):
    client = make_wechat_client()
    response = post(client, _message(work, "zhangsan"))
    assert response.status_code == 200 and response.text == ""  # the answer goes out through the API
    delivered = fake_wechat.wait_for_messages(1)
    assert delivered[0]["kind"] == "work" and delivered[0]["touser"] == "zhangsan"
    assert delivered[0]["agentid"] == WORK_AGENT_ID
    assert "30万元" in delivered[0]["content"] and "来源：《" in delivered[0]["content"]


def test_retries_deliver_once(make_wechat_client, slow_llm, fake_wechat, work):
    client = make_wechat_client()
    request = _message(work, "lisi")
    assert [post(client, request).text for _ in range(3)] == ["", "", ""]
    fake_wechat.wait_for_messages(1)
    time.sleep(1.0)
    assert [m["touser"] for m in fake_wechat.messages] == ["lisi"]


def test_bad_callbacks_are_rejected_without_a_chat_call(make_wechat_client, fast_llm, fake_wechat):
    client = make_wechat_client()
    calls = len(fast_llm.requests)
    other_corp = WorkCallbacks(WORK_TOKEN, WORK_AES_KEY, "wx_another_corp")
    wrong_corp = post(client, _message(other_corp, "wangwu"))
    assert wrong_corp.status_code == 403 and "CorpID" in wrong_corp.json()["message"]
    work = WorkCallbacks(WORK_TOKEN, WORK_AES_KEY, "wx49f0ab532d5d035a")
    assert post(client, _message(work, "wangwu", timestamp=int(time.time()) - 3600)).status_code == 403
    path, body = _message(work, "wangwu")
    assert client.post(path.replace("msg_signature=", "msg_signature=0"), content=body).status_code == 403
    assert client.post(path, content=b"<xml><Encrypt>").status_code == 400
    time.sleep(0.5)
    assert len(fast_llm.requests) == calls and fake_wechat.attempts == []

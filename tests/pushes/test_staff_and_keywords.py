"""Staff API (/api/admin/pushes) over the real app, and the WeChat keywords 订阅 / 退订 / 删除我的信息."""

from __future__ import annotations

from app.facts.checkup import CheckupRow
from app.pushes import wechat as keywords
from tests.pushes.conftest import EDITOR, GRADUATES, MP_TOKEN, PUBLIC, REVIEWER, VIEWER, auth, talent_doc


def test_staff_review_approve_cancel_and_test_send(app_env):
    services, client, publish, fake = app_env
    pushes = services.pushes
    pushes.service.watch()
    for n in range(3):
        pushes.service.subscribe("wechat", f"oAbCdEf-user-{n}", GRADUATES)
    publish("talent.md", talent_doc())
    (batch,) = pushes.service.watch()

    listed = client.get("/api/admin/pushes", headers=auth(VIEWER)).json()
    assert listed["review"] is True and listed["subscribers"] == {"active": 3}
    (row,) = listed["batches"]
    assert row["id"] == batch and row["status"] == "review" and row["counts"]["queued"] == 3
    detail = client.get(f"/api/admin/pushes/{batch}", headers=auth(VIEWER)).json()
    assert detail["subscribers"] == 3 and len(detail["sample"]) == 3
    first = detail["sample"][0]
    assert first["subscriber"] == "oAbC…er-0" and first["amount"] and first["window"] == "2026年12月10日至12月31日"
    assert first["url"].startswith(PUBLIC + "/documents/push-test-talent")

    assert client.post(f"/api/admin/pushes/{batch}/approve", headers=auth(VIEWER)).status_code == 403
    assert client.post(f"/api/admin/pushes/{batch}/approve", headers=auth(REVIEWER)).status_code == 403
    assert client.get("/api/admin/pushes", headers={}).status_code == 401
    pushes.sender.send_due()
    assert fake.messages == []  # waiting for approval
    approved = client.post(f"/api/admin/pushes/{batch}/approve", headers=auth(EDITOR))
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    pushes.sender.send_due()
    assert len(fake.messages) == 3
    assert client.get(f"/api/admin/pushes/{batch}", headers=auth(VIEWER)).json()["counts"]["sent"] == 3

    publish("other.md", talent_doc(doc_id="push-test-other"))
    (second,) = pushes.service.watch()
    cancelled = client.post(f"/api/admin/pushes/{second}/cancel", headers=auth(EDITOR)).json()
    assert cancelled["status"] == "cancelled" and cancelled["counts"]["skipped"] == 3
    pushes.sender.send_due()
    assert len(fake.messages) == 3
    assert client.get("/api/admin/pushes/999", headers=auth(VIEWER)).status_code == 404

    sent = client.post("/api/admin/pushes/test", json={"openid": "o-staff-own"}, headers=auth(EDITOR)).json()
    assert sent == {"ok": True, "via": "subscribe", "errcode": 0, "error": ""}
    assert fake.messages[-1]["touser"] == "o-staff-own"
    assert client.post("/api/admin/pushes/test", json={"openid": "o x"}, headers=auth(EDITOR)).status_code == 422
    actions = [e.action for e in services.admin.audit.entries()]
    assert {"push_approve", "push_cancel", "push_test"} <= set(actions)

    page = client.get("/admin/pushes/pushes.js")
    assert page.status_code == 200 and "政策推送" in page.text
    assert "/admin/pushes/pushes.js" in client.get("/admin").text


def test_wechat_keywords(app_env):
    services, _client, _publish, _fake = app_env
    pushes, checkup = services.pushes, services.chat.checkup
    say = lambda user, text: keywords.reply(pushes, "wechat", user, text, checkup=checkup)  # noqa: E731

    # No profile yet: asked for, then the next message that states facts completes the subscription.
    assert say("o-new", "订阅") == keywords.ASK
    assert say("o-new", "高新技术企业认定有什么奖励？") is None  # a question, not an answer: the chat takes it
    assert say("o-new", "订阅 人才") == keywords.ASK
    done = say("o-new", "我们在玉山镇，制造业，员工80人，今年计划招用应届高校毕业生")
    assert done.startswith("已为您开通政策推送（类别：人才）") and "玉山镇" in done
    row = pushes.service.subscription("wechat", "o-new")
    assert row.status == "active" and row.topics == ["人才"] and row.profile["district"] == "玉山镇"
    assert say("o-new", "你好") is None

    # The profile saved by the 政策计算器's 政策体检 is taken as it is.
    with services.ingest.registry.session_factory.begin() as session:
        session.add(CheckupRow(user_key="wechat:o-checked", profile=GRADUATES, step=0))
    assert say("o-checked", "订阅政策推送").startswith("已为您开通政策推送（类别：全部）")

    assert say("o-new", "退订") == keywords.UNSUBSCRIBED
    assert pushes.service.subscription("wechat", "o-new").status == "ended"
    assert say("o-new", "退订") == keywords.NOT_SUBSCRIBED
    deleted = say("o-checked", "删除我的信息")
    assert deleted.startswith("已删除您的企业信息和政策推送订阅")
    assert pushes.service.subscription("wechat", "o-checked") is None and checkup.saved("wechat", "o-checked") is None
    assert say("o-nobody", "删除我的信息").startswith("您没有保存过")


def test_worker_in_the_app_pushes_a_new_version(app_env):
    """KUNRUYI_PUSH_ENABLED: the lifespan's worker finds the new version and sends it, no call by hand."""
    import time

    from app.pushes.models import SeenVersionRow
    from app.pushes.runtime import start_pushes

    services, _client, publish, fake = app_env
    pushes = services.pushes
    pushes.settings.enabled, pushes.settings.review, pushes.settings.tick_seconds = True, False, 0.1
    pushes.service.subscribe("wechat", "o-worker", GRADUATES)
    stop = start_pushes(services)
    try:
        deadline = time.monotonic() + 30
        while True:  # the first tick records the baseline
            with services.ingest.registry.session_factory() as session:
                if session.query(SeenVersionRow).count():
                    break
            assert time.monotonic() < deadline
            time.sleep(0.05)
        publish("talent.md", talent_doc())
        fake.wait_for_messages(1, timeout=30)
    finally:
        stop()
    assert [m["touser"] for m in fake.messages] == ["o-worker"]


def test_keywords_through_the_official_account_callback(app_env):
    """订阅 / 退订 sent to /wechat/mp (plaintext mode) are answered by the push hook, once."""
    import xmltodict

    from tests.fakes.wechat_server import MpCallbacks, new_msg_id, text_xml

    services, client, _publish, _fake = app_env
    services.pushes.settings.enabled = True
    mp = MpCallbacks(MP_TOKEN)

    def send(text: str, msg_id: int | None = None) -> str:
        xml = text_xml(to_user="gh_kunruyi", from_user="o-callback", content=text, msg_id=msg_id or new_msg_id())
        path, body = mp.request(xml, mode="plain", openid="o-callback")
        response = client.post(path, content=body, headers={"Content-Type": "text/xml"})
        assert response.status_code == 200, response.text
        return xmltodict.parse(response.text)["xml"]["Content"]

    assert send("订阅") == keywords.ASK
    msg_id = new_msg_id()
    assert send("我们在花桥镇，制造业，高新技术企业，员工50人", msg_id).startswith("已为您开通政策推送")
    assert services.pushes.service.subscription("wechat", "o-callback").status == "active"
    assert send("退订") == keywords.UNSUBSCRIBED
    assert services.pushes.service.subscription("wechat", "o-callback").status == "ended"

"""Triggers against the real ingest path and the fake WeChat API: a new live version, the same
activation twice, a window closing within 7 days, expiry, staff review."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.pushes.models import CANCELLED, DONE, REVIEW, SKIPPED, PushBatchRow, PushRow
from tests.pushes.conftest import GRADUATES, HIGH_TECH, OUTSIDE, SOFTWARE, TZ, talent_doc


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_new_version_pushes_each_matching_subscriber_once(backend, make_env, request):
    url = request.getfixturevalue("postgres_schema_url") if backend == "postgres" else ""
    env = make_env(url)
    svc = env.service
    assert svc.watch() == []  # baseline: nothing live is news
    svc.subscribe("wechat", "o-graduates", GRADUATES)
    svc.subscribe("wechat", "o-hightech", HIGH_TECH, topics=["资质认定"])  # only the 第三条 item
    svc.subscribe("wechat", "o-outside", OUTSIDE)
    svc.subscribe("wechat", "o-software", SOFTWARE)
    svc.subscribe("wechat", "o-land-only", GRADUATES, topics=["用地"])
    svc.subscribe("wework", "zhangsan", GRADUATES)

    env.publish("talent.md", talent_doc())
    batches = svc.watch()
    assert len(batches) == 1
    env.send_all()

    assert len(env.messages_to("o-graduates")) == 1
    assert len(env.messages_to("o-hightech")) == 1
    assert len(env.messages_to("zhangsan")) == 1
    for nobody in ("o-outside", "o-software", "o-land-only"):
        assert env.messages_to(nobody) == []
    assert len(env.fake.messages) == 3

    biz = env.messages_to("o-graduates")[0]
    assert biz["kind"] == "bizsend" and biz["template_id"] == "tmpl-policy"
    values = [v["value"] for v in biz["data"].values()]
    assert "20万元" in values[1] and "2026年12月10日至12月31日" in values[2]
    assert biz["page"].startswith("https://kunruyi.example.cn/documents/push-test-talent")
    text = env.messages_to("zhangsan")[0]["content"]  # WeCom: a text message with the same facts
    assert "20万元" in text and "2026年12月10日至12月31日" in text and text.count("https://") == 1
    assert "30万元" in [v["value"] for v in env.messages_to("o-hightech")[0]["data"].values()][1]

    # The same activation again (re-index of the same file), and the hook called twice: nothing new.
    env.publish("talent.md", talent_doc())
    assert svc.watch() == []
    assert svc.on_version("push-test-talent") == []
    env.send_all()
    assert len(env.fake.messages) == 3
    info = svc.batch(batches[0])
    assert info["status"] == DONE and info["counts"]["sent"] == 3 and info["subscribers"] == 3

    # A new version of the same document is news again (new items), once.
    env.publish("talent.md", talent_doc("2027年1月10日至2027年1月31日"))
    assert len(svc.watch()) == 1
    env.send_all()
    assert len(env.messages_to("o-graduates")) == 2 and len(env.fake.messages) == 6


def test_review_holds_the_batch_until_approved_and_cancel_drops_it(make_env):
    env = make_env(review=True)
    svc = env.service
    svc.watch()
    svc.subscribe("wechat", "o-graduates", GRADUATES)
    env.publish("talent.md", talent_doc())
    (batch,) = svc.watch()
    assert svc.batch(batch)["status"] == REVIEW
    env.sender.send_due()
    assert env.fake.messages == []
    svc.decide(batch, True, "carol")
    env.send_all()
    assert len(env.messages_to("o-graduates")) == 1

    env.publish("other.md", talent_doc(doc_id="push-test-other"))
    (second,) = svc.watch()
    svc.decide(second, False, "carol")
    env.send_all()
    assert len(env.fake.messages) == 1
    assert svc.batch(second)["status"] == CANCELLED and svc.batch(second)["counts"]["skipped"] == 1


def test_window_closing_in_seven_days_sends_one_reminder(make_env):
    env = make_env()
    svc = env.service
    svc.watch()
    env.publish("talent.md", talent_doc("2026年11月1日至2026年12月7日"))
    svc.watch()  # live before anyone subscribed: no news push
    svc.subscribe("wechat", "o-graduates", GRADUATES)
    svc.subscribe("wechat", "o-software", SOFTWARE)

    env.clock.set(dt.datetime(2026, 11, 29, 10, 0, tzinfo=TZ))  # 8 days before the close: nothing yet
    assert svc.scan() == []
    env.clock.set(dt.datetime(2026, 11, 30, 10, 0, tzinfo=TZ))  # 7 days
    assert len(svc.scan()) == 1
    env.send_all()
    (msg,) = env.messages_to("o-graduates")
    assert "2026年12月7日截止，还有7天" in msg["data"]["thing4"]["value"]
    assert env.messages_to("o-software") == []
    for day in (30, 1, 2):  # the same day again and the days after: no second reminder
        env.clock.set(dt.datetime(2026, 11 if day == 30 else 12, day, 15, 0, tzinfo=TZ))
        svc.scan()
    env.send_all()
    assert len(env.fake.messages) == 1


def test_expiry_notifies_those_who_were_pushed_the_policy(make_env):
    env = make_env()
    svc = env.service
    svc.watch()
    svc.subscribe("wechat", "o-graduates", GRADUATES)
    svc.subscribe("wechat", "o-other", {"district": "玉山镇"}, topics=["用地"])
    env.publish("talent.md", talent_doc().replace("expires: 2028-12-31", "expires: 2026-12-31"))
    svc.watch()
    env.send_all()
    assert len(env.fake.messages) == 1
    env.clock.set(dt.datetime(2027, 1, 1, 10, 0, tzinfo=TZ))
    assert len(svc.scan()) == 1
    env.send_all()
    (_, expired) = env.messages_to("o-graduates")
    assert "到期" in expired["data"]["thing4"]["value"]
    assert env.messages_to("o-other") == []


def test_unsubscribe_and_delete_my_data(make_env):
    env = make_env(review=True)
    svc = env.service
    svc.watch()
    svc.subscribe("wechat", "o-a", GRADUATES)
    svc.subscribe("wechat", "o-b", GRADUATES)
    env.publish("talent.md", talent_doc())
    (batch,) = svc.watch()
    assert svc.unsubscribe("wechat", "o-a") and not svc.unsubscribe("wechat", "o-a")
    assert svc.forget("wechat", "o-b")
    assert svc.subscription("wechat", "o-b") is None
    with env.ingest.registry.session_factory() as session:
        statuses = list(session.scalars(select(PushRow.status).where(PushRow.batch_id == batch)))
        assert session.get(PushBatchRow, batch) is not None
    assert statuses == [SKIPPED]  # o-a's push dropped, o-b's deleted
    svc.decide(batch, True, "carol")
    env.send_all()
    assert env.fake.messages == []


def test_replacement_notifies_those_who_asked_about_the_old_policy(make_env):
    from app.components.conversations import ConversationStore

    env = make_env()
    svc = env.service
    svc.watch()
    env.publish("talent.md", talent_doc())
    svc.watch()
    svc.subscribe("wechat", "o-asked", {"district": "玉山镇"}, topics=["用地"])  # no item of the new doc fits
    svc.subscribe("wechat", "o-silent", {"district": "玉山镇"}, topics=["用地"])
    conversations = ConversationStore(env.ingest.registry.session_factory)
    cid, qid, _ = conversations.start_turn(None, "招用高校毕业生有什么补贴？", channel="wechat", user_ref="o-asked")
    conversations.add_answer(cid, qid, content="按每人5000元给予一次性补贴[1]", standalone="招用高校毕业生补贴",
                             grounded=True, fallback=False, citations=[{"n": 1, "doc_id": "push-test-talent"}],
                             latency_ms=1.0)
    new = talent_doc(doc_id="push-test-talent-2027").replace("category: talent", "category: talent\nreplaces: [push-test-talent]")
    env.publish("new.md", new)
    batches = svc.watch()
    env.send_all()
    (msg,) = env.messages_to("o-asked")
    assert msg["kind"] == "mp"  # wrote within 48 h: a customer-service text
    assert "替代" in msg["content"] and msg["content"].count("https://") == 1
    assert "https://kunruyi.example.cn/documents/push-test-talent-2027" in msg["content"]
    assert env.messages_to("o-silent") == []
    assert len(batches) == 1


def test_window_opening_is_announced_once_then_the_reminder(make_env):
    env = make_env()
    svc = env.service
    svc.watch()
    env.publish("talent.md", talent_doc("2026年12月1日至2026年12月7日"))
    svc.watch()
    svc.subscribe("wechat", "o-graduates", GRADUATES)
    sent = []
    for day in range(1, 8):
        env.clock.set(dt.datetime(2026, 12, day, 9, 0, tzinfo=TZ))
        svc.scan()
        env.send_all()
        sent.append(len(env.fake.messages))
    notes = [m["data"]["thing4"]["value"] for m in env.fake.messages]
    assert sent == [1, 1, 1, 2, 2, 2, 2], notes  # opening on the 1st, the reminder once opening is past
    assert notes[0].startswith("已开始申报") and "还有3天" in notes[1]

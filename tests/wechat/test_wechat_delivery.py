"""The 5-second rule, retries, refused deliveries and long answers: every answer arrives, once."""

from __future__ import annotations

import logging
import threading
import time

import httpx
import pytest

from app.settings import Settings
from app.wechat.api import PlatformApi, mp_account
from app.wechat.formatting import clean
from app.wechat.service import PLACEHOLDER
from tests.wechat.conftest import PUBLIC_URL, QUESTION, SHORT_BUDGET, ask, post, reply_text

SETTLE_SECONDS = 1.0  # after the expected delivery, time for a duplicate to show up (there must be none)


def _concurrently(url: str, request, count: int = 3) -> list[httpx.Response]:
    """The same callback POSTed ``count`` times at once, as WeChat's retries can overlap."""
    barrier = threading.Barrier(count)
    responses: list[httpx.Response] = []

    def send():
        with httpx.Client(base_url=url, timeout=30) as client:
            barrier.wait()
            responses.append(post(client, request))

    threads = [threading.Thread(target=send) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return responses


def _texts(mp, responses) -> list[str]:
    return sorted(reply_text(mp, r) if r.text != "success" else "success" for r in responses)


def test_slow_answer_replies_within_the_budget_and_arrives_once_through_the_api(
        make_wechat_client, slow_llm, fake_wechat, mp, openid):
    client = make_wechat_client(wechat_reply_budget=SHORT_BUDGET)
    response = post(client, ask(mp, openid))
    assert reply_text(mp, response) == PLACEHOLDER
    assert fake_wechat.messages == []  # the callback answered before the model did

    delivered = fake_wechat.wait_for_messages(1)
    time.sleep(SETTLE_SECONDS)
    assert len(fake_wechat.messages) == 1
    assert delivered[0]["kind"] == "mp" and delivered[0]["touser"] == openid
    assert "30万元" in delivered[0]["content"] and "来源：《" in delivered[0]["content"]


def test_three_concurrent_retries_compute_once_and_deliver_once(
        make_wechat_app, live_server, slow_llm, fake_wechat, mp, openid):
    server = live_server(make_wechat_app(wechat_reply_budget=SHORT_BUDGET))
    calls = len(slow_llm.requests)
    responses = _concurrently(server.url, ask(mp, openid))
    assert _texts(mp, responses) == sorted([PLACEHOLDER, "success", "success"])

    fake_wechat.wait_for_messages(1)
    time.sleep(SETTLE_SECONDS)
    assert [m["touser"] for m in fake_wechat.messages] == [openid]
    assert "30万元" in fake_wechat.messages[0]["content"]
    assert len(slow_llm.requests) - calls == 1


def test_retries_five_seconds_apart_deliver_once(make_wechat_client, slow_llm, fake_wechat, mp, openid):
    client = make_wechat_client(wechat_reply_budget=SHORT_BUDGET)
    calls = len(slow_llm.requests)
    request = ask(mp, openid)
    replies = []
    for i in range(3):
        if i:
            time.sleep(5)  # WeChat's retry interval
        replies.append(post(client, request))
    assert reply_text(mp, replies[0]) == PLACEHOLDER
    assert [r.text for r in replies[1:]] == ["success", "success"]
    time.sleep(SETTLE_SECONDS)
    assert len(fake_wechat.messages) == 1 and "30万元" in fake_wechat.messages[0]["content"]
    assert len(slow_llm.requests) - calls == 1


def test_concurrent_retries_of_a_quick_answer_get_one_passive_reply(
        make_wechat_app, live_server, fast_llm, fake_wechat, mp, openid):
    server = live_server(make_wechat_app())
    responses = _concurrently(server.url, ask(mp, openid))
    texts = _texts(mp, responses)
    assert texts[:2] == ["success", "success"] and "30万元" in texts[2]
    time.sleep(SETTLE_SECONDS)
    assert fake_wechat.attempts == []  # delivered passively, never also through the API


def _drain(client) -> None:
    """Wait until the app's Official Account has no answer in computation or delivery."""
    assert client.app.state.services.channels["mp"].dispatcher.drain(60)


LONG_30 = "高新技术企业认定后可享受企业所得税减按15%的税率征收等优惠，昆山对首次认定的企业给予30万元奖励[1]。"
LONG_50 = "专精特新“小巨人”企业可获得50万元奖励，省级专精特新中小企业另有奖励，具体以申报通知为准[1]。"


def _long(sentence: str) -> str:
    return sentence * (5200 // len(sentence.encode()) + 1)


def test_a_kept_answer_follows_the_current_one_labelled_as_the_earlier_answer(
        make_wechat_client, slow_llm, fake_wechat, mp, openid):
    # Issue 12 item 1: the kept answer came first and took the passive reply, one answer behind for good.
    slow_client = make_wechat_client(wechat_reply_budget=SHORT_BUDGET)
    fake_wechat.fail_next(45015)  # the user's 48-hour window is closed
    assert reply_text(mp, post(slow_client, ask(mp, openid))) == PLACEHOLDER
    _drain(slow_client)
    assert [a["errcode"] for a in fake_wechat.attempts] == [45015] and fake_wechat.messages == []

    slow_llm.delay_seconds = 0.0
    slow_llm.reply = "专精特新“小巨人”企业可获得50万元奖励[1]。"
    client = make_wechat_client()  # another app (worker) over the same shared state
    second = reply_text(mp, post(client, ask(mp, openid, content="专精特新企业有什么奖励？")))
    assert "50万元" in second and "30万元" not in second  # the passive reply is this question's answer
    _drain(client)
    assert len(fake_wechat.messages) == 1
    kept = fake_wechat.messages[0]["content"]
    assert kept.startswith("（补发）") and QUESTION in kept.splitlines()[0]  # says which question it answers
    assert "30万元" in kept and "来源：《" in kept

    third = reply_text(mp, post(client, ask(mp, openid, content="那申报条件是什么？")))
    assert "补发" not in third
    _drain(client)
    assert len(fake_wechat.messages) == 1  # delivered once, not again


@pytest.mark.parametrize("errcode", [48001, 43004, 40003])
def test_a_permanent_refusal_keeps_nothing(make_wechat_client, fast_llm, fake_wechat, mp, openid, errcode):
    # 48001: no customer-service permission; 43004: the user unsubscribed; 40003: not a valid OpenID.
    client = make_wechat_client()
    fast_llm.reply = _long(LONG_30)
    fake_wechat.fail_next(errcode)  # the second part (the first through the API) is refused
    first = reply_text(mp, post(client, ask(mp, openid)))
    _drain(client)
    assert "30万元" in first and [a["errcode"] for a in fake_wechat.attempts] == [errcode]

    fast_llm.reply = "专精特新“小巨人”企业可获得50万元奖励[1]。"
    second = reply_text(mp, post(client, ask(mp, openid, content="专精特新企业有什么奖励？")))
    _drain(client)
    assert "50万元" in second and "30万元" not in second
    assert len(fake_wechat.attempts) == 1  # nothing was kept to be sent again


def test_leftovers_of_long_answers_do_not_pile_up(make_wechat_client, fast_llm, fake_wechat, mp, openid):
    client = make_wechat_client()
    fake_wechat.fail_next(45015, times=2)
    fast_llm.reply = _long(LONG_30)
    assert "30万元" in reply_text(mp, post(client, ask(mp, openid)))
    _drain(client)
    fast_llm.reply = _long(LONG_50)
    assert "50万元" in reply_text(mp, post(client, ask(mp, openid, content="专精特新企业有什么奖励？")))
    _drain(client)
    assert [a["errcode"] for a in fake_wechat.attempts] == [45015, 45015]

    fast_llm.reply = "人才补贴最高100万元[1]。"
    third = reply_text(mp, post(client, ask(mp, openid, content="有哪些人才补贴？")))
    _drain(client)
    assert "100万元" in third
    resent = [m["content"] for m in fake_wechat.messages]
    # Only the latest unfinished answer comes again (its unsent parts), labelled; the older one is dropped.
    assert resent and resent[0].startswith("（补发）") and "专精特新企业有什么奖励？" in resent[0].splitlines()[0]
    assert all("50万元" in m for m in resent) and not any("30万元" in m for m in resent)
    assert all(len(m.encode()) <= 2048 for m in resent)


def test_the_passive_part_of_a_long_answer_names_its_sources(make_wechat_client, fast_llm, fake_wechat, mp, openid):
    # Issue 12 item 3: the 来源 lines travelled only in the API parts; when those failed, no source at all.
    client = make_wechat_client()
    fast_llm.reply = _long(LONG_30)
    fake_wechat.fail_next(48001, times=10)  # this account may not send customer-service messages
    first = reply_text(mp, post(client, ask(mp, openid)))
    _drain(client)
    assert fake_wechat.messages == []
    assert "30万元" in first and "[1] 来源：《" in first and f"{PUBLIC_URL}/documents/" in first


def test_a_5kb_answer_arrives_in_parts_that_join_back_to_the_whole(
        make_wechat_client, fast_llm, fake_wechat, wechat_services, mp, openid):
    fast_llm.reply = _long(LONG_30)
    client = make_wechat_client()
    first = reply_text(mp, post(client, ask(mp, openid)))
    _drain(client)

    conversations = wechat_services.conversations
    stored = [m for m in conversations.history(conversations.latest_for("wechat", openid)) if m.role == "assistant"][-1]
    text = clean(stored.content)
    assert len(text.encode()) > 5000
    parts = [first] + [m["content"] for m in fake_wechat.messages]
    assert len(parts) >= 3
    assert all(len(p.encode("utf-8")) <= 2048 for p in parts)
    bodies = [p.partition("\n\n[")[0] for p in parts]
    assert "".join(bodies) == text  # the whole answer, in order, nothing repeated
    assert all("[1] 来源：《" in p for p in parts if "[1]" in p.partition("\n\n[")[0])


def test_access_token_is_cached_shared_and_refreshed_once_when_rejected(
        wechat_settings, fresh_state, fake_wechat, openid):
    settings = wechat_settings()
    api = PlatformApi(mp_account(settings), fresh_state, timeout=5)
    other_worker = PlatformApi(mp_account(settings), fresh_state, timeout=5)
    assert api.send_text(openid, "一").ok and other_worker.send_text(openid, "二").ok
    assert len(fake_wechat.token_requests) == 1

    fake_wechat.expire_tokens()
    assert api.send_text(openid, "三").ok
    assert len(fake_wechat.token_requests) == 2
    assert [a["errcode"] for a in fake_wechat.attempts] == [0, 0, 40001, 0]

    fake_wechat.fail_next(45015)
    refused = api.send_text(openid, "四")
    assert (refused.ok, refused.errcode) == (False, 45015)
    assert [m["content"] for m in fake_wechat.messages] == ["一", "二", "三"]


def test_send_failures_are_results_not_exceptions(wechat_settings, fresh_state, fake_wechat, openid):
    wrong_secret = PlatformApi(mp_account(wechat_settings(wechat_mp_app_secret="wrong")), fresh_state, timeout=5)
    result = wrong_secret.send_text(openid, "一")
    assert not result.ok and result.errcode == 40001
    unreachable = PlatformApi(mp_account(wechat_settings(wechat_api_base="http://127.0.0.1:1")), fresh_state,
                              timeout=1)
    result = unreachable.send_text(openid, "一")
    assert not result.ok and result.errcode is None
    unconfigured = PlatformApi(mp_account(wechat_settings(wechat_mp_app_id="", wechat_mp_app_secret="",
                                                          wechat_mp_aes_key="")), fresh_state, timeout=1)
    assert not unconfigured.send_text(openid, "一").ok


# --- issue 12 item 6: the reply budget -----------------------------------------------------------

# Measured with `python -m bench.wechat_margin` (docs/wechat.md, 回复预算的余量) on the loaded 2-core
# test host (load average 22-30): the most a callback took beyond its budget, client side (0.48 s
# at 3.0 s; before the HTTP client was made lazily, the first callback after a start took 1.71 s
# beyond it in the app alone). The network between WeChat and the server is not seen locally, and
# 13-19 callbacks per budget say little about the tail: both get an allowance.
MEASURED_OVERHEAD_SECONDS = 0.48
NETWORK_ALLOWANCE_SECONDS = 0.5
SPARE_SECONDS = 0.5
WECHAT_LIMIT_SECONDS = 5.0


def test_the_default_reply_budget_leaves_the_measured_margin():
    budget = Settings(_env_file=None).wechat_reply_budget
    assert budget + MEASURED_OVERHEAD_SECONDS + NETWORK_ALLOWANCE_SECONDS + SPARE_SECONDS <= WECHAT_LIMIT_SECONDS


def test_callbacks_do_not_queue_in_the_shared_thread_pool(make_wechat_client, fast_llm, mp, openid, caplog):
    # /api/chat holds the shared pool's threads while it waits for the model; a callback queued there
    # misses WeChat's 5 seconds whatever its budget. The channel answers on threads of its own.
    client = make_wechat_client()
    with caplog.at_level(logging.INFO, logger="app.wechat.dispatcher"):
        assert "30万元" in reply_text(mp, post(client, ask(mp, openid)))
    passive = [r for r in caplog.records if "delivery via=passive" in r.getMessage()]
    assert len(passive) == 1 and passive[0].threadName.startswith("wechat-callback")
    # The channel is built at start; its HTTP client (an SSL context, 1.1 s on a loaded host)
    # waits for the first API call instead of delaying that callback.
    assert client.app.state.services.channels["mp"].dispatcher.api._client is None

"""Delivery against the fake WeChat API: 45015 falls back to a subscription message, 43101 fails
and pauses the subscriber, 5xx and token expiry are retried, weekly cap, quiet hours, and a
sender killed with SIGKILL half-way is resumed without sending anything twice."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from app.components.conversations import ConversationStore
from app.pushes.models import DONE, FAILED, PAUSED, SENT, SKIPPED, UNKNOWN, PushBatchRow, PushRow
from tests.pushes.conftest import APP_ID, APP_SECRET, GRADUATES, PUBLIC, TZ, talent_doc

ROOT = Path(__file__).resolve().parents[2]


def _statuses(env, batch: int) -> dict[str, str]:
    from app.pushes.models import SubscriptionRow

    with env.ingest.registry.session_factory() as session:
        return dict(session.execute(select(SubscriptionRow.user_ref, PushRow.status)
                                    .join(SubscriptionRow, SubscriptionRow.id == PushRow.subscription_id)
                                    .where(PushRow.batch_id == batch)).all())


def test_platform_errors(make_env):
    env = make_env(max_attempts=4)
    svc, fake = env.service, env.fake
    svc.watch()
    # o-recent wrote within 48 h: a customer-service message first; the platform says 45015, so
    # the push goes out as a subscription message instead.
    svc.subscribe("wechat", "o-recent", GRADUATES)
    conversations = ConversationStore(env.ingest.registry.session_factory)
    conversations.start_turn(None, "高新技术企业认定有什么奖励？", channel="wechat", user_ref="o-recent")
    env.publish("talent.md", talent_doc())
    (first,) = svc.watch()
    fake.fail_next(45015, 1)
    env.send_all()
    assert _statuses(env, first) == {"o-recent": SENT}
    assert [(a["kind"], a["errcode"]) for a in fake.attempts] == [("mp", 45015), ("bizsend", 0)]

    # 43101 fails and pauses; HTTP 5xx and a stale token (40001) are retried.
    svc.subscribe("wechat", "o-refused", GRADUATES)
    svc.subscribe("wechat", "o-flaky", GRADUATES)
    fake.bizsend_errors["o-refused"] = 43101
    env.publish("other.md", talent_doc(doc_id="push-test-other"))
    (batch,) = svc.watch()
    fake.fail_http_next(502, 2)
    fake.expire_tokens()
    env.send_all()
    assert _statuses(env, batch) == {"o-refused": FAILED, "o-recent": SENT, "o-flaky": SENT}
    assert Counter(m["touser"] for m in fake.messages) == {"o-recent": 2, "o-flaky": 1}
    assert [m["kind"] for m in fake.messages if m["touser"] == "o-recent"] == ["bizsend", "mp"]
    assert sum(1 for a in fake.attempts if a.get("http") == 502) == 2
    assert any(a.get("errcode") == 40001 for a in fake.attempts)
    refused = svc.subscription("wechat", "o-refused")
    assert refused.status == PAUSED and "43101" in refused.paused_reason
    with env.ingest.registry.session_factory() as session:
        row = session.scalars(select(PushRow).where(PushRow.batch_id == batch, PushRow.errcode == 43101)).one()
        assert row.error and session.get(PushBatchRow, batch).status == DONE

    # A paused subscriber gets nothing more; a 5xx that never ends fails after max_attempts.
    env.publish("third.md", talent_doc(doc_id="push-test-third"))
    (third,) = svc.watch()
    fake.fail_http_next(500, 100)
    env.send_all()
    assert _statuses(env, third) == {"o-recent": FAILED, "o-flaky": FAILED}
    with env.ingest.registry.session_factory() as session:
        assert set(session.scalars(select(PushRow.attempts).where(PushRow.batch_id == third))) == {4}
    assert svc.subscription("wechat", "o-flaky").status == "active"  # temporary failures pause nobody


def test_weekly_limit_and_quiet_hours(make_env):
    env = make_env(weekly_limit=1, quiet_hours="21:00-08:00")
    svc = env.service
    svc.watch()
    svc.subscribe("wechat", "o-a", GRADUATES)
    env.publish("talent.md", talent_doc())
    env.publish("other.md", talent_doc(doc_id="push-test-other"))
    first, second = sorted(svc.watch())
    env.clock.set(dt.datetime(2026, 11, 30, 22, 30, tzinfo=TZ))  # quiet: nothing goes out
    assert env.sender.quiet_until() == dt.datetime(2026, 12, 1, 8, 0, tzinfo=TZ).timestamp()
    env.sender.send_due()
    assert env.fake.messages == []
    env.clock.set(dt.datetime(2026, 12, 1, 8, 30, tzinfo=TZ))
    env.send_all()
    assert len(env.fake.messages) == 1  # the cap: one a week
    assert _statuses(env, first) == {"o-a": SENT} and _statuses(env, second) == {"o-a": SKIPPED}


def test_killed_sender_resumes_without_duplicates(make_env, tmp_path):
    env = make_env(lease_seconds=1.0)
    svc, fake = env.service, env.fake
    svc.watch()
    users = [f"o-user-{n:02d}" for n in range(30)]
    for user in users:
        svc.subscribe("wechat", user, GRADUATES)
    env.publish("talent.md", talent_doc())
    (batch,) = svc.watch()

    fake.send_delay = 0.2
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("KUNRUYI_")}
    child_env.update({"KUNRUYI_DATA_DIR": str(env.settings.data_dir), "KUNRUYI_WECHAT_MP_APP_ID": APP_ID,
                      "KUNRUYI_WECHAT_MP_APP_SECRET": APP_SECRET, "KUNRUYI_WECHAT_API_BASE": fake.url,
                      "KUNRUYI_PUBLIC_BASE_URL": PUBLIC, "KUNRUYI_PUSH_TEMPLATE_ID": "tmpl-policy",
                      "KUNRUYI_PUSH_QUIET_HOURS": "", "KUNRUYI_PUSH_LEASE_SECONDS": "1",
                      "KUNRUYI_PUSH_WEEKLY_LIMIT": "0"})
    child = subprocess.Popen([sys.executable, "-m", "app.pushes", "send"], cwd=tmp_path, env=child_env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        fake.wait_for_messages(10, timeout=60)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    assert 10 <= len(fake.messages) < 30, child.stdout.read().decode()[-2000:]
    fake.send_delay = 0.0

    # Another sender takes over once the dead one's lease expires (wait on that, not a fixed time).
    deadline = time.monotonic() + 30
    while env.sender.send_batch(batch).get("locked"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    statuses = _statuses(env, batch)
    per_user = Counter(m["touser"] for m in fake.messages)
    assert max(per_user.values()) == 1                         # nobody got the push twice
    concurrency = env.push_settings.concurrency
    assert Counter(statuses.values())[UNKNOWN] <= concurrency  # at most those cut off mid-call
    assert set(statuses.values()) <= {SENT, UNKNOWN}
    assert {u for u, s in statuses.items() if s == SENT} <= set(per_user)
    assert len(per_user) >= 30 - concurrency and sum(per_user.values()) == len(per_user)
    with env.ingest.registry.session_factory() as session:
        assert session.get(PushBatchRow, batch).status == DONE
        assert session.scalar(select(func.count(PushRow.id)).where(PushRow.batch_id == batch)) == 30

"""Policy pushes benchmark (issue 17): 10,000 subscribers × one new document.

    python -m bench.push                       # SQLite in a temp dir
    python -m bench.push --subscribers 2000 --database-url postgresql+psycopg://...

1. Matching and queueing: a fresh registry (one sample document live as the baseline), N
   subscriptions with seeded random profiles, then a new document is indexed through the real
   ingest path and ``PushService.watch`` (the generation watcher the worker runs) matches every
   subscriber against its items and writes the batch and its pushes. Timed: watch() alone.
2. Sending: the batch is sent by the real ``Sender`` (lease, per-push state in the database,
   subscription messages through bizsend) against the local fake WeChat API
   (tests/fakes/wechat_server.py, no delay). Timed: messages/s, next to the fake's own ceiling
   measured by POSTing the same bizsend bodies straight to it from one client.

Target: queueing ≤ 5 s for 10,000 subscribers; sending limited only by the platform's rate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.components.shared_state import SqlState  # noqa: E402
from app.facts.matching import EVENTS, INDUSTRIES, KUNSHAN_DISTRICTS, SUZHOU_OTHER, Matcher  # noqa: E402
from app.pushes.models import SubscriptionRow  # noqa: E402
from app.pushes.runtime import build_delivery  # noqa: E402
from app.pushes.sender import Sender  # noqa: E402
from app.pushes.service import TOPICS, PushService  # noqa: E402
from app.settings import PushSettings  # noqa: E402
from app.settings import Settings  # noqa: E402
from ingest.pipeline import build_ingest_service  # noqa: E402
from tests.fakes.wechat_server import FakeWeChat  # noqa: E402
from tests.pushes.conftest import talent_doc  # noqa: E402

TZ = dt.timezone(dt.timedelta(hours=8))


def profiles(n: int, seed: int = 17) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        p: dict = {"district": rng.choice(KUNSHAN_DISTRICTS + SUZHOU_OTHER[:3]),
                   "industry": rng.choice(INDUSTRIES[2:3] * 4 + INDUSTRIES)}
        if rng.random() < 0.7:
            p["enterprise_types"] = rng.sample(["规上工业", "高新技术企业", "专精特新", "科技型中小企业"], rng.randint(0, 2))
        if rng.random() < 0.5:  # a given list is complete; half the companies leave it out (可能符合)
            p["events"] = rng.sample(EVENTS, rng.randint(0, 3)) + (["招用高校毕业生"] if rng.random() < 0.4 else [])
        if rng.random() < 0.5:
            p["revenue_wan"] = rng.choice([500, 2000, 8000, 30000])
        topics = rng.sample(list(TOPICS), rng.randint(0, 2))
        out.append({"profile": p, "topics": topics})
    return out


def run(subscribers: int, database_url: str, concurrency: int = 4) -> dict:
    work = Path(tempfile.mkdtemp(prefix="bench-push-"))
    with FakeWeChat(app_id="wxbench", app_secret="s", corp_id="ww", corp_secret="s", agent_id=1) as fake:
        settings = Settings(_env_file=None, data_dir=work / "data", corpus_dir=work / "corpus", database_url=database_url,
                            wechat_mp_app_id="wxbench", wechat_mp_app_secret="s", wechat_api_base=fake.url,
                            public_base_url="https://kunruyi.example.cn")
        push_settings = PushSettings(_env_file=None, review=False, quiet_hours="", weekly_limit=0,
                                     template_id="tmpl", lease_seconds=60,
                                     concurrency=concurrency)
        ingest = build_ingest_service(settings)
        sessions = ingest.registry.session_factory
        now = dt.datetime(2026, 11, 30, 10, 0, tzinfo=TZ).timestamp()
        matcher = Matcher(ingest.facts, ingest.registry, clock=lambda: dt.date(2026, 11, 30))
        service = PushService(sessions, matcher, ingest.registry, push_settings, clock=lambda: now,
                              public_base_url=settings.public_base_url)
        corpus = work / "corpus"
        corpus.mkdir(parents=True)
        base = ROOT / "corpus" / "subsidy" / "ks-high-tech-enterprise-reward.md"
        ingest.index(ingest.prepare_file(base), path=str(base))
        service.watch()  # baseline
        rows = [SubscriptionRow(channel="wechat", user_ref=f"o-bench-{i:05d}", profile=s["profile"], topics=s["topics"],
                                region=s["profile"]["district"], status="active")
                for i, s in enumerate(profiles(subscribers))]
        with sessions.begin() as session:
            session.add_all(rows)
        doc = corpus / "talent.md"
        doc.write_text(talent_doc(), encoding="utf-8")
        t0 = time.perf_counter()
        ingest.index(ingest.prepare_file(doc), path=str(doc))
        index_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        batches = service.watch()
        queue_s = time.perf_counter() - t0
        info = service.batch(batches[0]) if batches else {"total": 0, "subscribers": 0}

        state = SqlState(sessions)
        sender = Sender(sessions, state, build_delivery(settings, state, push_settings, sessions), push_settings,
                        clock=lambda: now)
        t0 = time.perf_counter()
        while True:
            counts = sender.send_due()
            if not any(counts.get(k) for k in ("sent", "failed", "retry")):
                break
        send_s = time.perf_counter() - t0
        delivered = len(fake.messages)

        import httpx

        token = next(iter(fake.valid_tokens))
        body = json.dumps({"touser": "o-ceiling", "template_id": "tmpl",
                           "data": {"thing1": {"value": "x"}}}, ensure_ascii=False).encode()
        n = 2000
        with httpx.Client(base_url=fake.url) as client:
            t0 = time.perf_counter()
            for _ in range(n):
                client.post("/cgi-bin/message/subscribe/bizsend", params={"access_token": token}, content=body,
                            headers={"Content-Type": "application/json"})
            ceiling = n / (time.perf_counter() - t0)
    return {"subscribers": subscribers, "database": "postgresql" if database_url else "sqlite",
            "concurrency": concurrency,
            "matching_subscribers": info["subscribers"], "pushes_queued": info["total"],
            "index_new_document_s": round(index_s, 2), "match_and_queue_s": round(queue_s, 2),
            "delivered": delivered, "send_s": round(send_s, 2),
            "messages_per_s": round(delivered / send_s, 1) if send_s else None,
            "fake_ceiling_per_s": round(ceiling, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.push")
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--concurrency", type=int, default=4, help="KUNRUYI_PUSH_CONCURRENCY for the sender")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    result = run(args.subscribers, args.database_url, args.concurrency)
    for key, value in result.items():
        print(f"{key:24} {value}")
    print(f"target match_and_queue_s <= 5: {'met' if result['match_and_queue_s'] <= 5 else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

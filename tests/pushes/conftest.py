"""Push tests: a real ingest service (SQLite or PostgreSQL), the real matcher, the push service and
sender pointed at the local fake WeChat API, and a clock the tests move."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.admin.auth import hash_token
from app.components.shared_state import SqlState
from app.facts.matching import Matcher
from app.main import Services, create_app
from app.pushes.runtime import build_delivery, build_pushes
from app.pushes.sender import Sender
from app.pushes.service import PushService
from app.settings import PushSettings
from app.settings import Settings
from ingest.pipeline import IngestService, build_ingest_service
from tests.fakes.wechat_server import FakeWeChat

APP_ID, APP_SECRET = "wx0123456789abcdef", "mp-secret"
CORP_ID, CORP_SECRET, AGENT_ID = "ww0123456789", "work-secret", 1000002
PUBLIC = "https://kunruyi.example.cn"
TZ = dt.timezone(dt.timedelta(hours=8))

TALENT_DOC = """---
doc_id: push-test-talent
title: 昆山市制造业企业招用高校毕业生补贴办法（测试）
issuer: 昆山市人力资源和社会保障局
published: 2026-11-01
expires: 2028-12-31
category: talent
---

# 昆山市制造业企业招用高校毕业生补贴办法

**第一条** 本办法适用于在昆山市依法登记注册的制造业企业。

**第二条** 对招用应届高校毕业生的制造业企业，按每人5000元给予一次性补贴，每家企业最高不超过20万元。

**第三条** 对首次被认定为国家高新技术企业的，给予一次性奖励30万元。

**第四条** 申报时间为{window}，受理部门为昆山市人力资源和社会保障局。
"""


def talent_doc(window: str = "2026年12月10日至2026年12月31日", doc_id: str = "push-test-talent") -> str:
    return TALENT_DOC.replace("{window}", window).replace("push-test-talent", doc_id)


# Profiles: who matches the talent document's two items (第二条 人才, 第三条 资质认定).
GRADUATES = {"district": "玉山镇", "industry": "C 制造业", "enterprise_types": [], "events": ["招用高校毕业生"]}
HIGH_TECH = {"district": "花桥镇", "industry": "C 制造业", "enterprise_types": ["高新技术企业"], "events": ["首次认定"]}
OUTSIDE = {"district": "苏州工业园区", "industry": "C 制造业", "events": ["招用高校毕业生"]}
SOFTWARE = {"district": "玉山镇", "industry": "I 信息传输、软件和信息技术服务业", "events": ["招用高校毕业生"]}


class Clock:
    def __init__(self, when: dt.datetime):
        self.now = when.timestamp()

    def __call__(self) -> float:
        return self.now

    def set(self, when: dt.datetime) -> None:
        self.now = when.timestamp()


@dataclass
class Env:
    settings: Settings
    push_settings: PushSettings
    ingest: IngestService
    service: PushService
    sender: Sender
    state: SqlState
    fake: FakeWeChat
    clock: Clock
    corpus: Path

    def publish(self, name: str, text: str) -> None:
        path = self.corpus / name
        path.write_text(text, encoding="utf-8")
        self.ingest.index(self.ingest.prepare_file(path), path=str(path))

    def messages_to(self, user: str) -> list[dict]:
        return [m for m in self.fake.messages if m["touser"] == user]

    def send_all(self, timeout: float = 30.0) -> None:
        """Send until nothing is queued or in flight (waits on the condition, not a fixed time)."""
        from sqlalchemy import func, select

        from app.pushes.models import INFLIGHT, QUEUED, PushRow

        deadline = time.monotonic() + timeout
        while True:
            self.sender.send_due()
            with self.ingest.registry.session_factory() as session:
                left = session.scalar(select(func.count(PushRow.id)).where(PushRow.status.in_((QUEUED, INFLIGHT))))
            if not left:
                return
            assert time.monotonic() < deadline, f"{left} pushes still queued"
            time.sleep(0.05)


@pytest.fixture
def fake_wechat():
    with FakeWeChat(app_id=APP_ID, app_secret=APP_SECRET, corp_id=CORP_ID, corp_secret=CORP_SECRET,
                    agent_id=AGENT_ID) as fake:
        yield fake


@pytest.fixture(params=["sqlite"])
def database_url(request) -> str:
    return ""


@pytest.fixture
def make_env(tmp_path, embedder, fake_wechat):
    def make(database_url: str = "", **push) -> Env:
        settings = Settings(_env_file=None, data_dir=tmp_path / "data", corpus_dir=tmp_path / "corpus",
                            database_url=database_url, wechat_mp_app_id=APP_ID, wechat_mp_app_secret=APP_SECRET,
                            wechat_api_base=fake_wechat.url, wework_corp_id=CORP_ID, wework_secret=CORP_SECRET,
                            wework_agent_id=str(AGENT_ID), wework_api_base=fake_wechat.url, public_base_url=PUBLIC)
        values = {"review": False, "quiet_hours": "", "template_id": "tmpl-policy", "backoff_seconds": 0.0,
                  "lease_seconds": 2.0, **push}
        push_settings = PushSettings(_env_file=None, **values)
        ingest = build_ingest_service(settings, embedder=embedder)
        sessions = ingest.registry.session_factory
        clock = Clock(dt.datetime(2026, 11, 30, 10, 0, tzinfo=TZ))
        matcher = Matcher(ingest.facts, ingest.registry, clock=lambda: dt.datetime.fromtimestamp(clock(), TZ).date(),
                          recheck_seconds=0)
        state = SqlState(sessions)
        service = PushService(sessions, matcher, ingest.registry, push_settings, public_base_url=PUBLIC, clock=clock)
        sender = Sender(sessions, state, build_delivery(settings, state, push_settings, sessions), push_settings,
                        clock=clock)
        corpus = tmp_path / "corpus"
        corpus.mkdir(exist_ok=True)
        return Env(settings, push_settings, ingest, service, sender, state, fake_wechat, clock, corpus)

    return make


# --- the whole app (staff API, WeChat callbacks, console) --------------------------------------

EDITOR, VIEWER, REVIEWER = "push-editor-token-1", "push-viewer-token-2", "push-reviewer-token-3"
MP_TOKEN = "push-mp-token"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def app_env(tmp_path, embedder, fake_wechat):
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", corpus_dir=tmp_path / "corpus",
                        rate_limit_per_ip=0, rate_limit_per_conversation=0, public_base_url=PUBLIC,
                        wechat_mp_app_id=APP_ID, wechat_mp_app_secret=APP_SECRET, wechat_api_base=fake_wechat.url,
                        wework_corp_id=CORP_ID, wework_secret=CORP_SECRET, wework_agent_id=str(AGENT_ID),
                        wework_api_base=fake_wechat.url, wechat_mp_token=MP_TOKEN,
                        admin_tokens=",".join([f"carol:editor:{hash_token(EDITOR)}", f"dave:viewer:{hash_token(VIEWER)}",
                                               f"erin:reviewer:{hash_token(REVIEWER)}"]))
    services = Services.build(settings, embedder=embedder)
    services.pushes = build_pushes(services, PushSettings(_env_file=None, review=True, quiet_hours="",
                                                          template_id="tmpl-policy", backoff_seconds=0))
    clock = Clock(dt.datetime(2026, 11, 30, 10, 0, tzinfo=TZ))
    services.pushes.service.clock = services.pushes.sender.clock = clock
    services.pushes.sender.local_now = lambda: dt.datetime.fromtimestamp(clock(), TZ)
    corpus = tmp_path / "corpus"
    corpus.mkdir(exist_ok=True)

    def publish(name: str, text: str) -> None:
        (corpus / name).write_text(text, encoding="utf-8")
        services.ingest.index(services.ingest.prepare_file(corpus / name), path=str(corpus / name))

    with TestClient(create_app(settings, services=services)) as client:
        yield services, client, publish, fake_wechat

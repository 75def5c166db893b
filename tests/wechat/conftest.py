"""WeChat tests: the real app over a small sample index, a slow-able local LLM, and a local WeChat API.

Services (index, chat, SQL store) are built once per session over an index of a few sample
documents with the ``openai`` answer backend pointed at the local fake LLM; each test builds its own
app with its own WeChat settings over them (and its own fake WeChat API server).
"""

from __future__ import annotations

import shutil
import uuid
from contextlib import ExitStack
from dataclasses import replace

import httpx
import pytest
import xmltodict
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.components.database import create_db_engine, create_session_factory
from app.components.shared_state import SqlState
from app.main import Services, create_app
from app.settings import Settings
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.wechat_server import FakeWeChat, MpCallbacks, WorkCallbacks, new_msg_id, text_xml

MP_TOKEN = "kunruyi-mp-token"
MP_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
MP_APP_ID = "wx0123456789abcdef"
MP_SECRET = "mp-secret"
WORK_TOKEN = "123456"
WORK_AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
WORK_CORP_ID = "wx49f0ab532d5d035a"
WORK_SECRET = "work-secret"
WORK_AGENT_ID = 1000002
PUBLIC_URL = "https://kunruyi.example.cn"
# Tests that expect the passive reply give the answer plenty of time (a loaded CI machine);
# tests of the 5-second rule set a short budget and a slower model.
BUDGET = 10.0
SHORT_BUDGET = 1.0
SLOW_LLM_SECONDS = 3.0
QUESTION = "高新技术企业认定有什么奖励？"
ANSWER = "高新技术企业认定后，昆山对首次认定的企业给予30万元奖励[1]。"


def post(client, request) -> httpx.Response:
    """POST a (path, body) pair from MpCallbacks/WorkCallbacks; ``client`` is a TestClient or httpx.Client."""
    path, body = request
    return client.post(path, content=body, headers={"Content-Type": "text/xml"})


def reply_text(mp: MpCallbacks, response) -> str:
    """The text of a passive reply (decrypted when encrypted), whitespace kept."""
    assert response.status_code == 200, response.text
    plain = mp.open_reply(response.text) if "<Encrypt>" in response.text else response.text
    return xmltodict.parse(plain, strip_whitespace=False)["xml"]["Content"]


def ask(mp: MpCallbacks, openid: str, content: str = QUESTION, msg_id: int | None = None, mode: str = "safe"):
    xml = text_xml(to_user="gh_kunruyi", from_user=openid, content=content, msg_id=msg_id or new_msg_id())
    return mp.request(xml, mode=mode, openid=openid)


@pytest.fixture(scope="session")
def llm():
    """One local OpenAI-compatible server for the session; tests set ``reply`` and ``delay_seconds``."""
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def fast_llm(llm):
    llm.mode, llm.reply, llm.delay_seconds = "answer", ANSWER, 0.0
    yield llm
    llm.delay_seconds = 0.0


# The documents these tests ask about: an index of a few (seconds to build) instead of the whole
# sample corpus (minutes on a busy 2-core machine); the tests are about delivery, not retrieval.
WECHAT_DOCUMENTS = ("subsidy/ks-high-tech-enterprise-reward.md", "subsidy/ks-zhuanjingtexin-award.md",
                    "subsidy/ks-innovation-consortium-2024.md", "talent/ks-talent-housing-subsidy.md")


@pytest.fixture(scope="session")
def wechat_services(embedder, sample_corpus_dir, tmp_path_factory, llm) -> Services:
    from ingest.pipeline import build_ingest_service

    root = tmp_path_factory.mktemp("wechat")
    corpus, data_dir = root / "corpus", root / "data"
    for name in WECHAT_DOCUMENTS:
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(sample_corpus_dir / name, corpus / name)
    report = build_ingest_service(Settings(_env_file=None, data_dir=data_dir, corpus_dir=corpus),
                                  embedder=embedder).sync([corpus])
    assert not report.failed, [(r.name, r.reason) for r in report.failed]
    settings = Settings(_env_file=None, data_dir=data_dir, corpus_dir=corpus, answer_backend="openai",
                        llm_base_url=llm.base_url, llm_timeout=15, llm_cooldown=0)
    return Services.build(settings, embedder=embedder)


@pytest.fixture
def fake_wechat():
    with FakeWeChat(app_id=MP_APP_ID, app_secret=MP_SECRET, corp_id=WORK_CORP_ID, corp_secret=WORK_SECRET,
                    agent_id=WORK_AGENT_ID) as server:
        yield server


@pytest.fixture
def wechat_settings(wechat_services, fake_wechat):
    """Settings with both accounts configured against the fake WeChat API; keyword arguments override."""

    def make(**overrides) -> Settings:
        values = dict(
            data_dir=wechat_services.settings.data_dir, corpus_dir=wechat_services.settings.corpus_dir,
            wechat_mp_token=MP_TOKEN, wechat_mp_aes_key=MP_AES_KEY, wechat_mp_app_id=MP_APP_ID,
            wechat_mp_app_secret=MP_SECRET, wechat_api_base=fake_wechat.url, wechat_reply_budget=BUDGET,
            wework_token=WORK_TOKEN, wework_aes_key=WORK_AES_KEY, wework_corp_id=WORK_CORP_ID,
            wework_secret=WORK_SECRET, wework_agent_id=str(WORK_AGENT_ID), wework_api_base=fake_wechat.url,
            public_base_url=PUBLIC_URL, outbound_timeout=5,
        )
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return make


@pytest.fixture
def fresh_state(tmp_path) -> SqlState:
    """A shared state of the test's own (SQLite), so dedupe keys and tokens start empty."""
    settings = Settings(_env_file=None, data_dir=tmp_path / "state")
    return SqlState(create_session_factory(create_db_engine(settings)))


@pytest.fixture
def make_wechat_app(wechat_services, wechat_settings, fresh_state):
    """``make(state=None, **setting_overrides)`` -> a fresh app (own WeChat channels) over the session's
    services, with the test's own shared state unless ``state`` is given (several workers share one)."""

    def make(state=None, **overrides) -> FastAPI:
        services = replace(wechat_services, state=state or fresh_state)
        return create_app(wechat_settings(**overrides), services=services)

    return make


@pytest.fixture
def make_wechat_client(make_wechat_app):
    """Like ``make_wechat_app``, wrapped in a TestClient."""
    with ExitStack() as stack:
        yield lambda state=None, **overrides: stack.enter_context(TestClient(make_wechat_app(state, **overrides)))


@pytest.fixture
def slow_llm(llm):
    """The model takes longer than the (short) reply budget of these tests."""
    llm.mode, llm.reply, llm.delay_seconds = "answer", ANSWER, SLOW_LLM_SECONDS
    yield llm
    llm.delay_seconds = 0.0


@pytest.fixture
def mp():
    return MpCallbacks(MP_TOKEN, MP_AES_KEY, MP_APP_ID)


@pytest.fixture
def work():
    return WorkCallbacks(WORK_TOKEN, WORK_AES_KEY, WORK_CORP_ID)


@pytest.fixture
def openid() -> str:
    return "o" + uuid.uuid4().hex[:27]

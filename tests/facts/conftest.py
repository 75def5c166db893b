"""政策计算器 fixtures: the app over a private copy of the session's sample index, with the clock
at the labels' date (2026-11-30) and an editor token for the review API."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from fastapi.testclient import TestClient

from app.admin.auth import hash_token
from app.main import Services, create_app
from app.settings import Settings
from tests.chat.conftest import sample_index  # noqa: F401 - re-exported fixture

TODAY = dt.date(2026, 11, 30)
EDITOR_TOKEN = "facts-editor-token-7b2d91c4"
VIEWER_TOKEN = "facts-viewer-token-3e8a05f6"
EDITOR = {"Authorization": f"Bearer {EDITOR_TOKEN}"}
VIEWER = {"Authorization": f"Bearer {VIEWER_TOKEN}"}


def build_facts_services(data_dir, embedder, corpus_dir) -> Services:
    settings = Settings(_env_file=None, data_dir=data_dir, corpus_dir=corpus_dir, rate_limit_per_ip=0,
                        rate_limit_per_conversation=0,
                        admin_tokens=f"carol:editor:{hash_token(EDITOR_TOKEN)},dave:viewer:{hash_token(VIEWER_TOKEN)}")
    return Services.build(settings, embedder=embedder, clock=lambda: TODAY)


@pytest.fixture(scope="session")
def facts_services(sample_index, embedder, sample_corpus_dir, tmp_path_factory) -> Services:  # noqa: F811
    data_dir = tmp_path_factory.mktemp("facts") / "data"
    shutil.copytree(sample_index, data_dir)
    return build_facts_services(data_dir, embedder, sample_corpus_dir)


@pytest.fixture(scope="session")
def facts_client(facts_services) -> TestClient:
    with TestClient(create_app(facts_services.settings, services=facts_services)) as client:
        yield client


@pytest.fixture(scope="session")
def facts_server(facts_services):
    """The app on a real uvicorn, for the widget's 政策匹配 tab in Chromium."""
    from tests.conftest import LiveServer

    server = LiveServer(create_app(facts_services.settings, services=facts_services)).start()
    yield server
    server.stop()

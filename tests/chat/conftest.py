"""The sample corpus indexed once per session; apps built over it per test."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import Services, create_app
from app.settings import Settings
from bench.common import EVAL_DATE

# The sample policies' validity is judged as of the day the answers were written down (three of them
# expire on 2026-12-31): the same answers pass next year.
AS_OF = lambda: EVAL_DATE  # noqa: E731


@pytest.fixture(scope="session")
def sample_index(full_corpus_index) -> Path:
    """The data dir of the session's sample-corpus index (embedded Chroma + SQLite)."""
    report = full_corpus_index.report
    assert not report.failed, [(r.name, r.reason) for r in report.failed]
    return full_corpus_index.settings.data_dir


@pytest.fixture(scope="session")
def sample_services(sample_index, embedder, sample_corpus_dir, tmp_path_factory) -> Services:
    """Services over a private copy, so that the conversations these tests write never reach the
    pristine sample index that other folders copy."""
    data_dir = tmp_path_factory.mktemp("chat-services") / "data"
    shutil.copytree(sample_index, data_dir)
    # These tests ask hundreds of questions from one address; rate limits have tests of their own.
    return Services.build(Settings(_env_file=None, data_dir=data_dir, corpus_dir=sample_corpus_dir,
                                   rate_limit_per_ip=0, rate_limit_per_conversation=0), embedder=embedder,
                          clock=AS_OF)


@pytest.fixture(scope="session")
def client(sample_services) -> TestClient:
    app = create_app(sample_services.settings, services=sample_services)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def make_client(tmp_path, sample_index, embedder, sample_corpus_dir):
    """An app over a private copy of the sample index, with settings overrides (e.g. an LLM backend)."""
    clients = []

    def make(**overrides) -> TestClient:
        data_dir = tmp_path / f"data{len(clients)}"
        shutil.copytree(sample_index, data_dir)
        overrides = {"rate_limit_per_ip": 0, "rate_limit_per_conversation": 0, **overrides}
        settings = Settings(_env_file=None, data_dir=data_dir, corpus_dir=sample_corpus_dir, **overrides)
        services = Services.build(settings, embedder=embedder, clock=AS_OF)
        test_client = TestClient(create_app(settings, services=services))
        test_client.__enter__()
        clients.append(test_client)
        return test_client

    yield make
    for test_client in clients:
        test_client.__exit__(None, None, None)


def parse_sse(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        name, data = "message", ""
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                data += line[len("data: "):]
        events.append((name, json.loads(data) if data else {}))
    return events

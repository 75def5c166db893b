"""Processes the fault tests start and kill themselves (never the shared session servers)."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import Services, create_app
from tests.conftest import _chroma_executable, free_port

SMALL_CORPUS = ["subsidy/ks-high-tech-enterprise-reward.md", "procedure/ks-enterprise-startup.md"]


def _wait(check, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not come up within {timeout:.0f} s")


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class ManagedProcess:
    """A server process the test owns: start, kill -9, start again on the same port and data."""

    def __init__(self, argv: list[str], port: int, ready, log: Path):
        self.argv, self.port, self.ready, self.log = argv, port, ready, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> "ManagedProcess":
        self.proc = subprocess.Popen(self.argv, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        _wait(lambda: self.proc.poll() is None and self.ready(), " ".join(self.argv[:2]))
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=15)
        _wait(lambda: not _port_open(self.port), f"port {self.port} to close", timeout=15)


def _chroma_ready(port: int):
    def check() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False
    return check


@pytest.fixture
def own_chroma(tmp_path):
    port = free_port()
    server = ManagedProcess([_chroma_executable(), "run", "--path", str(tmp_path / "chroma-own"), "--port", str(port),
                             "--host", "127.0.0.1"], port, _chroma_ready(port), tmp_path / "chroma.log").start()
    yield server
    server.kill()


@pytest.fixture
def own_redis(tmp_path):
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.fail("redis-server not found (make services installs/starts Redis)")
    port = free_port()
    server = ManagedProcess([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                            port, lambda: _port_open(port), tmp_path / "redis.log").start()
    yield server
    server.kill()


@pytest.fixture
def small_app(make_settings, make_corpus, embedder):
    """``small_app(**settings)``: the two-document sample corpus ingested, and a TestClient over it."""
    clients = []

    def make(**overrides) -> TestClient:
        from ingest.pipeline import build_ingest_service

        settings = make_settings(**overrides)
        build_ingest_service(settings, embedder=embedder).sync([make_corpus(*SMALL_CORPUS)])
        services = Services.build(settings, embedder=embedder)
        client = TestClient(create_app(settings, services=services))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)

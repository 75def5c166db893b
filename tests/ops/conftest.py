"""Processes the fault tests start and kill themselves (never the shared session servers): a Chroma
server, a Redis, a PostgreSQL cluster of their own (initdb + pg_ctl on a free port and a private socket
folder), a "hung" Redis that accepts connections and never answers, and a tiny full disk (tmpfs)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
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


# --- PostgreSQL of the test's own ------------------------------------------------------------

def _pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        pytest.fail(f"{name} not found under /usr/lib/postgresql/*/bin (make services installs PostgreSQL)")
    return str(found[-1])


class OwnPostgres:
    """A private cluster: ``stop()``/``start()`` it freely, the machine's shared server is never touched."""

    def __init__(self, root: Path):
        self.root, self.port = root, free_port()
        self.data, self.sockets, self.log = root / "data", root / "sock", root / "postgres.log"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        # initdb and postgres refuse to run as root: run them as the postgres user when we are root.
        self._user = "postgres" if os.geteuid() == 0 else None

    def _run(self, *argv: str, timeout: float = 120) -> None:
        out = subprocess.run(argv, user=self._user, capture_output=True, text=True, timeout=timeout,
                             stdin=subprocess.DEVNULL)
        if out.returncode != 0:
            raise AssertionError(f"{' '.join(argv[:2])} failed: {out.stdout[-2000:]} {out.stderr[-2000:]}")

    def init(self) -> "OwnPostgres":
        self.sockets.mkdir(parents=True)
        if self._user:
            shutil.chown(self.root, self._user)
            shutil.chown(self.sockets, self._user)
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")
        return self

    def start(self) -> None:
        # -w: pg_ctl returns once the server accepts connections (a condition, not a sleep).
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o",
                  f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")
        _wait(lambda: not _port_open(self.port), f"PostgreSQL port {self.port} to close", timeout=30)

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@pytest.fixture
def own_postgres():
    root = Path(tempfile.mkdtemp(prefix="kunruyi-pg-"))  # not under pytest's 0700 tmp: postgres must reach it
    root.chmod(0o755)
    server = OwnPostgres(root).init()
    server.start()
    try:
        yield server
    finally:
        if server.running():
            try:
                server.stop("immediate")
            except AssertionError:
                pass
        shutil.rmtree(root, ignore_errors=True)


# --- a Redis that hangs ------------------------------------------------------------------------

@pytest.fixture
def hung_redis():
    """A port that accepts connections and never answers (a Redis stuck on a full disk or a swap storm)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)  # kept open, never read from or written to

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    listener.close()


# --- a full disk --------------------------------------------------------------------------------

@pytest.fixture
def full_disk(tmp_path):
    """``full_disk(folder)`` mounts a 1 MB tmpfs at ``folder`` and fills it (needs root, as in CI)."""
    mounts: list[Path] = []

    def make(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True,
                             text=True)
        if out.returncode != 0:
            pytest.fail(f"cannot mount a small tmpfs to simulate a full disk (needs root): {out.stderr}")
        mounts.append(folder)
        filler = folder / "filler"
        with open(filler, "wb", buffering=0) as out_file:
            try:
                while True:
                    out_file.write(b"\0" * 65536)
                    out_file.flush()
            except OSError:
                pass
        return folder

    yield make
    for folder in mounts:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)

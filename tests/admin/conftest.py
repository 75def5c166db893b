"""Staff console fixtures: apps over a private copy of the sample index (or an empty one) with
an editor and a viewer token, and helpers to wait for background jobs."""

from __future__ import annotations

import io
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
from fastapi.testclient import TestClient

from app.admin.auth import hash_token
from app.main import Services, create_app
from app.settings import Settings
from tests.chat.conftest import sample_index  # noqa: F401 - re-exported fixture

# Fixed values: this module is imported twice (as a conftest and by the tests), so nothing random here.
EDITOR_TOKEN = "test-editor-token-4f1c9a7e2b"
VIEWER_TOKEN = "test-viewer-token-8d3e6b0a5c"
ADMIN_TOKENS = f"alice:editor:{hash_token(EDITOR_TOKEN)},bob:viewer:{hash_token(VIEWER_TOKEN)}"
EDITOR = {"Authorization": f"Bearer {EDITOR_TOKEN}"}
VIEWER = {"Authorization": f"Bearer {VIEWER_TOKEN}"}

# An invented policy no sample document mentions, so only an uploaded file can answer about it.
FIREFLY_V1 = """# 昆山示例萤火虫栖息地保护补贴办法（测试）

第一条 为保护本市萤火虫栖息地，对在厂区内建设萤火虫栖息地的企业给予补贴。

第二条 萤火虫栖息地保护补贴标准为每平方米三百二十七元，单个企业最高补贴八万元。

第三条 申请萤火虫栖息地保护补贴的企业，应向昆山市生态萤火虫保护办公室提交栖息地照片和面积测量报告。
"""
FIREFLY_V2 = FIREFLY_V1.replace("三百二十七元", "六百五十一元").replace("八万元", "十二万元")
FIREFLY_QUESTION = "萤火虫栖息地保护补贴每平方米补贴多少钱？"


def docx_bytes(title: str, paragraphs: list[str]) -> bytes:
    """A real Word file written with python-docx."""
    from docx import Document

    document = Document()
    document.core_properties.title = title
    document.add_heading(title, level=0)
    for text in paragraphs:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@dataclass
class AdminApp:
    client: TestClient
    services: Services
    settings: Settings

    @property
    def registry(self):
        return self.services.ingest.registry

    @property
    def store(self):
        return self.services.ingest.store

    def upload(self, *files: tuple[str, bytes], headers=None, **form) -> "object":
        return self.client.post("/api/admin/documents", headers=headers or EDITOR,
                                files=[("files", (name, data)) for name, data in files], data=form)

    def wait_job(self, job_id: str, timeout: float = 240) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            job = self.client.get(f"/api/admin/jobs/{job_id}", headers=VIEWER).json()
            if job["status"] not in ("queued", "running"):
                return job
            assert time.monotonic() < deadline, f"job {job_id} still {job['status']} after {timeout}s: {job}"
            time.sleep(0.1)

    def upload_and_wait(self, *files: tuple[str, bytes], **form) -> dict:
        response = self.upload(*files, **form)
        assert response.status_code == 202, response.text
        job = self.wait_job(response.json()["id"])
        assert job["status"] == "done", job
        return job

    def ask(self, question: str) -> dict:
        response = self.client.post("/api/chat", json={"message": question})
        assert response.status_code == 200, response.text
        return response.json()

    def written(self) -> dict:
        """Everything a refused upload must not have touched."""
        uploads = self.settings.uploads_dir
        with self.registry.session_factory() as session:
            from app.admin.jobs import JobRow

            jobs = session.query(JobRow).count()
        return {"uploads": sorted(p.name for p in uploads.rglob("*")) if uploads.exists() else [],
                "documents": len(self.registry.list(include_deleted=True)), "chunks": self.store.count(),
                "jobs": jobs}


@pytest.fixture
def make_admin(request, tmp_path, embedder, sample_corpus_dir) -> Callable[..., AdminApp]:
    """``make_admin(sample=True, **settings)``: an app with editor and viewer tokens over a private copy of
    the sample index (``sample=False``: an empty index). The keyword index refreshes on every search."""
    apps: list[TestClient] = []

    def make(sample: bool = True, data_dir: Path | None = None, **overrides) -> AdminApp:
        if data_dir is None:
            data_dir = tmp_path / f"data{len(apps)}"
            if sample:  # the session's sample index is built only for tests that want it
                shutil.copytree(request.getfixturevalue("sample_index"), data_dir)
        values = {"data_dir": data_dir, "corpus_dir": sample_corpus_dir, "admin_tokens": ADMIN_TOKENS,
                  "keyword_refresh_seconds": 0}
        values.update(overrides)
        settings = Settings(_env_file=None, **values)
        services = Services.build(settings, embedder=embedder)
        client = TestClient(create_app(settings, services=services))
        client.__enter__()
        apps.append(client)
        return AdminApp(client, services, settings)

    yield make
    for client in apps:
        client.__exit__(None, None, None)


@dataclass
class Gate:
    """A ``before_activate`` hook that holds indexing after the new chunks are written, until released."""

    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    docs: list = field(default_factory=list)

    def __call__(self, doc) -> None:
        self.docs.append(doc)
        self.reached.set()
        assert self.release.wait(300), "gate never released"

    def wait_reached(self, timeout: float = 240) -> None:
        assert self.reached.wait(timeout), "indexing never reached the activation step"


@pytest.fixture
def gate():
    g = Gate()
    yield g
    g.release.set()

"""Web widget fixtures: the app over a private copy of the sample index plus one hostile document,
built once per session and served by a real uvicorn."""

from __future__ import annotations

import shutil

import pytest

from app.main import Services, create_app
from app.settings import Settings
from tests.chat.conftest import parse_sse, sample_index, sample_services  # noqa: F401 - re-exported fixtures
from tests.conftest import LiveServer

XSS_DOC_ID = "test-xss-drill"
# A .txt document (Markdown cleaning would flatten the link) with markup that must stay inert.
XSS_TEXT = """昆山市网页安全演练专项资金管理办法（测试）

第一条 网页安全演练专项资金用于支持企业开展网页安全演练，每家企业最高补助5万元。申报材料示例：<img src=x onerror=alert(1)> 请按原样填写。

第二条 网页安全演练专项资金的申报网址见[点我](javascript:alert(1))，也可以到企业服务驿站咨询申报事项。
"""
# Asks for the clause that carries the markup (answers quote the clause asked for, not the whole text).
XSS_QUESTION = "网页安全演练专项资金每家企业最高补助多少？申报材料示例是什么？"
QUESTION = "昆山对省级创新联合体给多少支持？"


def build_web_services(data_dir, embedder, corpus_dir, **overrides) -> Services:
    """Services over ``data_dir`` with the hostile document indexed."""
    settings = Settings(_env_file=None, data_dir=data_dir, corpus_dir=corpus_dir, **overrides)
    services = Services.build(settings, embedder=embedder)
    if services.ingest.registry.get(XSS_DOC_ID) is None:
        doc = services.ingest.prepare(XSS_TEXT.encode(), name="xss-drill.txt", suffix=".txt",
                                      overrides={"doc_id": XSS_DOC_ID, "doc_number": "昆测〔2025〕1号",
                                                 "sample": True, "expires": "2030-12-31"})
        services.ingest.index(doc, path=None)
        services.keywords.refresh(force=True)
    return services


@pytest.fixture(scope="session")
def web_data(tmp_path_factory, sample_index):  # noqa: F811 - the fixture imported above
    data_dir = tmp_path_factory.mktemp("web") / "data"
    shutil.copytree(sample_index, data_dir)
    return data_dir


@pytest.fixture(scope="session")
def web_services(web_data, embedder, sample_corpus_dir) -> Services:
    return build_web_services(web_data, embedder, sample_corpus_dir)


@pytest.fixture(scope="session")
def web_server(web_services):
    """The app on a real uvicorn (Chromium talks to it over HTTP); tests keep to their own conversations."""
    server = LiveServer(create_app(web_services.settings, services=web_services)).start()
    yield server
    server.stop()


@pytest.fixture
def dialogs(page):
    """Every JavaScript dialog (alert, confirm…) the page opens; an injected alert() would land here."""
    seen: list[str] = []

    def on_dialog(dialog):
        seen.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return seen

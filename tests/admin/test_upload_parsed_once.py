"""Issue 13: an upload is parsed once. The request parses the file to check it; the job indexes that
document instead of parsing the stored copy again. A job without it (a re-index, a retry after a
restart) parses the stored original, and gets the very same version."""

from __future__ import annotations

import pytest

import ingest.pipeline
from tests.admin.conftest import EDITOR, FIREFLY_V1, FIREFLY_V2


@pytest.fixture
def parses(monkeypatch) -> list[str]:
    """Every file parse, by suffix: the real loader, counted on its way in."""
    calls: list[str] = []
    real = ingest.pipeline.load_bytes

    def counting(data: bytes, suffix: str):
        calls.append(suffix)
        return real(data, suffix)

    monkeypatch.setattr(ingest.pipeline, "load_bytes", counting)
    return calls


def test_upload_replace_and_edit_parse_each_file_once(make_admin, parses):
    app = make_admin(sample=False)
    job = app.upload_and_wait(("firefly.md", FIREFLY_V1.encode()))
    assert parses == [".md"], "the job parsed the upload again"
    row = app.registry.get("firefly")
    assert (row.version, row.status, job["items"][0]["chunks"]) == (1, "active", row.chunk_count)
    first_hash = row.content_hash
    assert row.overrides == {"source": "firefly.md", "doc_id": "firefly"}

    # A re-index has no parsed document: it reads the stored original, and finds the same version.
    reindex = app.client.post("/api/admin/documents/firefly/reindex", headers=EDITOR)
    assert app.wait_job(reindex.json()["id"])["status"] == "done"
    assert len(parses) == 2
    assert (app.registry.get("firefly").version, app.registry.get("firefly").content_hash) == (1, first_hash)

    parses.clear()
    replaced = app.client.post("/api/admin/documents/firefly/replace", headers=EDITOR,
                               files={"file": ("firefly-v2.md", FIREFLY_V2.encode())})
    assert replaced.status_code == 202, replaced.text
    assert app.wait_job(replaced.json()["id"])["status"] == "done"
    assert parses == [".md"] and app.registry.get("firefly").version == 2

    parses.clear()
    edited = app.client.patch("/api/admin/documents/firefly", headers=EDITOR, json={"issuer": "昆山市萤火虫办公室"})
    assert edited.status_code == 202, edited.text
    assert app.wait_job(edited.json()["id"])["status"] == "done"
    assert parses == [".md"]
    row = app.registry.get("firefly")
    assert (row.version, row.issuer) == (3, "昆山市萤火虫办公室")

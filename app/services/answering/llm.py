"""LLM answer backends: any OpenAI-compatible endpoint (through langchain-openai) and a local
GGUF model (through xllamacpp). Both answer only from the numbered context; citation marks
that point at no passage are dropped."""

from __future__ import annotations

import logging
import threading
from typing import Iterator

from app.errors import ConfigurationError, MissingExtraError
from app.services.answering.base import (Answer, AnswerContext, cited_numbers, compose_footer,
                                         keep_known_citations)
from app.services.answering.prompts import REWRITE_PROMPT, SYSTEM_PROMPT, user_prompt
from app.settings import Settings

log = logging.getLogger(__name__)

NOT_FOUND_MARK = "未找到"


class _LLMAnswerer:
    """Shared post-processing: valid citations only, footer, grounded when something is cited."""

    name = "llm"

    def _complete(self, system: str, user: str) -> str:
        raise NotImplementedError

    def _stream(self, system: str, user: str) -> Iterator[str]:
        raise NotImplementedError

    def finish(self, ctx: AnswerContext, text: str) -> Answer:
        valid = set(range(1, len(ctx.chunks) + 1))
        body = keep_known_citations(text.strip(), valid)
        numbers = set(cited_numbers(body))
        cited = [c for c in ctx.citations() if c.n in numbers]
        grounded = bool(cited) and NOT_FOUND_MARK not in body[:40]
        return Answer(text=f"{body}\n\n{compose_footer(cited)}", citations=cited, grounded=grounded)

    def answer(self, ctx: AnswerContext) -> Answer:
        return self.finish(ctx, self._complete(SYSTEM_PROMPT, user_prompt(ctx)))

    def stream(self, ctx: AnswerContext) -> Iterator[str]:
        valid = set(range(1, len(ctx.chunks) + 1))
        pending = ""
        for piece in self._stream(SYSTEM_PROMPT, user_prompt(ctx)):
            pending += piece
            # Hold back a possibly unfinished "[12" so that invented marks never reach the user.
            cut = pending.rfind("[")
            if cut != -1 and "]" not in pending[cut:] and len(pending) - cut <= 4:
                ready, pending = pending[:cut], pending[cut:]
            else:
                ready, pending = pending, ""
            ready = keep_known_citations(ready, valid)
            if ready:
                yield ready
        if pending:
            yield keep_known_citations(pending, valid)

    def rewrite(self, history: str, question: str) -> str:
        text = self._complete("你是一个改写问题的助手。", REWRITE_PROMPT.format(history=history, question=question))
        return text.strip().splitlines()[0].strip() if text.strip() else question


class OpenAIAnswerer(_LLMAnswerer):
    name = "openai"

    def __init__(self, settings: Settings):
        if not settings.llm_base_url:
            raise ConfigurationError("KUNRUYI_LLM_BASE_URL 未设置：openai 后端需要兼容 OpenAI 的接口地址")
        from langchain_openai import ChatOpenAI

        self._chat = ChatOpenAI(
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key or "not-needed",
            model=settings.llm_model,
            timeout=settings.llm_timeout,
            max_retries=0,
            temperature=settings.llm_temperature,
            max_tokens=settings.llm_max_tokens,
        )

    @staticmethod
    def _messages(system: str, user: str):
        from langchain_core.messages import HumanMessage, SystemMessage

        return [SystemMessage(system), HumanMessage(user)]

    def _complete(self, system: str, user: str) -> str:
        return str(self._chat.invoke(self._messages(system, user)).content)

    def _stream(self, system: str, user: str) -> Iterator[str]:
        for chunk in self._chat.stream(self._messages(system, user)):
            if chunk.content:
                yield str(chunk.content)


class LlamaCppAnswerer(_LLMAnswerer):
    """A GGUF model on the CPU, for air-gapped deployments."""

    name = "llamacpp"

    def __init__(self, settings: Settings):
        if not settings.llamacpp_model_path:
            raise ConfigurationError("KUNRUYI_LLAMACPP_MODEL_PATH 未设置：llamacpp 后端需要 GGUF 模型文件路径")
        try:
            import xllamacpp as xlc
        except ImportError as exc:
            raise MissingExtraError("xllamacpp 未安装：请安装可选依赖 pip install '.[llamacpp]'") from exc
        params = xlc.CommonParams()
        params.model.path = settings.llamacpp_model_path
        params.n_ctx = settings.llamacpp_ctx
        params.n_predict = settings.llm_max_tokens
        if settings.llamacpp_threads:
            params.cpuparams.n_threads = settings.llamacpp_threads
        self._server = xlc.Server(params)
        self._lock = threading.Lock()
        self._max_tokens = settings.llm_max_tokens
        self._temperature = settings.llm_temperature

    def _request(self, system: str, user: str) -> dict:
        return {
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "max_tokens": self._max_tokens,
            "temperature": self._temperature,
        }

    def _complete(self, system: str, user: str) -> str:
        with self._lock:
            result = self._server.handle_chat_completions(self._request(system, user))
        if isinstance(result, dict) and "error" in result:
            raise RuntimeError(f"llama.cpp error: {result['error']}")
        return result["choices"][0]["message"]["content"] or ""

    def _stream(self, system: str, user: str) -> Iterator[str]:
        yield self._complete(system, user)

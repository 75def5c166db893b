"""LLM answer backends: any OpenAI-compatible endpoint (through langchain-openai) and a local
GGUF model (through xllamacpp). Both answer only from the numbered context; citation marks
that point at no passage are dropped."""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
import time
from typing import Callable, Iterator, TypeVar

from app.errors import ConfigurationError, MissingExtraError
from app.services.answering.base import (CITATION_MARK, Answer, AnswerContext, Generation, cited_numbers,
                                         compose_footer, keep_known_citations)
from app.services.answering.prompts import REWRITE_PROMPT, SYSTEM_PROMPT, user_prompt
from app.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

NOT_FOUND_MARK = "未找到"


class LLMUnavailable(RuntimeError):
    """The model is busy, timed out or failed recently: answer from the extractive backend."""


_SENTENCE_END = re.compile(r"[。！？!?\n]")
_FILLER = re.compile(r"^(?:另见|参见|详见|同上|见上|如上|等)[。；，,.]?$")


def clean_citations(text: str, valid: set[int]) -> str:
    """Invented marks removed with the sentences that rested on them alone, and what removing
    them leaves behind ("[1]。另见。", "。。")."""
    kept = []
    for sentence in re.findall(r"[^。！？!?\n]*[。！？!?\n]?(?:\[\d{1,2}\])*", text):
        if not sentence:
            continue
        marks = {int(n) for n in CITATION_MARK.findall(sentence)}
        if marks and not marks & valid:
            continue  # "另有规定见[7]。": a claim whose only source does not exist
        sentence = keep_known_citations(sentence, valid)
        if _FILLER.match(sentence.strip()):
            continue
        kept.append(sentence)
    return re.sub(r"([。；，])\1+", r"\1", "".join(kept))


class _LLMAnswerer:
    """Shared post-processing: valid citations only, footer, grounded when something is cited.

    A failure (error, timeout, busy) opens a breaker for ``llm_cooldown`` seconds, so that while
    the model is down a question (and its follow-up rewrite) goes straight to the fallback
    instead of waiting a full timeout each time.
    """

    name = "llm"
    rewrites = True

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic):
        self._cooldown = settings.llm_cooldown
        self._clock = clock
        self._down_until = 0.0

    def available(self) -> bool:
        return self._clock() >= self._down_until

    def _failed(self, exc: BaseException) -> None:
        self._down_until = self._clock() + self._cooldown
        log.warning("llm unavailable for %.0fs (%s)", self._cooldown, type(exc).__name__)

    def _guarded(self, call: Callable[[], T]) -> T:
        if not self.available():
            raise LLMUnavailable("llm recently failed")
        try:
            return call()
        except Exception as exc:
            self._failed(exc)
            raise

    def _complete(self, system: str, user: str) -> str:
        raise NotImplementedError

    def _stream(self, system: str, user: str) -> Iterator[str]:
        raise NotImplementedError

    def finish(self, ctx: AnswerContext, text: str) -> Answer:
        valid = set(range(1, len(ctx.chunks) + 1))
        body = clean_citations(text.strip(), valid)
        numbers = set(cited_numbers(body))
        cited = [c for c in ctx.citations() if c.n in numbers]
        grounded = bool(cited) and NOT_FOUND_MARK not in body[:40]
        return Answer(text=f"{body}\n\n{compose_footer(cited)}", citations=cited, grounded=grounded)

    def answer(self, ctx: AnswerContext) -> Answer:
        return self.finish(ctx, self._guarded(lambda: self._complete(SYSTEM_PROMPT, user_prompt(ctx))))

    def stream(self, ctx: AnswerContext) -> Generation:
        """Whole sentences, each checked before it is sent: nothing is sent until the model has
        cited a real passage, so an uncited answer never reaches the user ahead of a refusal."""
        shown = []
        for piece in self._sentences(ctx):
            shown.append(piece)
            yield piece
        return self.finish(ctx, "".join(shown))

    def _sentences(self, ctx: AnswerContext) -> Iterator[str]:
        if not self.available():
            raise LLMUnavailable("llm recently failed")
        valid = set(range(1, len(ctx.chunks) + 1))
        pending, cited = "", False
        try:
            for piece in self._stream(SYSTEM_PROMPT, user_prompt(ctx)):
                pending += piece
                if not cited:
                    if NOT_FOUND_MARK in pending[:40]:
                        continue  # a refusal: finish() turns it into the fixed one, nothing streamed
                    if not set(cited_numbers(pending)) & valid:
                        continue
                    cited = True
                cut = max(m.end() for m in _SENTENCE_END.finditer(pending)) if _SENTENCE_END.search(pending) else 0
                # A mark right after the sentence end ("…万元。[1]") belongs to that sentence.
                while cut and re.match(r"\[\d{1,2}\]", pending[cut:]):
                    cut += re.match(r"\[\d{1,2}\]", pending[cut:]).end()
                if cut and not re.search(r"\[\d{0,2}$", pending[:cut]):
                    ready, pending = pending[:cut], pending[cut:]
                    ready = clean_citations(ready, valid)
                    if ready:
                        yield ready
        except Exception as exc:
            self._failed(exc)
            raise
        if cited and pending:
            rest = clean_citations(pending, valid)
            if rest:
                yield rest

    def rewrite(self, history: str, question: str) -> str:
        text = self._guarded(lambda: self._complete("你是一个改写问题的助手。",
                                                     REWRITE_PROMPT.format(history=history, question=question)))
        return text.strip().splitlines()[0].strip() if text.strip() else question


class OpenAIAnswerer(_LLMAnswerer):
    name = "openai"

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic):
        super().__init__(settings, clock)
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
    """A GGUF model on the CPU, for air-gapped deployments.

    Generation runs in a worker thread and streams token by token; the request gives up after
    ``llm_timeout`` seconds without a token (the answer then comes from the extractive backend),
    and at most ``llm_max_queue`` generations run or wait, so one long generation cannot stall
    every other request.
    """

    name = "llamacpp"

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic):
        super().__init__(settings, clock)
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
        self._slots = threading.BoundedSemaphore(settings.llm_max_queue)
        self._timeout = settings.llm_timeout
        self._max_tokens = settings.llm_max_tokens
        self._temperature = settings.llm_temperature

    def _request(self, system: str, user: str, stream: bool = False) -> dict:
        return {
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "max_tokens": self._max_tokens,
            "temperature": self._temperature,
            "stream": stream,
        }

    def _complete(self, system: str, user: str) -> str:
        return "".join(self._stream(system, user))

    def _stream(self, system: str, user: str) -> Iterator[str]:
        if not self._slots.acquire(blocking=False):
            raise LLMUnavailable("local model busy")
        pieces: queue.Queue = queue.Queue()

        def generate() -> None:
            try:
                with self._lock:
                    self._server.handle_chat_completions(self._request(system, user, stream=True), pieces.put)
                pieces.put(_DONE)
            except Exception as exc:  # noqa: BLE001 - handed to the reading side
                pieces.put(exc)
            finally:
                self._slots.release()

        threading.Thread(target=generate, name="llamacpp-generate", daemon=True).start()
        while True:
            try:
                item = pieces.get(timeout=self._timeout)
            except queue.Empty:
                raise TimeoutError(f"no token from the local model in {self._timeout:.0f}s") from None
            if item is _DONE:
                return
            if isinstance(item, Exception):
                raise item
            chunk = json.loads(item) if isinstance(item, (str, bytes)) else item
            if isinstance(chunk, dict) and "error" in chunk:
                raise RuntimeError(f"llama.cpp error: {chunk['error']}")
            for choice in (chunk or {}).get("choices", []):
                text = (choice.get("delta") or {}).get("content") or (choice.get("message") or {}).get("content")
                if text:
                    yield text


_DONE = object()

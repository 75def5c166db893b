"""The fallback as a wrapper: one failed LLM call never loses a user's question.

``WithFallback(primary, fallback)`` is itself an answer backend. Whatever goes wrong with the
primary (an error, a timeout, a busy local model, its breaker still open after a recent failure, a
reply that repeats the system prompt) the answer comes from the fallback (the extractive backend),
marked ``fallback=True`` and introduced by a short note. While streaming, what was already shown
stays, and the note and the fallback answer follow it.
"""

from __future__ import annotations

import logging

from app.services import guard
from app.services.answering.base import Answer, AnswerContext, Answerer, Generation, drain, relay, whole

log = logging.getLogger(__name__)

FALLBACK_NOTE = "（智能问答服务暂时不可用，以下为政策原文摘录。）\n\n"


class UnsafeOutput(Exception):
    """The model was steered into repeating its instructions (e.g. by text inside a document)."""


class WithFallback:
    def __init__(self, primary: Answerer, fallback: Answerer):
        self.primary = primary
        self.fallback = fallback
        self.name = primary.name
        self.rewrites = primary.rewrites

    def available(self) -> bool:
        return self.primary.available()

    def rewrite(self, history: str, question: str) -> str:
        return self.primary.rewrite(history, question)

    def answer(self, ctx: AnswerContext) -> Answer:
        return drain(self._generate(ctx, stream=False))

    def stream(self, ctx: AnswerContext) -> Generation:
        return self._generate(ctx, stream=True)

    def _generate(self, ctx: AnswerContext, *, stream: bool) -> Generation:
        shown: list[str] = []
        try:
            return (yield from self._checked(ctx, stream, shown))
        except Exception as exc:  # noqa: BLE001 - any LLM failure falls back, the question is kept
            log.warning("llm %s failed (%s), falling back to %s", "stream" if stream else "answer",
                        type(exc).__name__, self.fallback.name)
        note = ("\n\n" if shown else "") + FALLBACK_NOTE
        yield note
        answer = yield from (self.fallback.stream(ctx) if stream else whole(self.fallback.answer(ctx)))
        answer.text = "".join(shown) + note + answer.text
        answer.fallback = True
        return answer

    def _checked(self, ctx: AnswerContext, stream: bool, shown: list[str]) -> Generation:
        """The primary's answer, each piece checked for a prompt leak before it is shown."""
        if not stream:
            answer = self.primary.answer(ctx)
            if guard.leaks_prompt(answer.text):
                raise UnsafeOutput("model output repeats the system prompt")
            return whole(answer)
        watch = guard.LeakWatch()

        def checked(piece: str) -> str:
            if watch.feed(piece):
                raise UnsafeOutput("model output repeats the system prompt")
            shown.append(piece)
            return piece

        return relay(self.primary.stream(ctx), checked)

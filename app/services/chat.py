"""ChatService: one question in, a grounded and cited answer (or an honest refusal) out."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

from app.components.conversations import ConversationStore, new_id
from app.errors import InvalidQuestion
from app.ops.metrics import ANSWERS, record_answer
from app.services import guard
from app.services.answering import Answer, AnswerContext
from app.services.retrieval import Retriever
from app.settings import Settings
from ingest.cleaning import normalize

log = logging.getLogger(__name__)

REFUSAL_NO_EVIDENCE = (
    "抱歉，政策库中未找到与您的问题相关的政策依据，无法给出准确答复。"
    "建议您咨询{contact}，工作人员会为您进一步解答；也可以换个说法，或提供更具体的政策名称、事项名称再问我。"
)
REFUSAL_OUT_OF_SCOPE = (
    "抱歉，我是“昆如意”企业服务助手，只能依据政策库解答昆山企业的惠企政策、人才、用地和办事流程等问题，"
    "这个问题无法回答。如需其他帮助，请咨询{contact}。"
)


@dataclass
class ChatResult:
    conversation_id: str
    message_id: str
    answer: str
    grounded: bool
    fallback: bool
    citations: list[dict[str, Any]]
    standalone_question: str = ""
    refusal_reason: str | None = None


@dataclass
class StreamEvent:
    event: str  # meta | delta | done | error
    data: dict[str, Any] = field(default_factory=dict)


class UnsafeOutput(Exception):
    """The model was steered into repeating its instructions (e.g. by text inside a document)."""


class ChatService:
    def __init__(self, settings: Settings, retriever: Retriever, answerer, fallback, conversations: ConversationStore):
        self.settings = settings
        self.retriever = retriever
        self.answerer = answerer
        self.fallback = fallback
        self.conversations = conversations

    # -- steps ----------------------------------------------------------------------------------

    def validate(self, message: str) -> str:
        text = (message or "").strip()
        if not text:
            raise InvalidQuestion("请输入您要咨询的问题")
        if len(text) > self.settings.max_message_chars:
            raise InvalidQuestion(f"问题太长了，请控制在{self.settings.max_message_chars}字以内")
        return text

    def standalone(self, question: str, conversation_id: str) -> str:
        history = [m for m in self.conversations.history(conversation_id, limit=2 * self.settings.history_turns + 1)
                   if m.role == "user" and m.status == "ok"]
        if not history or not guard.is_follow_up(question):
            return question
        previous = history[-1].standalone_question or history[-1].content
        if hasattr(self.answerer, "rewrite"):
            turns = "\n".join(f"用户：{m.content}" for m in history[-self.settings.history_turns:])
            try:
                rewritten = self.answerer.rewrite(turns, question)
                if rewritten and len(rewritten) <= 4 * max(len(question), 50):
                    return rewritten
            except Exception as exc:  # noqa: BLE001 - the rule-based rewrite still works
                log.warning("llm rewrite failed, using rules: %s", type(exc).__name__)
        return guard.rule_rewrite(question, previous)

    def refusal(self, reason: str) -> Answer:
        template = REFUSAL_OUT_OF_SCOPE if reason in ("injection", "off_topic") else REFUSAL_NO_EVIDENCE
        return Answer(text=template.format(contact=self.settings.service_contact), citations=[],
                      grounded=False, refusal_reason=reason)

    def plan(self, question: str, standalone: str) -> tuple[AnswerContext | None, str | None]:
        """Retrieve evidence; returns the answer context, or the reason to refuse."""
        reason = guard.classify(question)
        if reason:
            return None, reason
        query = normalize(standalone)
        result = self.retriever.search(query)
        if not result.chunks or not result.evidence.sufficient(self.settings):
            log.info("refused no_evidence dense=%.3f coverage=%.2f", result.evidence.top_dense, result.evidence.coverage)
            return None, "no_evidence"
        return AnswerContext(question=normalize(question), standalone=query, chunks=result.chunks,
                             today=dt.date.today()), None

    def _generate(self, ctx: AnswerContext) -> Answer:
        if self.answerer is self.fallback:
            return self.answerer.answer(ctx)
        try:
            answer = self.answerer.answer(ctx)
            if guard.leaks_prompt(answer.text):
                raise UnsafeOutput("model output repeats the system prompt")
            return answer
        except Exception as exc:  # noqa: BLE001 - any LLM failure falls back, the question is kept
            log.warning("llm answer failed (%s), falling back to extractive", type(exc).__name__)
            answer = self.fallback.answer(ctx)
            answer.fallback = True
            answer.text = "（智能问答服务暂时不可用，以下为政策原文摘录。）\n\n" + answer.text
            return answer

    # -- public ---------------------------------------------------------------------------------

    def answer(self, message: str, conversation_id: str | None = None, *, channel: str = "web",
               user_ref: str | None = None) -> ChatResult:
        question = self.validate(message)
        started = time.perf_counter()
        conversation_id = self.conversations.open(conversation_id, channel, user_ref)
        standalone = self.standalone(question, conversation_id)
        question_id = self.conversations.add_user_message(conversation_id, question)
        try:
            ctx, reason = self.plan(question, standalone)
            answer = self.refusal(reason) if ctx is None else self._generate(ctx)
            if ctx is not None and not answer.grounded:
                answer = self.refusal("model_not_found")
            return self._store(conversation_id, question_id, standalone, answer, started)
        except Exception:
            self.conversations.mark_failed(question_id)
            ANSWERS.labels("failed").inc()
            raise

    def stream(self, message: str, conversation_id: str | None = None, *, channel: str = "web",
               user_ref: str | None = None) -> Iterator[StreamEvent]:
        """The same as ``answer``, as events: meta, delta..., done (or error)."""
        question = self.validate(message)
        started = time.perf_counter()
        conversation_id = self.conversations.open(conversation_id, channel, user_ref)
        standalone = self.standalone(question, conversation_id)
        question_id = self.conversations.add_user_message(conversation_id, question)
        message_id = new_id()
        try:
            ctx, reason = self.plan(question, standalone)
            candidates = [c.to_dict() for c in ctx.citations()] if ctx else []
            yield StreamEvent("meta", {"conversation_id": conversation_id, "message_id": message_id,
                                       "question_id": question_id, "citations": candidates})
            if ctx is None:
                answer = self.refusal(reason)
                yield StreamEvent("delta", {"text": answer.text})
            else:
                answer = yield from self._stream_answer(ctx)
            result = self._store(conversation_id, question_id, standalone, answer, started, message_id)
            yield StreamEvent("done", {
                "conversation_id": conversation_id, "message_id": message_id, "answer": result.answer,
                "grounded": result.grounded, "fallback": result.fallback, "citations": result.citations,
            })
        except Exception as exc:  # noqa: BLE001 - a stream ends with an error event, never silently
            log.exception("chat stream failed conversation=%s", conversation_id)
            self.conversations.mark_failed(question_id)
            ANSWERS.labels("failed").inc()
            yield StreamEvent("error", {"message": "抱歉，服务暂时出现问题，您的问题已记录，请稍后重试。",
                                        "conversation_id": conversation_id, "question_id": question_id,
                                        "error": type(exc).__name__})

    def _stream_answer(self, ctx: AnswerContext):
        sent = ""
        if self.answerer is not self.fallback:
            watch = guard.LeakWatch()
            try:
                for piece in self.answerer.stream(ctx):
                    if watch.feed(piece):
                        raise UnsafeOutput("model output repeats the system prompt")
                    sent += piece
                    yield StreamEvent("delta", {"text": piece})
                answer = self.answerer.finish(ctx, sent)
                if not answer.grounded:
                    # The model said the context does not answer: the fixed refusal follows its words,
                    # so that the streamed text and the stored answer stay the same.
                    answer = self.refusal("model_not_found")
                    answer.text = f"{sent}\n\n{answer.text}"
                    yield StreamEvent("delta", {"text": answer.text[len(sent):]})
                    return answer
                yield StreamEvent("delta", {"text": answer.text[len(sent):]})
                return answer
            except Exception as exc:  # noqa: BLE001
                log.warning("llm stream failed (%s), falling back to extractive", type(exc).__name__)
        prefix = "（智能问答服务暂时不可用，以下为政策原文摘录。）\n\n" if self.answerer is not self.fallback else ""
        if sent:
            prefix = "\n\n" + prefix
        body = ""
        if prefix:
            yield StreamEvent("delta", {"text": prefix})
        for piece in self.fallback.stream(ctx):
            body += piece
            yield StreamEvent("delta", {"text": piece})
        answer = self.fallback.finish(ctx, body)
        yield StreamEvent("delta", {"text": answer.text[len(body):]})
        answer.text = sent + prefix + answer.text
        answer.fallback = self.answerer is not self.fallback
        return answer

    def _store(self, conversation_id: str, question_id: str, standalone: str, answer: Answer, started: float,
               message_id: str | None = None) -> ChatResult:
        citations = [c.to_dict() for c in answer.citations]
        latency = (time.perf_counter() - started) * 1000
        message_id = self.conversations.add_answer(
            conversation_id, question_id, content=answer.text, standalone=standalone, grounded=answer.grounded,
            fallback=answer.fallback, citations=citations, latency_ms=latency,
            refusal_reason=answer.refusal_reason, message_id=message_id)
        record_answer(grounded=answer.grounded, fallback=answer.fallback)
        log.info("answered conversation=%s message=%s grounded=%s fallback=%s latency_ms=%.0f",
                 conversation_id, message_id, answer.grounded, answer.fallback, latency)
        return ChatResult(conversation_id, message_id, answer.text, answer.grounded, answer.fallback,
                          citations, standalone, answer.refusal_reason)

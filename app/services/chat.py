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
from app.facts import slots
from app.services import guard
from app.services import query as query_mod
from app.services.answering import Answer, AnswerContext
from app.services.query import Query
from app.services.retrieval import Retriever
from app.settings import Settings

log = logging.getLogger(__name__)

REFUSAL_NO_EVIDENCE = (
    "抱歉，政策库中未找到与您的问题相关的政策依据，无法给出准确答复。"
    "建议您咨询{contact}，工作人员会为您进一步解答；也可以换个说法，或提供更具体的政策名称、事项名称再问我。"
)
REFUSAL_OUT_OF_SCOPE = (
    "抱歉，我是“昆如意”企业服务助手，只能依据政策库解答昆山企业的惠企政策、人才、用地和办事流程等问题，"
    "这个问题无法回答。如需其他帮助，请咨询{contact}。"
)

REFUSALS = {
    "cheating": (
        "抱歉，这个问题我不能回答。申报惠企政策须如实提供材料，虚报、伪造材料或骗取、套取财政资金的，"
        "将被追回资金、取消申报资格并依法追究责任。如对申报口径有疑问，欢迎咨询{contact}，按规定如实申报。"),
    "account_status": (
        "抱歉，我无法查询具体企业的申报进度、审核结果或资金到账情况。请联系受理该事项的主管部门"
        "（一般为企业所在区镇的经济发展、科技或人社等部门），或咨询{contact}，工作人员可为您查询办理进度。"),
    "personal": (
        "抱歉，我是“昆如意”企业服务助手，只能解答企业相关的惠企政策和办事问题，个人事务（如个人公积金、"
        "个人所得税、个人社保等）无法回答。请咨询相关主管部门或{contact}。"),
}


def _first_lines(text: str, limit: int = 200) -> str:
    return (text or "").split("\n\n")[0][:limit]


def _turns(history) -> list[tuple[str, str]]:
    """Earlier (question, answer) pairs, answers cut to their first paragraph."""
    answers = {m.reply_to: m.content for m in history if m.role == "assistant"}
    return [(m.content, _first_lines(answers.get(m.id, ""))) for m in history
            if m.role == "user" and m.status == "ok" and m.id in answers]


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
    curated: bool = False  # served from a corrected answer (issue 16)
    answer_id: str | None = None


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
        self.eligibility = None  # app.facts.eligibility.Eligibility, set by Services.build (issue 15)
        self.curated = None  # app.curation.answers.CuratedAnswers, set by Services.build (issue 16)

    # -- steps ----------------------------------------------------------------------------------

    def validate(self, message: str) -> str:
        text = (message or "").strip()
        if not text:
            raise InvalidQuestion("请输入您要咨询的问题")
        if len(text) > self.settings.max_message_chars:
            raise InvalidQuestion(f"问题太长了，请控制在{self.settings.max_message_chars}字以内")
        return text

    def understand(self, question: str, conversation_id: str) -> Query:
        """The question as one query object; a follow-up takes the previous turn's topic."""
        history = self.conversations.history(conversation_id, limit=2 * self.settings.history_turns + 2)
        users = [m for m in history if m.role == "user" and m.status == "ok"]
        if not users:
            return query_mod.analyse(question)
        turns = _turns(history)
        last = users[-1]
        answer = next((m for m in history if m.role == "assistant" and m.reply_to == last.id), None)
        previous_docs = [c.get("doc_id", "") for c in (answer.citations or [])][:1] if answer and answer.grounded else []
        if not query_mod.is_follow_up(question):
            # A question that stands on its own is not rewritten; the conversation's policy still
            # counts a little (买的房子几年内不能卖？ after a 人才购房 answer).
            q = query_mod.analyse(question, previous_docs=previous_docs)
            q.history = turns
            return q
        previous = last.standalone_question or last.content
        previous_title = (answer.citations or [{}])[0].get("title", "") if previous_docs else ""
        standalone, inherited = query_mod.resolve_follow_up(question, previous, previous_title)
        if hasattr(self.answerer, "rewrite") and self._llm_ready():
            lines = []
            for m in history[-2 * self.settings.history_turns:]:
                if m.role == "user" and m.status == "ok":
                    lines.append(f"用户：{m.content}")
                elif m.role == "assistant":
                    lines.append(f"助手：{_first_lines(m.content)}")
            try:
                rewritten = self.answerer.rewrite("\n".join(lines), question)
                if rewritten and len(rewritten) <= 4 * max(len(question), 50):
                    standalone = rewritten
            except Exception as exc:  # noqa: BLE001 - the rule-based rewrite still works
                log.warning("llm rewrite failed, using rules: %s", type(exc).__name__)
        q = query_mod.analyse(question, standalone=standalone, follow_up=True, previous_slots=inherited,
                              previous_docs=previous_docs)
        q.history = turns
        return q

    def standalone(self, question: str, conversation_id: str) -> str:
        return self.understand(question, conversation_id).standalone

    def refusal(self, reason: str, related: list[str] | None = None, missing: list[str] | None = None) -> Answer:
        contact = self.settings.service_contact
        if reason in ("injection", "off_topic"):
            text = REFUSAL_OUT_OF_SCOPE.format(contact=contact)
        elif reason in REFUSALS:
            text = REFUSALS[reason].format(contact=contact)
        else:
            text = REFUSAL_NO_EVIDENCE.format(contact=contact)
            removed = set(self.retriever.live.removed.values()) if self.retriever.live else set()
            gone = [m for m in missing or [] if m in removed]
            if gone:
                text = (f"抱歉，政策库中已没有《{gone[0]}》，该政策可能已废止或调整，无法给出准确答复。"
                        f"建议您咨询{contact}，工作人员会为您进一步解答。")
            elif missing and related:
                subject = "、".join(missing[:2])
                text = (f"抱歉，政策库中没有关于“{subject}”的专门规定，无法给出准确答复。"
                        f"建议您咨询{contact}，工作人员会为您进一步解答。")
            if related:
                text += "\n\n政策库中以下文件与您的问题相关（并非对该问题的答复），可供参考：\n" + \
                    "\n".join(f"· 《{title}》" for title in related[:3])
        return Answer(text=text, citations=[], grounded=False, refusal_reason=reason)

    def plan(self, question: str, standalone: str | Query) -> tuple[AnswerContext | None, str | None]:
        """Retrieve evidence; returns the answer context, or the reason to refuse."""
        ctx, reason, _ = self._plan(standalone if isinstance(standalone, Query) else
                                    query_mod.analyse(question, standalone=standalone))
        return ctx, reason

    def _plan(self, q: Query) -> tuple[AnswerContext | None, str | None, Answer | None]:
        # -- corrected answers hook (issue 16): a staff member's answer to this question or a close
        # paraphrase (工作人员答复) is served first — also for a question the rules below would refuse,
        # which is what staff correct; all logic lives in app/curation/answers.py. None = none applies.
        if self.curated is not None and (corrected := self.curated.answer(q)) is not None:
            return None, None, corrected
        reason = guard.classify(q.question) or slots.refusal_intent(q.question)
        if reason:
            return None, reason, self.refusal(reason)
        # -- 政策计算器 hook (issue 15): "我们公司能申请哪些？" is answered from the policy items
        # matched to the company the question describes (or asks for the missing facts); all logic
        # lives in app/facts/eligibility.py. None = an ordinary question, answered below.
        if self.eligibility is not None and self._may_ask_eligibility(q) and \
                (matched := self.eligibility.answer(q)) is not None:
            return None, matched.refusal_reason, matched
        result = self.retriever.search(q)
        today = dt.date.today()
        if not result.chunks or not result.evidence.sufficient(self.settings):
            ev = result.evidence
            log.info("refused no_evidence dense=%.3f coverage=%.2f topic=%.2f missing=%s", ev.top_dense, ev.coverage,
                     ev.topic_coverage, ev.missing_topic)
            related = list(dict.fromkeys(c.meta.get("title", "") for c in result.chunks[:3]
                                         if c.dense is not None and c.dense >= self.settings.refusal_min_dense))
            return None, "no_evidence", self.refusal("no_evidence", related if ev.missing_topic else None,
                                                     ev.missing_topic)
        ctx = AnswerContext(question=q.question, standalone=q.standalone, chunks=result.chunks, today=today, query=q,
                            history=list(q.history))
        ctx.notes = self._notes(q, result.chunks, today)
        return ctx, None, None

    @staticmethod
    def _may_ask_eligibility(q: Query) -> bool:
        """"我们公司能申请哪些？" asks for a list; "一共能领几年？" or a follow-up about one policy does not."""
        # "年营收3000万的制造企业，能申请哪些补贴？" reads as ['amount', 'list']: the list is asked too.
        return not q.follow_up and (not q.slots or slots.LIST in q.slots
                                    or q.slots[0] in (slots.CONDITIONS, slots.YESNO))

    def _notes(self, q: Query, chunks, today: dt.date) -> list[str]:
        """What the answer says before the quote: an expired policy (and its successor), English."""
        notes = []
        if q.english:
            notes.append("（您的问题为英文，以下依据中文政策原文作答。The answer below is quoted from the Chinese policy text.）")
        top = chunks[0]
        if top.expired(today) and top.meta.get("expires"):
            d = dt.date.fromisoformat(top.meta["expires"])
            note = f"请注意：《{top.meta.get('title', '')}》已于{d.year}年{d.month}月{d.day}日到期失效"
            successor = self.retriever.live.successor(top.doc_id) if self.retriever.live else None
            if successor is not None:
                note += f"，现行接续政策为《{successor.title}》，请以新政策为准"
            else:
                note += "，以下为该政策原有规定，仅供了解，请向主管部门确认是否有接续政策"
            notes.append(note + "。")
        elif self.retriever.live is not None:
            # The question found the old policy too: say that it expired and that the answer comes
            # from the policy that replaced it.
            for chunk in chunks[1:3]:
                successor = self.retriever.live.successor(chunk.doc_id)
                if chunk.expired(today) and chunk.meta.get("expires") and successor and successor.doc_id == top.doc_id:
                    d = dt.date.fromisoformat(chunk.meta["expires"])
                    notes.append(f"请注意：《{chunk.meta.get('title', '')}》已于{d.year}年{d.month}月{d.day}日到期失效，"
                                 f"以下依据现行接续政策《{successor.title}》作答。")
                    break
        return notes

    def _llm_ready(self) -> bool:
        return self.answerer is not self.fallback and getattr(self.answerer, "available", lambda: True)()

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
        q = self.understand(question, conversation_id)
        standalone = q.standalone
        question_id = self.conversations.add_user_message(conversation_id, question)
        try:
            ctx, reason, refusal = self._plan(q)
            answer = refusal if ctx is None else self._generate(ctx)
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
        q = self.understand(question, conversation_id)
        standalone = q.standalone
        question_id = self.conversations.add_user_message(conversation_id, question)
        message_id = new_id()
        try:
            ctx, reason, refusal = self._plan(q)
            candidates = [c.to_dict() for c in ctx.citations()] if ctx else []
            yield StreamEvent("meta", {"conversation_id": conversation_id, "message_id": message_id,
                                       "question_id": question_id, "citations": candidates})
            if ctx is None:
                answer = refusal
                yield StreamEvent("delta", {"text": answer.text})
            else:
                answer = yield from self._stream_answer(ctx)
            result = self._store(conversation_id, question_id, standalone, answer, started, message_id)
            yield StreamEvent("done", {
                "conversation_id": conversation_id, "message_id": message_id, "answer": result.answer,
                "grounded": result.grounded, "fallback": result.fallback, "citations": result.citations,
                "curated": result.curated, "answer_id": result.answer_id,
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
                    # The model said the context does not answer (nothing cited was streamed): the
                    # fixed refusal is the answer, streamed and stored alike.
                    answer = self.refusal("model_not_found")
                    answer.text = f"{sent}\n\n{answer.text}" if sent else answer.text
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
                          citations, standalone, answer.refusal_reason, getattr(answer, "curated", False),
                          getattr(answer, "answer_id", None))

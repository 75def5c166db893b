"""ChatService: one question in, a grounded and cited answer (or an honest refusal) out.

One path for every channel: ``events`` validates, stores the question, understands it (one
``Query``), plans (corrected answer, refusal, eligibility answer, or retrieved evidence), generates
through the answer backend and stores the answer once, yielding ``Started``, ``Delta``… and
``Finished`` (or ``Failed``) on the way (app/services/chat_events.py). The streaming endpoint
forwards the events; ``answer`` (the blocking endpoint, WeChat) keeps the final result.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Callable, Generator, Iterator, NamedTuple

from app.components.conversations import ConversationStore, new_id
from app.errors import InvalidQuestion
from app.ops.metrics import ANSWERS, record_answer
from app.ops.ratelimit import Counters
from app.facts import slots
from app.services import guard
from app.services import query as query_mod
from app.services.answering import Answer, AnswerContext, Answerer
from app.services.answering.base import relay, whole
from app.services.chat_events import ChatEvent, ChatResult, Delta, Failed, Finished, Started
from app.services.query import Query
from app.services.retrieval import RetrievalResult, Retriever
from app.settings import Settings
from zhtext.validity import cn_date, issuer_sentence, validity_sentence

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


class Turn(NamedTuple):
    """A question stored and about to be answered (ChatService.begin)."""

    question: str
    conversation_id: str
    question_id: str
    history: list
    started: float  # time.perf_counter() when the turn began


class ChatService:
    def __init__(self, settings: Settings, retriever: Retriever, answerer: Answerer, conversations: ConversationStore,
                 clock: Callable[[], dt.date] = dt.date.today):
        self.settings = settings
        self.clock = clock  # the day validity is judged on (the benchmark pins it: bench.common.EVAL_DATE)
        self.retriever = retriever
        self.answerer = answerer  # an LLM backend comes wrapped in WithFallback (answering/factory.py)
        self.conversations = conversations
        self.eligibility = None  # app.facts.eligibility.Eligibility, set by Services.build (issue 15)
        self.curated = None  # app.curation.answers.CuratedAnswers, set by Services.build (issue 16)

    # -- steps ----------------------------------------------------------------------------------

    @property
    def _history_limit(self) -> int:
        return 2 * self.settings.history_turns + 2

    def validate(self, message: str) -> str:
        text = (message or "").strip()
        if not text:
            raise InvalidQuestion("请输入您要咨询的问题")
        if len(text) > self.settings.max_message_chars:
            raise InvalidQuestion(f"问题太长了，请控制在{self.settings.max_message_chars}字以内")
        return text

    def understand(self, question: str, conversation_id: str | None, history: list | None = None) -> Query:
        """The question as one query object; a follow-up takes the previous turn's topic. Homophone
        typos (申抱 for 申报) are read as the library's word."""
        keywords = self.retriever.keywords
        question = keywords.homophones().correct(question, keywords.mentions, keywords.together)
        if history is None:
            history = self.conversations.history(conversation_id, limit=self._history_limit) if conversation_id else []
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
        standalone, inherited, same_policy = query_mod.resolve_follow_up(
            question, previous, previous_title,
            about_previous=self.retriever.about_document(previous_docs[0]) if previous_docs else None)
        if self.answerer.rewrites and self.answerer.available():
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
        q.same_policy = same_policy
        q.history = turns
        return q

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
            elif missing:
                # (无人机 and 无人机企业 name one subject: the longer says it)
                named = [m for m in dict.fromkeys(missing) if not any(m != o and m in o for o in missing)]
                subject = "、".join(named[:2])
                text = (f"抱歉，政策库中没有关于“{subject}”的专门规定，无法给出准确答复。"
                        f"建议您咨询{contact}，工作人员会为您进一步解答。")
            if related:
                text += "\n\n政策库中以下文件与您的问题相关（并非对该问题的答复），可供参考：\n" + \
                    "\n".join(f"· 《{title}》" for title in related[:3])
        return Answer(text=text, citations=[], grounded=False, refusal_reason=reason)

    def plan(self, q: Query) -> tuple[AnswerContext | None, Answer | None]:
        """The evidence to answer from, or the answer already decided (corrected, refusal, eligibility)."""
        # -- corrected answers hook (issue 16): a staff member's answer to this question or a close
        # paraphrase (工作人员答复) is served first — also for a question the rules below would refuse,
        # which is what staff correct; all logic lives in app/curation/answers.py. None = none applies.
        if self.curated is not None and (corrected := self.curated.answer(q)) is not None:
            return None, corrected
        reason = guard.classify(q.question) or slots.refusal_intent(q.question)
        if reason:
            return None, self.refusal(reason)
        # -- 政策计算器 hook (issue 15): "我们公司能申请哪些？" is answered from the policy items
        # matched to the company the question describes (or asks for the missing facts); all logic
        # lives in app/facts/eligibility.py. None = an ordinary question, answered below.
        if self.eligibility is not None and self._may_ask_eligibility(q) and \
                (matched := self.eligibility.answer(q)) is not None:
            return None, matched
        today = self.clock()
        result = self.retriever.search(q, today=today)
        if not result.chunks or not result.evidence.sufficient(self.settings):
            ev = result.evidence
            log.info("refused no_evidence dense=%.3f coverage=%.2f topic=%.2f missing=%s", ev.top_dense, ev.coverage,
                     ev.topic_coverage, ev.missing_topic)
            related = list(dict.fromkeys(c.meta.get("title", "") for c in result.chunks[:3]
                                         if c.dense is not None and c.dense >= self.settings.refusal_min_dense))
            return None, self.refusal("no_evidence", related if ev.missing_topic else None, ev.missing_topic)
        ctx = AnswerContext(question=q.question, standalone=q.standalone, chunks=result.chunks, today=today, query=q,
                            history=list(q.history))
        ctx.notes = self._notes(q, result, today)
        return ctx, None

    @staticmethod
    def _may_ask_eligibility(q: Query) -> bool:
        """"我们公司能申请哪些？" asks for a list; "一共能领几年？" or a follow-up about one policy does not."""
        # "年营收3000万的制造企业，能申请哪些补贴？" reads as ['amount', 'list']: the list is asked too.
        return not q.follow_up and (not q.slots or slots.LIST in q.slots
                                    or q.slots[0] in (slots.CONDITIONS, slots.YESNO))

    def _notes(self, q: Query, result: RetrievalResult, today: dt.date) -> list[str]:
        """What the answer says before the quote: an expired policy (and its successor), English."""
        notes = []
        chunks = result.chunks
        if q.english:
            notes.append("（您的问题为英文，以下依据中文政策原文作答。The answer below is quoted from the Chinese policy text.）")
        top = chunks[0]
        served = self.retriever.live.served.get(top.doc_id) if self.retriever.live else None
        if slots.asks(slots.IN_FORCE, q.question) and served is not None:
            # 那个实施意见哪天开始执行、管到哪年: the policy's own dates, from its record
            said = validity_sentence(served.title, today, effective_from=served.effective_from,
                                     published=served.published, expires=served.expires,
                                     doc_number=top.meta.get("doc_number", ""))
            if said:
                return [*notes, said]
        if slots.asks(slots.ISSUER, q.question) and (top.meta.get("issuer") or top.meta.get("doc_number")):
            # 那个通知是哪个部门发的、文号多少: from the document's record, before what else was asked
            notes.append(issuer_sentence(top.meta.get("title", ""), top.meta.get("issuer", ""),
                                         doc_number=top.meta.get("doc_number", ""),
                                         published=served.published if served is not None else None,
                                         number_asked="文号" in q.question))
        if top.expired(today) and top.meta.get("expires"):
            note = f"请注意：《{top.meta.get('title', '')}》已于{cn_date(top.meta['expires'])}到期失效"
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
                    notes.append(f"请注意：《{chunk.meta.get('title', '')}》已于{cn_date(chunk.meta['expires'])}到期失效，"
                                 f"以下依据现行接续政策《{successor.title}》作答。")
                    break
        if (old := result.passed_over) is not None and not any("失效" in note for note in notes):
            # The programme's own policy expired; a current one also covers the subject.
            notes.append(f"请注意：《{old.meta.get('title', '')}》已于{cn_date(old.meta['expires'])}到期失效，"
                         f"以下依据现行有效的政策作答。")
        return notes

    def reply(self, q: Query, *, stream: bool = False, ids: tuple[str, str, str] = ("", "", "")
              ) -> Generator[ChatEvent, None, Answer]:
        """Plan and answer an understood question: ``Started`` (with ``ids``: conversation, message and
        question), ``Delta``…, then returns the Answer. Nothing is stored (the 命中测试 trace drains it)."""
        ctx, answer = self.plan(q)
        yield Started(*ids, citations=[c.to_dict() for c in ctx.citations()] if ctx else [])
        if ctx is None:
            yield Delta(answer.text)
            return answer
        shown: list[str] = []

        def delta(piece: str) -> Delta:
            shown.append(piece)
            return Delta(piece)

        answer = yield from relay(self.answerer.stream(ctx) if stream else whole(self.answerer.answer(ctx)), delta)
        sent = "".join(shown)
        if not answer.grounded:
            # The model said the context does not answer (nothing cited was shown): the fixed
            # refusal is the answer, streamed and stored alike.
            refusal = self.refusal("model_not_found")
            refusal.text = f"{sent}\n\n{refusal.text}" if sent else refusal.text
            answer = refusal
        if rest := answer.text[len(sent):]:
            yield Delta(rest)
        return answer

    # -- public ---------------------------------------------------------------------------------

    def begin(self, message: str, conversation_id: str | None = None, *, channel: str = "web",
              user_ref: str | None = None, counters: Counters | None = None) -> Turn:
        """Validate the question and store it, counting the rate limits in the same round trip
        (``counters``: RateLimiter.admit; RateLimited is raised and nothing stored when over a limit)."""
        question = self.validate(message)
        started = time.perf_counter()
        conversation_id, question_id, history = self.conversations.start_turn(
            conversation_id, question, channel=channel, user_ref=user_ref, history_limit=self._history_limit,
            counters=counters)
        return Turn(question, conversation_id, question_id, history, started)

    def events(self, message: str, conversation_id: str | None = None, *, channel: str = "web",
               user_ref: str | None = None, stream: bool = True, counters: Counters | None = None,
               turn: Turn | None = None) -> Iterator[ChatEvent]:
        """One chat turn as events: ``Started``, ``Delta``…, then ``Finished`` (stored exactly once) or
        ``Failed``. ``stream=False`` asks the backend for the whole answer at once (one Delta). ``turn``:
        a question already stored by ``begin`` (the streaming endpoint stores it before the stream)."""
        turn = turn or self.begin(message, conversation_id, channel=channel, user_ref=user_ref, counters=counters)
        conversation_id, question_id = turn.conversation_id, turn.question_id
        q = self.understand(turn.question, conversation_id, turn.history)
        message_id = new_id()
        try:
            answer = yield from self.reply(q, stream=stream, ids=(conversation_id, message_id, question_id))
            yield Finished(self._store(conversation_id, question_id, q.standalone, answer, turn.started, message_id))
        except Exception as exc:  # noqa: BLE001 - a turn ends with Failed, never silently
            if stream:  # a blocking caller gets the exception raised, and its handler logs it
                log.exception("chat stream failed conversation=%s", conversation_id)
            self.conversations.mark_failed(question_id)
            ANSWERS.labels("failed").inc()
            yield Failed(conversation_id, question_id, exc)

    def answer(self, message: str, conversation_id: str | None = None, *, channel: str = "web",
               user_ref: str | None = None, counters: Counters | None = None) -> ChatResult:
        """The same turn, blocking: the final result (a failure is raised after it is recorded)."""
        for event in self.events(message, conversation_id, channel=channel, user_ref=user_ref, stream=False,
                                 counters=counters):
            if isinstance(event, Finished):
                return event.result
            if isinstance(event, Failed):
                raise event.error
        raise RuntimeError("chat turn ended without a result")

    def _store(self, conversation_id: str, question_id: str, standalone: str, answer: Answer, started: float,
               message_id: str) -> ChatResult:
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

"""Corrected answers (标注回复): staff write the right answer once; it is served first for that
question and its close paraphrases, marked 工作人员答复（日期） with its sources.

Matching: the question's vector (the service's query embedder, so the retriever's own lookup of the
same text hits the embedder's cache) against every active corrected answer's question vector, kept
in memory as one matrix. A candidate above ``curated_match_threshold`` (measured by
``python -m bench.curation`` on labelled pairs) must also ask the same thing: the same level
(省级/市级), year, place and kind of fact (amount, materials, deadline…), because a paraphrase
detector that only reads similarity confuses 省级 with 市级 and 条件 with 好处.

Validity: each source records the content hash of the document version it was written against.
When the registry serves another version of a cited document (replaced, rolled back), deletes it,
or the policy has expired, the answer stops being served and goes back to the review list (待审核).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from app.admin.audit import AuditLog
from app.admin.auth import Principal
from app.components.registry import CounterRow, LiveSet
from app.curation.models import (ANSWER_ACTIVE, ANSWER_DISABLED, ANSWER_REVIEW, CuratedAnswerRow, aware, now)
from app.errors import InvalidAdminRequest, RecordNotFound
from app.services.answering import Answer, Citation
from app.services.query import Query, analyse
from zhtext.chunk_ids import chunk_prefix
from zhtext.validity import in_force

log = logging.getLogger(__name__)

CST = dt.timezone(dt.timedelta(hours=8))
COUNTER = "curated_answers"
MARK = "工作人员答复"
MAX_SOURCES = 8
RECHECK_SECONDS = 1.0  # how stale the question path's view of the corrected answers may be
# Slots that say how a question is phrased more than what it asks for.
_WEAK_SLOTS = frozenset({"definition", "list", "yesno"})
# The home city is implied; 新建 ("newly built") is tagged as a place name (a county) by jieba.
_HOME = frozenset({"昆山", "昆山市", "本市", "我市", "新建"})


@dataclass
class CuratedReply(Answer):
    """An Answer served from a corrected answer: the response carries curated=true and its id."""

    curated: bool = True
    answer_id: str = ""


@dataclass
class Features:
    """What a question asks, beyond its wording: compared before a paraphrase is accepted."""

    levels: frozenset[str]
    years: frozenset[int]
    slots: frozenset[str]
    places: frozenset[str] | None = None  # computed lazily (part-of-speech tagging costs ~1 ms)
    text: str = ""

    @classmethod
    def of(cls, q: Query) -> "Features":
        asked = set(q.slots)
        main = asked - _WEAK_SLOTS or asked
        return cls(frozenset(q.levels), frozenset(q.years), frozenset(main), None, q.standalone)

    def place_set(self) -> frozenset[str]:
        if self.places is None:
            from app.services.query import place_names

            self.places = frozenset(p for p in place_names(self.text) if p not in _HOME)
        return self.places


def same_question(stored: Features, asked: Features) -> tuple[bool, str]:
    """Whether two similar questions ask the same thing; the reason when they do not."""
    if stored.levels != asked.levels:
        return False, "级别不同"
    if stored.years != asked.years:
        return False, "年份不同"
    if stored.slots and asked.slots and stored.slots != asked.slots:
        return False, "所问事项不同"
    if stored.place_set() != asked.place_set():
        return False, "地区不同"
    return True, ""


@dataclass
class Match:
    row: CuratedAnswerRow
    similarity: float
    exact: bool = False


@dataclass
class Candidate:
    answer_id: str
    question: str
    similarity: float
    accepted: bool
    reason: str = ""


@dataclass
class _Snapshot:
    key: tuple
    ids: list[str] = field(default_factory=list)
    rows: dict[str, CuratedAnswerRow] = field(default_factory=dict)
    matrix: np.ndarray | None = None
    features: list[Features] = field(default_factory=list)
    exact: dict[str, str] = field(default_factory=dict)  # normalised question -> id


_PUNCT = re.compile(r"[\s？?。！!，,、；;：:“”\"'（）()]")


def _normal(question: str) -> str:
    """A normalised question (Query.question) without spaces and punctuation."""
    return _PUNCT.sub("", question)


def _unit(vector) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float32).ravel()
    n = float(np.linalg.norm(v))
    return v / n if n else v


class CuratedAnswers:
    """The store (create, edit, disable, delete; audited) and the matcher served before retrieval."""

    def __init__(self, settings, sessions: sessionmaker, embedder, live: LiveSet, store, audit: AuditLog):
        self.settings = settings
        self._sessions = sessions
        self.embedder = embedder
        self.live = live
        self.store = store  # the vector store: a source's passage is read from it when the answer is written
        self.audit = audit
        self._lock = threading.Lock()
        self._snapshot = _Snapshot(key=())
        self._checked = 0.0
        self.dry_run = threading.local()  # set by 命中测试: a trace counts no hit

    @property
    def threshold(self) -> float:
        return self.settings.curated_match_threshold

    # -- reading ----------------------------------------------------------------------------------

    def list(self, status: str | None = None) -> list[CuratedAnswerRow]:
        self.refresh()
        with self._sessions() as session:
            query = select(CuratedAnswerRow).order_by(CuratedAnswerRow.updated_at.desc())
            if status:
                query = query.where(CuratedAnswerRow.status == status)
            return list(session.scalars(query))

    def get(self, answer_id: str) -> CuratedAnswerRow:
        with self._sessions() as session:
            row = session.get(CuratedAnswerRow, answer_id)
        if row is None:
            raise RecordNotFound("未找到该标注回复")
        return row

    # -- writing ----------------------------------------------------------------------------------

    def create(self, question: str, answer: str, sources: list[dict[str, Any]], principal: Principal,
               origin: str | None = None) -> CuratedAnswerRow:
        question, answer = self._texts(question, answer)
        resolved = self._resolve(sources)
        row = CuratedAnswerRow(id=uuid.uuid4().hex, question=question, answer=answer, sources=resolved,
                               embedding=self._embed(question), status=ANSWER_ACTIVE, origin=origin,
                               created_by=principal.name, updated_by=principal.name)
        with self._sessions.begin() as session:
            session.add(row)
            self._bump(session)
        self.audit.record(principal.name, principal.role, "answer_create",
                          detail={"answer_id": row.id, "question": question,
                                  "sources": [f"{s['doc_id']} {s['article']}".strip() for s in resolved]})
        return row

    def update(self, answer_id: str, changes: dict[str, Any], principal: Principal) -> CuratedAnswerRow:
        with self._sessions.begin() as session:
            row = session.get(CuratedAnswerRow, answer_id, with_for_update=True)
            if row is None:
                raise RecordNotFound("未找到该标注回复")
            if "question" in changes or "answer" in changes:
                question, answer = self._texts(changes.get("question", row.question), changes.get("answer", row.answer))
                if question != row.question:
                    row.embedding = self._embed(question)
                row.question, row.answer = question, answer
            if "sources" in changes:
                row.sources = self._resolve(changes["sources"])
            if "status" in changes:
                if changes["status"] not in (ANSWER_ACTIVE, ANSWER_DISABLED):
                    raise InvalidAdminRequest("状态只能设为 active（启用）或 disabled（停用）")
                row.status = changes["status"]
            if row.status == ANSWER_ACTIVE:
                problem = self._problem(row.sources)
                if problem and "sources" not in changes and changes.get("status") != ANSWER_ACTIVE:
                    row.status, row.review_reason = ANSWER_REVIEW, problem
                elif problem:
                    raise InvalidAdminRequest(f"无法启用：{problem}，请更新依据后再启用")
                else:
                    row.review_reason = ""
            row.updated_by, row.updated_at = principal.name, now()
            self._bump(session)
            session.flush()
            session.expunge(row)
        self.audit.record(principal.name, principal.role, "answer_update",
                          detail={"answer_id": answer_id, "fields": sorted(changes)})
        return row

    def delete(self, answer_id: str, principal: Principal) -> None:
        with self._sessions.begin() as session:
            row = session.get(CuratedAnswerRow, answer_id)
            if row is None:
                raise RecordNotFound("未找到该标注回复")
            question = row.question
            session.delete(row)
            self._bump(session)
        self.audit.record(principal.name, principal.role, "answer_delete",
                          detail={"answer_id": answer_id, "question": question})

    @staticmethod
    def _texts(question: str, answer: str) -> tuple[str, str]:
        question, answer = (question or "").strip(), (answer or "").strip()
        if not question or not answer:
            raise InvalidAdminRequest("请填写问题和标注答复")
        if len(question) > 500 or len(answer) > 5000:
            raise InvalidAdminRequest("问题最长 500 字，答复最长 5000 字")
        return question, answer

    def _embed(self, question: str) -> list[float]:
        return [float(x) for x in _unit(self.embedder.embed_query(analyse(question).standalone))]

    def _resolve(self, sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each source as it is served now: the version's hash, title, 文号 and the article's passage."""
        if not sources:
            raise InvalidAdminRequest("请至少填写一个依据文件")
        if len(sources) > MAX_SOURCES:
            raise InvalidAdminRequest(f"依据最多 {MAX_SOURCES} 个")
        served = self.live.current(force=True)
        out = []
        for source in sources:
            doc_id = str(source.get("doc_id") or "").strip()
            article = str(source.get("article") or "").strip()
            version = served.get(doc_id)
            if version is None:
                raise InvalidAdminRequest(f"依据文件 {doc_id or '（未填写）'} 不存在或当前不在用")
            prefix = chunk_prefix(doc_id, version.content_hash)
            hits = sorted((h for h in self.store.get(self.store.ids_where({"doc_id": doc_id}))
                           if h.id.startswith(prefix)), key=lambda h: h.id)
            chosen = hits[0] if hits else None
            if article:
                compact = article.replace(" ", "")
                chosen = next((h for h in hits if compact in (h.metadata.get("article", "") + h.metadata.get(
                    "heading_path", "")).replace(" ", "")), None) or next(
                    (h for h in hits if compact in h.text.replace(" ", "")[:80]), None)
                if chosen is None:
                    raise InvalidAdminRequest(f"《{version.title}》中未找到条款「{article}」，请填写文件中的条款名称（如 第三条）")
            meta = chosen.metadata if chosen else {}
            out.append({"doc_id": doc_id, "article": article, "content_hash": version.content_hash,
                        "title": version.title, "doc_number": meta.get("doc_number") or None,
                        "url": meta.get("url") or None, "source": meta.get("source", ""),
                        "expires": version.expires.isoformat() if version.expires else None,
                        "sample": bool(meta.get("sample")), "snippet": (chosen.text[:300] if chosen else ""),
                        "chunk_id": chosen.id if chosen else "", "heading_path": meta.get("heading_path", "")})
        return out

    def _bump(self, session) -> None:
        """A change to the corrected answers: every worker rebuilds its snapshot (this one at once)."""
        self._checked = 0.0
        row = session.get(CounterRow, COUNTER, with_for_update=True)
        if row is None:
            session.add(CounterRow(name=COUNTER, value=1))
        else:
            row.value += 1

    # -- validity ---------------------------------------------------------------------------------

    def _problem(self, sources: list[dict[str, Any]], today: dt.date | None = None) -> str:
        """Why an answer may no longer be served ('' = it may)."""
        today = today or dt.date.today()
        served = self.live.current()
        removed = self.live.removed
        for source in sources:
            version = served.get(source["doc_id"])
            title = source.get("title") or source["doc_id"]
            if version is None:
                return f"依据《{title}》已删除" if source["doc_id"] in removed else f"依据《{title}》已不在用"
            if version.content_hash != source.get("content_hash"):
                return f"依据《{title}》已替换为新版本"
            if not in_force(version.expires, today):
                return f"依据《{title}》已于{version.expires.isoformat()}失效"
        return ""

    def refresh(self, today: dt.date | None = None) -> int:
        """Send active answers whose sources changed back to review; returns how many."""
        with self._sessions() as session:
            active = list(session.scalars(select(CuratedAnswerRow).where(CuratedAnswerRow.status == ANSWER_ACTIVE)))
        stale = {row.id: p for row in active if (p := self._problem(row.sources, today))}
        if stale:
            with self._sessions.begin() as session:
                for answer_id, problem in stale.items():
                    row = session.get(CuratedAnswerRow, answer_id)
                    if row is not None and row.status == ANSWER_ACTIVE:
                        row.status, row.review_reason, row.updated_at = ANSWER_REVIEW, problem, now()
                        log.info("curated answer back to review id=%s: %s", answer_id, problem)
                self._bump(session)
        return len(stale)

    # -- matching ---------------------------------------------------------------------------------

    def _revision(self) -> int:
        with self._sessions() as session:
            row = session.get(CounterRow, COUNTER)
            return row.value if row else 0

    def snapshot(self, *, fresh: bool = False) -> _Snapshot:
        """The active answers as one matrix. The corrected-answer revision and the index generation
        (two SQL reads) are checked at most every RECHECK_SECONDS on the question path; a match is
        always confirmed against a fresh snapshot before it is served (``answer``)."""
        clock = time.monotonic()
        if not fresh and self._snapshot.key and clock - self._checked < RECHECK_SECONDS \
                and self._snapshot.key[2] == dt.date.today():
            return self._snapshot
        self.live.current()
        key = (self._revision(), self.live.generation, dt.date.today())
        self._checked = clock
        if self._snapshot.key == key:
            return self._snapshot
        with self._lock:
            if self._snapshot.key == key:
                return self._snapshot
            if self._snapshot.key[1:] != key[1:] and self.refresh(key[2]):
                key = (self._revision(),) + key[1:]
            with self._sessions() as session:
                rows = list(session.scalars(select(CuratedAnswerRow).where(CuratedAnswerRow.status == ANSWER_ACTIVE)
                                            .order_by(CuratedAnswerRow.updated_at.desc())))
            snap = _Snapshot(key=key)
            vectors = []
            for row in rows:
                if not row.embedding:
                    continue
                snap.ids.append(row.id)
                snap.rows[row.id] = row
                vectors.append(row.embedding)
                snap.features.append(Features.of(analyse(row.question)))
                snap.exact.setdefault(_normal(analyse(row.question).question), row.id)
            snap.matrix = np.asarray(vectors, dtype=np.float32) if vectors else None
            self._snapshot = snap
            return snap

    def candidates(self, q: Query, limit: int = 5, *, fresh: bool = True) -> tuple[Match | None, list[Candidate]]:
        """The winning corrected answer for a question (or None) and the closest ones considered."""
        snap = self.snapshot(fresh=fresh)
        if snap.matrix is None:
            return None, []
        exact_id = snap.exact.get(_normal(q.question))
        if exact_id is not None and not q.follow_up:
            row = snap.rows[exact_id]
            return Match(row, 1.0, exact=True), [Candidate(row.id, row.question, 1.0, True, "与标注问题相同")]
        vector = _unit(self.embedder.embed_query(q.standalone))
        sims = snap.matrix @ vector
        order = np.argsort(-sims)[:limit]
        asked = Features.of(q)
        winner, considered = None, []
        for i in order:
            row, sim = snap.rows[snap.ids[i]], float(sims[i])
            if sim < self.threshold:
                considered.append(Candidate(row.id, row.question, sim, False, f"相似度低于阈值 {self.threshold:.3f}"))
                continue
            same, why = same_question(snap.features[i], asked)
            won = same and winner is None
            if won:
                winner = Match(row, sim)
            considered.append(Candidate(row.id, row.question, sim, won, why or ("" if won else "相似度不及更优者")))
        return winner, considered

    def match(self, q: Query) -> Match | None:
        """The corrected answer to serve: found on the recent snapshot, confirmed on a fresh one (an
        answer disabled, deleted or whose source changed a moment ago is never served)."""
        found = self.candidates(q, limit=3, fresh=False)[0]
        return self.candidates(q, limit=3, fresh=True)[0] if found is not None else None

    def reply(self, match: Match, today: dt.date | None = None) -> CuratedReply:
        """The answer as served: the mark with the date, the staff text, then its sources."""
        today = today or dt.date.today()
        row = match.row
        day = aware(row.updated_at).astimezone(CST).date().isoformat()
        citations = []
        for n, s in enumerate(row.sources, start=1):
            expired = not in_force(s.get("expires"), today)
            citations.append(Citation(n=n, doc_id=s["doc_id"], title=s.get("title", ""),
                                      doc_number=s.get("doc_number"), article=s.get("article", ""),
                                      source=s.get("source", ""), url=s.get("url"), snippet=s.get("snippet", ""),
                                      expires=s.get("expires"), expired=expired, sample=bool(s.get("sample")),
                                      chunk_id=s.get("chunk_id", ""), heading_path=s.get("heading_path", "")))
        # The marks follow the staff text; each channel lists its sources (widget cards, WeChat source
        # lines with links); the 依据 line names the articles, which those lists do not.
        marks = "".join(f"[{c.n}]" for c in citations)
        refs = "；".join(c.reference() for c in citations)
        text = f"{MARK}（{day}）：\n\n{row.answer}{marks}\n\n依据：{refs}"
        return CuratedReply(text=text, citations=citations, grounded=True, answer_id=row.id)

    def answer(self, q: Query) -> CuratedReply | None:
        """The ChatService hook: the corrected answer for this question, or None (answered as usual)."""
        match = self.match(q)
        if match is None:
            return None
        try:
            if getattr(self.dry_run, "active", False):
                return self.reply(match)
            with self._sessions.begin() as session:
                row = session.get(CuratedAnswerRow, match.row.id)
                if row is not None:
                    row.hits = (row.hits or 0) + 1
        except Exception as exc:  # noqa: BLE001 - a hit count never fails an answer
            log.warning("curated hit count failed: %s", type(exc).__name__)
        log.info("answered from corrected answer id=%s similarity=%.3f", match.row.id, match.similarity)
        return self.reply(match)

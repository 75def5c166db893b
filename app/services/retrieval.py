"""Hybrid retrieval: dense search in Chroma plus BM25 over jieba tokens, fused by weighted RRF.

Expired policies are kept out unless nothing current has real evidence or the question
asks for them. The evidence measures (best cosine similarity, IDF-weighted share of the
question's terms found in the top chunks) decide whether the corpus can answer at all.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from app.components.embeddings import Embedder
from app.components.keyword_index import KeywordIndex
from app.components.registry import LiveSet
from app.components.vector_store import ChromaStore, Hit
from app.facts import slots as sl
from app.facts import vocab
from app.services.query import GENERIC, PHRASING, Query, analyse, has_subject, surely_place, tagged, title_subject
from app.settings import Settings
from zhtext.chunk_ids import chunk_id, split_chunk_id
from zhtext.clauses import CLAUSE_MARK, is_article, names_benefit, without_mark
from zhtext.docnumbers import find_doc_number_anywhere
from zhtext.sentences import split_sentences as zh_sentences
from zhtext.tokens import HOME_PLACES, dictionary_tag, tokenize
from zhtext.validity import in_force

log = logging.getLogger(__name__)

_ASKS_FOR_OLD = re.compile(
    r"过期|失效|到期|废止|已停止|以前|之前的|原来|旧的?政策|老政策|历史|往年|还能申报|还有效|是否有效|"
    r"201\d年|202[0-2]年")


_QUOTED_TITLE = re.compile(r"《([^》]{4,80})》")
_QUOTED_NAME = re.compile(r"[“「]([\u4e00-\u9fff]{3,12})[”」]")
# 听说昆山有青年人才驿站…: a scheme the user heard of, named up to its kind
_HEARD_OF = re.compile(r"听说[^，,。？?]{0,8}?有(?:个|一个|种)?((?!的)(?:(?!对|给|这|那)[\u4e00-\u9fff]){2,12}?(?:驿站|计划|工程|专项|基金|平台|补贴|补助|奖励))")
_TITLE_NOTE = re.compile(r"[（(](?:示例|试行|要点|解读|公开资料)[^）)]*[）)]$")


def _bare_name(name: str) -> str:
    """A programme's name without its level or place (江苏省5G全连接工厂 → 5G全连接工厂)."""
    return re.sub(r"^(?:江苏省|苏州市|昆山市|苏州|昆山|江苏)", "", sl.strip_levels(name))


def _bare_title(title: str) -> str:
    """A title without its trailing note such as （示例整理）."""
    return _TITLE_NOTE.sub("", title.strip())


SLOT_CACHE_SIZE = 50_000  # chunks whose slots are kept (a key and a small set each)


@dataclass
class RetrievedChunk:
    id: str
    text: str
    meta: dict[str, Any]
    fused: float = 0.0
    dense: float | None = None
    keyword: float | None = None
    rerank: float | None = None

    @property
    def doc_id(self) -> str:
        return self.meta.get("doc_id", "")

    def expired(self, today: dt.date) -> bool:
        return not in_force(self.meta.get("expires"), today)

    @cached_property
    def sections(self) -> list[str]:
        """The headings this passage sits under, below the document's own title."""
        parts = [p.strip() for p in self.meta.get("heading_path", "").split(">") if p.strip()]
        if parts and not CLAUSE_MARK.match(parts[0]) and (self.meta.get("title", "").startswith(parts[0]) or len(parts) > 1):
            parts = parts[1:]  # the document's title (一、… would be its first section)
        return parts

    @cached_property
    def years(self) -> set[int]:
        """The years a passage is about: named in its title, headings or text, its 文号 (〔2021〕)
        or its publication date ("2021年的智改数转措施" is the one issued in 2021)."""
        years = sl.years(f"{self.meta.get('title', '')} {self.meta.get('heading_path', '')} {self.text}")
        years |= {int(y) for y in re.findall(r"〔(20\d{2})〕", str(self.meta.get("doc_number") or ""))}
        published = str(self.meta.get("published") or "")
        if re.match(r"20\d{2}-", published):
            years.add(int(published[:4]))
        return years

    @property
    def opens_document(self) -> bool:
        """The document's opening passage (before its first section): what it is, and often
        "…主要内容整理如下"."""
        return not self.sections and split_chunk_id(self.id)[1] is not None

_EDITOR_NOTE = re.compile(r"(?:^|\n)\s*>?\s*(?:说明|备注|附注)[:：]")  # the editor's note that ends a sample text


def states_itself(text: str, slot: str) -> bool:
    """Some sentence of the passage's own text (not the editor's note after it) states the slot."""
    return any(slot in sl.sentence_slots(s) for s in zh_sentences(_EDITOR_NOTE.split(text)[0]))


RARE_DOCS = 3  # a word at most this many documents use names a programme
# Who in the company (我们CTO想报…): an acronym that names a person, not a scheme
_ROLES = frozenset("CEO CTO CFO COO HR IT".split())
_POINTING = re.compile(r"^(?:这个|这种|这项|这类|此|这)$")
_APPLYING = re.compile(r"^(?:申请|审批|手续|报批)$")
# 买首套房申请人才购房补贴: 申请 is the verb of what follows, not an application for a 套房
_OBJECT_FOLLOWS = re.compile(r"[^\W\d_a-zA-Z]{0,6}(?:补贴|奖励|资助|补助|奖补|认定|许可|登记|备案)")
_KIND_HEAD = re.compile(r"^(?:用地|审查|评审)$")  # kinds whose instances the library names one by one
_OWNERS = frozenset("项目 企业 公司 单位 工厂 厂区 厂里 园区 集团 我们".split())  # whose land (项目用地), not which kind


@dataclass
class Evidence:
    top_dense: float
    coverage: float
    missing_terms: list[str] = field(default_factory=list)
    missing_places: list[str] = field(default_factory=list)
    # Content words of the question (a programme, an industry, a place) no top passage contains.
    missing_topic: list[str] = field(default_factory=list)
    topic_coverage: float = 1.0
    named: bool = False  # the question quotes the document's 文号 or 《title》 and it was found
    english: bool = False

    def sufficient(self, settings: Settings) -> bool:
        """Real evidence: close enough, the question's terms found, no place the corpus never names."""
        least = settings.refusal_min_dense - (settings.refusal_english_margin if self.english else 0.0)
        return ((self.named or self.top_dense >= least)
                and self.coverage >= settings.refusal_min_coverage
                and not self.missing_places and not self.missing_topic)


@dataclass
class RetrievalResult:
    chunks: list[RetrievedChunk]
    evidence: Evidence
    used_expired: bool = False
    # An expired policy about the question's own subject that ranked among the best but was left
    # out for the current ones: the answer says it has expired.
    passed_over: RetrievedChunk | None = None


@dataclass(eq=False)
class Retriever:
    settings: Settings
    embedder: Embedder
    store: ChromaStore
    keywords: KeywordIndex
    reranker: Any = None
    live: LiveSet | None = None
    _cache: OrderedDict[tuple, RetrievalResult] = field(default_factory=OrderedDict, init=False, repr=False)
    _slots: dict[tuple[str, int], frozenset[str]] = field(default_factory=dict, init=False, repr=False)

    def _served(self, hits: list) -> list:
        """Only the activated version of a live document is served: a version still being indexed
        (or left half-written by a crash) and a deleted document's leftovers are not."""
        if self.live is None:
            return [hit for hit in hits if self.keywords.contains(hit.id)]
        served = self.live.current() if self.live.generation < 0 else self.live.served
        if any(h.metadata.get("doc_id") in served and not self.live.serves(h.metadata) for h in hits):
            # A document was switched to a new version after the set was read: read it again, so
            # this answer sees the new version rather than neither.
            self.live.current(force=True)
        return [hit for hit in hits if self.live.serves(hit.metadata)]

    def _dense(self, vector, k: int) -> list[Hit]:
        """Chroma's ``k`` nearest chunks, best first. Their text and metadata come from the keyword index,
        which holds every served chunk: a chunk id names one version of one document (doc_id + content
        hash, metadata included), so they are the ones Chroma stores, and reading them from Chroma
        was most of its query's cost. Chunks the index does not hold (yet) are read from Chroma."""
        nearest = self.store.nearest(vector, k)
        entries = {chunk_id: self.keywords.entry(chunk_id) for chunk_id, _score in nearest}
        missing = [chunk_id for chunk_id, entry in entries.items() if entry is None]
        stored = {hit.id: (hit.metadata, hit.text) for hit in self.store.get(missing)} if missing else {}
        hits = []
        for chunk_id, score in nearest:
            meta, text = entries[chunk_id] or stored.get(chunk_id, (None, None))
            if meta is not None:
                hits.append(Hit(chunk_id, text, dict(meta), score))
        return hits

    def candidates(self, query: str | Query) -> list[RetrievedChunk]:
        """All fused candidates, best first (expired ones included)."""
        s = self.settings
        q = query if isinstance(query, Query) else analyse(query)
        by_id: dict[str, RetrievedChunk] = {}
        self.keywords.refresh()
        if q.vector is None:
            q.vector = self.embedder.embed_query(q.standalone)
        dense_hits = self._dense(q.vector, s.retrieval_dense_k) if s.retrieval_dense_weight > 0 else []
        dense_hits = self._served(dense_hits)
        for rank, hit in enumerate(dense_hits):
            chunk = by_id.setdefault(hit.id, RetrievedChunk(hit.id, hit.text, hit.metadata))
            chunk.dense = hit.score
            chunk.fused += s.retrieval_dense_weight / (s.retrieval_rrf_k + rank + 1)
        if s.retrieval_keyword_k > 0 and s.retrieval_keyword_weight > 0:
            # the policy's words for the user's (搬去 → 迁出, 跳槽 → 离开) are searched for too
            expanded = q.tokens + [w for t in dict.fromkeys(q.tokens) for w in vocab.synonyms(t) if w not in q.tokens]
            expanded += [w for w in vocab.phrase_synonyms(q.standalone) if w not in expanded]
            for rank, hit in enumerate(self.keywords.search(expanded, k=s.retrieval_keyword_k)):
                chunk = by_id.get(hit.id)
                if chunk is None:
                    entry = self.keywords.entry(hit.id)
                    if entry is None or (self.live is not None and not self.live.serves(entry[0])):
                        continue
                    chunk = by_id[hit.id] = RetrievedChunk(hit.id, entry[1], entry[0])
                chunk.keyword = hit.score
                chunk.fused += s.retrieval_keyword_weight / (s.retrieval_rrf_k + rank + 1)
        if s.retrieval_doc_weight > 0:
            # Several matching clauses of one policy are evidence that the policy is the one
            # asked about: each chunk gains a share of its document's other best scores.
            per_doc: dict[str, list[float]] = {}
            for chunk in by_id.values():
                per_doc.setdefault(chunk.doc_id, []).append(chunk.fused)
            for scores in per_doc.values():
                scores.sort(reverse=True)
            for chunk in by_id.values():
                others = [x for x in per_doc[chunk.doc_id] if x is not chunk.fused][:2]
                chunk.fused += s.retrieval_doc_weight * sum(others)
        self._prefer_named(q, by_id.values())
        ranked = sorted(by_id.values(), key=lambda c: c.fused, reverse=True)
        if self.reranker is not None and ranked:
            head = ranked[:20]
            scores = self.reranker.predict([(query, c.text) for c in head])
            for c, score in zip(head, scores):
                c.rerank = float(score)
            ranked = sorted(head, key=lambda c: c.rerank, reverse=True) + ranked[20:]
        return ranked

    def about_document(self, doc_id: str):
        """A test of a follow-up's own words against the policy the last answer quoted: "other" when
        the question names another policy by its title (苏州那个青年人才生活补贴 after a 人才购房 answer) or
        asks a benefit by a word only another policy uses (一次性扩岗补助 after a 科技型中小企业 answer),
        or two rare words name one other policy and not that one (超算中心、数据中心 after an 一区两中心
        answer; one alone may be said in passing: 被通报过), "same" when that policy uses some of them
        (那安全环保记录有啥要求 after a 技改 answer), else None."""
        def test(words: list[str], question: str = "") -> str | None:
            titled = self._titled(question) if question else set()
            if titled and doc_id not in titled:
                return "other"
            for phrase in vocab.benefit_subjects(question) if question else []:
                # 人社那边的一次性扩岗补助能不能拿: the benefit asked for is named by a word one other policy alone uses
                if any(len(t) >= 2 and len(docs := self.keywords.documents_with(t)) == 1 and doc_id not in docs
                       for t in tokenize(phrase)):
                    return "other"
            words = [w for w in dict.fromkeys(words) if len(w) >= 2]
            found = [self.keywords.documents_with(w.lower()) for w in words]
            elsewhere = Counter(d for docs in found if 0 < len(docs) <= RARE_DOCS and doc_id not in docs for d in docs)
            if elsewhere and elsewhere.most_common(1)[0][1] >= 2:
                return "other"
            return "same" if any(doc_id in docs for docs in found) else None
        return test

    def _titled(self, question: str, run: int = 6) -> set[str]:
        """The documents whose title's subject (青年人才生活补贴申领 of 《苏州市青年人才生活补贴申领指南》)
        the question quotes ``run`` characters of in a row."""
        out = set()
        for doc, title in self.keywords.titles().items():
            subject = title_subject(title)
            if any(subject[i:i + run] in question for i in range(len(subject) - run + 1)):
                out.add(doc)
        return out

    def _naming_documents(self, q: Query, rare: int = RARE_DOCS, least: int = 1) -> set[str]:
        """The policies that every rare word of the question (used by at most ``rare`` policies:
        小巨人, 分期供地, 2倍系数's 系数; at least ``least`` of them) appears in: the programme the
        question names."""
        named_in = [docs for w in dict.fromkeys(q.topic) if len(w) >= 2
                    and 0 < len(docs := self.keywords.documents_with(w)) <= rare]
        if len(named_in) < max(least, 1):
            return set()
        if common := set.intersection(*named_in):
            return common
        # (台资…增资扩产奖励…条款有疑问找谁解释: three rare words name one policy; 条款 and 疑问 are
        # asides other policies happen to use) — one policy with at least two of them and more than
        # twice as many as any other
        counts = Counter(doc for docs in named_in for doc in docs)
        (best, most), *rest = counts.most_common() or [(None, 0)]
        runner_up = rest[0][1] if rest else 0
        return {best} if most >= 2 and most > 2 * runner_up else set()

    def _prefer_named(self, q: Query, chunks) -> None:
        """What the user named (a level, a year, the previous answer's policy, 最新) outranks
        general similarity: 省级 wants the 省级 figure, not a district rule with other numbers."""
        s = self.settings
        chunks = list(chunks)
        # A rare word of the question that only a few policies use (小巨人, 瞪羚, 分期供地) names the
        # programme asked about: a policy that never says it is about something else.
        # (or, for a follow-up in its own words about the last answer's policy, that policy)
        kept = set(q.previous_docs[:1]) if q.same_policy else set()
        naming = self._naming_documents(q) or kept
        # The answer step keeps to a policy only when two words hardly any other policy uses name
        # it (台资, 增资扩产: one policy; 博士 and 专窗 are also said by the 人才专窗 guide; 改名 alone
        # is one word of the user's), or for such a follow-up.
        named = self._naming_documents(q, rare=2, least=2) or kept
        q.naming_docs = named if any(c.doc_id in named for c in chunks) else set()
        if naming and any(c.doc_id in naming for c in chunks):
            # (two rare words no one policy shares — 亩均评价 and 技改补贴 — name no single programme)
            for chunk in chunks:
                if chunk.doc_id not in naming:
                    chunk.fused *= 1 - s.retrieval_entity_boost
        aside = q.set_aside
        for chunk in chunks:
            text = f"{chunk.meta.get('heading_path', '')} {chunk.text}"
            factor = 1.0
            if aside and any(w in f"{chunk.meta.get('title', '')} {chunk.meta.get('heading_path', '')}".lower()
                             for w in aside):
                factor *= 1 - s.retrieval_entity_boost  # 别跟姑苏领军的安家补贴搞混: not that policy
            if q.levels:
                named = sl.levels(text)
                if named & q.levels:
                    factor *= 1 + s.retrieval_entity_boost
                elif named:
                    factor *= 1 - s.retrieval_entity_boost / 2
            if q.years and q.years & chunk.years:
                factor *= 1 + s.retrieval_entity_boost / 2
            elif q.years and chunk.years and min(q.years) < min(chunk.years):
                # "2021年那个政策": a passage about 2024 onwards is not the one from 2021.
                factor *= 1 - s.retrieval_entity_boost / 2
            if q.previous_docs and chunk.doc_id == q.previous_docs[0]:
                factor *= 1 + s.retrieval_followup_boost * (1.0 if q.follow_up else 0.5)
            if q.slots and q.slots[0] in sl.SLOTS and q.slots[0] in self._sentence_slots(chunk):
                factor *= 1 + s.retrieval_slot_boost
            if q.latest and self.live is not None and self.live.successor(chunk.doc_id):
                factor *= 0.5
            chunk.fused *= factor

    def _sentence_slots(self, chunk: RetrievedChunk) -> frozenset[str]:
        """``sentence_slots`` of a chunk's text, kept per chunk id and text: ten regexes over the whole
        text for each of the ~40 candidates of every question were ~1.5 ms of Python per answer."""
        key = (chunk.id, hash(chunk.text))
        slots = self._slots.get(key)
        if slots is None:
            if len(self._slots) >= SLOT_CACHE_SIZE:
                self._slots.clear()
            slots = self._slots[key] = frozenset(sl.sentence_slots(chunk.text))
        return slots

    def _topic_weight(self, q: Query, chunks: list[RetrievedChunk]) -> float:
        """IDF weight of the question's content words that the chunks' titles and headings name."""
        heads = " ".join(f"{c.meta.get('title', '')} {c.meta.get('heading_path', '')}" for c in chunks).lower()
        return sum(max(self.keywords.idf(w), 0.5) for w in dict.fromkeys(q.topic) if len(w) >= 2 and w in heads)

    def _about_removed(self, q: Query, top: list[RetrievedChunk]) -> str | None:
        """A question about a policy staff deleted is not answered from other documents: its title
        names the question's subject better than any passage found."""
        if self.live is None or not self.live.removed:
            return None
        words = [w for w in dict.fromkeys(q.topic) if len(w) >= 2]
        if not words:
            return None
        best = max(sum(1 for w in words if w in f"{c.meta.get('title', '')} {c.meta.get('heading_path', '')}")
                   for c in top[:3]) if top else 0
        for title in self.live.removed.values():
            hits = sum(1 for w in words if w in title)
            if hits >= 2 and hits > best:
                return title
        return None

    def _exact_dense(self, q: Query, chunks: list[RetrievedChunk]) -> None:
        """Exact cosine for the chunks the refusal decision looks at: HNSW search is approximate,
        and a keyword-only candidate has no dense score at all, so one approximate (or missing)
        score must not decide that the corpus cannot answer."""
        if q.vector is None or not chunks:
            return
        try:
            exact = self.store.exact_scores(q.vector, [c.id for c in chunks])
        except Exception as exc:  # noqa: BLE001 - the approximate scores still stand
            log.warning("exact rescoring failed: %s", type(exc).__name__)
            return
        for chunk in chunks:
            if chunk.id in exact:
                chunk.dense = exact[chunk.id]

    def _attach_leads(self, chunks: list[RetrievedChunk]) -> None:
        """A clause split off its article (第三条 购房补贴… > （五）E类人才 5万元) gets the
        article's opening clause as context, so the answer step knows what the clause is about."""
        for chunk in chunks:
            parents = [p.strip() for p in chunk.meta.get("heading_path", "").split(">")][1:-1]
            prefix, index = split_chunk_id(chunk.id)
            if not parents or index is None or "lead" in chunk.meta:
                continue
            for i in range(index - 1, max(-1, index - 12), -1):
                entry = self.keywords.entry(chunk_id(prefix, i))
                if entry is None:
                    break
                if entry[0].get("article") in parents:
                    first = entry[1].split("\n", 1)[0]
                    chunk.meta = {**chunk.meta, "lead": re.split(r"[：:]", first, maxsplit=1)[0][:60]}
                    break

    def _with_siblings(self, chunks: list[RetrievedChunk], limit: int = 8, head: str = "",
                       kinds: bool = False) -> list[RetrievedChunk]:
        """A list asked for (哪些事项, 申请材料, 申报条件) is the whole article: the top chunk's
        article-mates that retrieval left out come along, in the document's order. When the list
        asked for is named (有哪几种服务方式) and a passage of the best policy sits under a heading
        naming it (二、服务方式), that heading's article is the one completed."""
        if not chunks:
            return chunks
        top = chunks[0]
        if head:
            named = next((c for c in chunks[:5] if c.doc_id == top.doc_id and c.sections
                          and head in c.sections[0]), None)
            if named is None and (found := self._section_named(top, head)) is not None:
                # (还有哪些配套支持: the best policy's 二、配套支持, which retrieval did not bring, comes
                # second, before passages of other sections)
                chunks = [chunks[0], found, *[c for c in chunks[1:] if c.id != found.id]]
                named = found
            top = named or top
        have = {c.id for c in chunks}
        # A document's opening passage among the first three (…主要内容整理如下): the list may be
        # the document's sections.
        opening = next((c for c in chunks[:3] if c.doc_id == top.doc_id and c.opens_document), None)
        outline = self._outline(opening, have, limit, top.fused) if opening is not None else []
        if opening is None and kinds and top.sections and (not is_article(top.sections[0]) or names_benefit(top.text)):
            # (a 第X条 policy lists its kinds inside one article, which the siblings below complete,
            # unless its articles each name one: 第三条 首次入库奖励。)
            # 补贴一共有哪几项: the policy's sections are its kinds, whichever of them retrieval found
            outline = self._outline(top, have, limit, top.fused, first=0)
        have |= {c.id for c in outline}
        prefix, index = split_chunk_id(top.id)
        if not top.sections or index is None:
            return [*chunks, *outline]
        article = top.sections[0]
        mates: list[tuple[int, RetrievedChunk]] = []
        for step in (-1, 1):
            i = index + step
            while abs(i - index) <= limit:
                mate = self._entry(prefix, i, top.fused)
                if mate is None or mate.sections[:1] != [article]:
                    break
                if mate.id not in have:
                    mates.append((i, mate))
                i += step
        # After the retrieved passages, so that their ranks (and the answer step's choice) stay.
        return [*chunks, *[c for _, c in sorted(mates, key=lambda m: m[0])][:limit], *outline]

    def _section_named(self, chunk: RetrievedChunk, head: str, limit: int = 60) -> RetrievedChunk | None:
        """The first passage of ``chunk``'s document under a heading that is ``head`` (二、配套支持)."""
        prefix, _ = split_chunk_id(chunk.id)
        for i in range(limit):
            entry = self._entry(prefix, i, chunk.fused)
            if entry is None:
                return None
            if entry.sections and without_mark(entry.sections[0]) == head:
                return entry
        return None

    def _entry(self, prefix: str, index: int, fused: float) -> RetrievedChunk | None:
        entry = self.keywords.entry(chunk_id(prefix, index))
        return None if entry is None else RetrievedChunk(chunk_id(prefix, index), entry[1], dict(entry[0]), fused=fused)

    def _with_steps(self, chunks: list[RetrievedChunk], limit: int = 60) -> list[RetrievedChunk]:
        """怎么申请: when no passage found of the best document names its steps (初审, 复核, 公示,
        拨付), its article that does comes second (第七条, found neither by 申请 nor by 研发)."""
        top = chunks[0]
        if any(sl.step_count(c.text) >= 2 for c in chunks if c.doc_id == top.doc_id):
            return chunks
        prefix, _ = split_chunk_id(top.id)
        have = {c.id for c in chunks}
        for i in range(limit):
            mate = self._entry(prefix, i, top.fused)
            if mate is None:
                break
            if mate.id not in have and sl.step_count(mate.text) >= 2:
                return [top, mate, *chunks[1:]]
        return chunks

    def _with_fact_mate(self, chunks: list[RetrievedChunk], asked: list[str], limit: int = 60) -> list[RetrievedChunk]:
        """A single fact asked (几月份报) that no passage found states, while the best document has an
        article that does (五、申报时间和受理部门): that article comes along, second (the answer step
        reads the first few passages)."""
        slot = asked[0]
        # (sentence by sentence: 自2026年1月1日起施行 is no window, though the editor's note beside it
        # mentions 申报时间)
        if any(slot in self._sentence_slots(c) and not sl.headed_elsewhere(" ".join(c.sections), asked)
               and states_itself(c.text, slot)
               for c in chunks if c.doc_id == chunks[0].doc_id):
            return chunks  # (20% in 一、返还条件 is a condition, not the 返还比例 asked)
        prefix, _ = split_chunk_id(chunks[0].id)
        have = {c.id for c in chunks}
        plain = None  # an article without a heading (第八条 申报时间为每年…) whose own words state it
        for i in range(limit):
            mate = self._entry(prefix, i, chunks[-1].fused)
            if mate is None:
                break
            if mate.id in have or slot not in self._sentence_slots(mate):
                continue
            # (a ratio sits under the headings of an amount: 二、返还标准)
            if sl.heading_states(" ".join(mate.sections), sl.AMOUNT if slot == sl.RATIO else slot):
                return [chunks[0], mate, *chunks[1:]]
            if plain is None and slot in (sl.WINDOW, sl.DEPARTMENT) and \
                    all(CLAUSE_MARK.match(s) for s in mate.sections) and \
                    states_itself(mate.text, slot):
                plain = mate
        return [chunks[0], plain, *chunks[1:]] if plain is not None else chunks

    def _with_penalty_mate(self, chunks: list[RetrievedChunk]) -> list[RetrievedChunk]:
        """要是没批下来就先干起来，会怎样: when no passage of the best document found says what
        follows (责令停止建设, 追回), its article that does comes along, second."""
        if any(sl.states_penalty(c.text) for c in chunks if c.doc_id == chunks[0].doc_id):
            return chunks
        return self._with_mate(chunks, lambda mate: sl.states_penalty(_EDITOR_NOTE.split(mate.text)[0]))

    def _with_phrase_mate(self, chunks: list[RetrievedChunk], words: list[str]) -> list[RetrievedChunk]:
        """还能跟这个一起拿吗 asks what the policy words 不重复享受: when no passage found says it and
        the best document has one that does, it comes along, second."""
        words = [w for w in words if not any(w in c.text for c in chunks)]
        return self._with_mate(chunks, lambda mate: any(w in mate.text for w in words)) if words else chunks

    def _with_part_mates(self, chunks: list[RetrievedChunk], q: Query, limit: int = 60) -> list[RetrievedChunk]:
        """A question in several parts (材料交到区镇哪个部门？条款有疑问找哪个部门解释？): for a part whose
        own words no passage found of the best document has, that document's passage with the most
        of them (本办法由昆山市商务局负责解释) comes along."""
        parts = sl.question_parts(q.question)
        if len(parts) < 2:
            return chunks
        prefix, _ = split_chunk_id(chunks[0].id)
        mates = []
        for i in range(limit):
            mate = self._entry(prefix, i, chunks[-1].fused)
            if mate is None:
                break
            mates.append(mate)
        found = " ".join(c.text for c in chunks if c.doc_id == chunks[0].doc_id).lower()
        for said, part in parts:
            words = {t: self.keywords.idf(t) for t in tokenize(said + part)
                     if len(t) >= 2 and t not in GENERIC and t not in found and self.keywords.idf(t) > 0}
            if not words:
                continue
            have = {c.id for c in chunks}
            weight, best = max(((sum(v for t, v in words.items() if t in m.text.lower()), m) for m in mates
                                if m.id not in have), key=lambda x: x[0], default=(0.0, None))
            if best is not None and weight > 0:
                # (fifth: what the whole question found first keeps its place; the answer step reads five)
                chunks = [*chunks[:4], best, *chunks[4:]]
                found += " " + best.text.lower()
        return chunks

    def _with_mate(self, chunks: list[RetrievedChunk], wanted, limit: int = 60) -> list[RetrievedChunk]:
        """The best document's first passage that is ``wanted`` and not found yet, put second."""
        prefix, _ = split_chunk_id(chunks[0].id)
        have = {c.id for c in chunks}
        for i in range(limit):
            mate = self._entry(prefix, i, chunks[-1].fused)
            if mate is None:
                break
            if mate.id not in have and wanted(mate):
                return [chunks[0], mate, *chunks[1:]]
        return chunks

    def _outline(self, opening: RetrievedChunk, have: set[str], limit: int, fused: float,
                 first: int | None = None) -> list[RetrievedChunk]:
        """When a document's opening passage is among the best (六个一 …整理如下), the list asked
        for may be the document's sections: the first passage of each, in order (from passage
        ``first`` of the document, else from the one after the opening)."""
        prefix, index = split_chunk_id(opening.id)
        start = (index or 0) + 1 if first is None else first
        out: list[RetrievedChunk] = []
        seen: set[str] = set()
        for i in range(start, start + 40):
            chunk = self._entry(prefix, i, fused)
            if chunk is None:
                break
            if not chunk.sections or chunk.sections[0] in seen:
                continue
            seen.add(chunk.sections[0])
            if chunk.id not in have:
                out.append(chunk)
            if len(seen) >= limit:
                break
        return out

    def evidence(self, query: str | Query, chunks: list[RetrievedChunk]) -> Evidence:
        """How well the top chunks cover the question.

        Coverage weighs each query term by its IDF; a term the corpus has never seen (e.g. a
        city the corpus does not cover) weighs as much as the rarest known term.
        """
        q = query if isinstance(query, Query) else analyse(query)
        top = chunks[:3]
        top_dense = max((c.dense for c in top if c.dense is not None), default=0.0)
        terms = list(dict.fromkeys(q.tokens))
        if not terms:
            return Evidence(top_dense, 0.0, [])
        # (我们做医疗器械软件的: who asks, not what about — no passage need name it)
        terms = [t for t in terms if not vocab.self_described(t, q.question)] or terms
        haystack = "\n".join(f"{c.meta.get('title', '')} {c.meta.get('heading_path', '')} {c.text}" for c in top).lower()
        missing_topic, topic_coverage = self._topic_coverage(q, haystack)
        removed = self._about_removed(q, top)
        if removed:
            missing_topic = missing_topic + [removed]
        if not q.english and (unknown := self._unknown_subject(q) or self._unknown_compound(q)):
            missing_topic = missing_topic + [unknown]
        if (unmatched := self._level_unmatched(q)) is not None:
            missing_topic = missing_topic + [unmatched]
        idfs = {t: self.keywords.idf(t) for t in terms}
        ceiling = max(list(idfs.values()) + [1.0])
        total = found = 0.0
        missing = []
        for term, idf in idfs.items():
            weight = idf if idf > 0 else ceiling
            total += weight
            if term in haystack:
                found += weight
            else:
                missing.append(term)
        places = [p for p in q.places if not self.keywords.mentions(p) and surely_place(p) and p not in HOME_PLACES
                  and not vocab.self_described(p, q.question)]
        return Evidence(top_dense, found / total if total else 0.0, missing, places, missing_topic, topic_coverage,
                        english=q.english)

    @staticmethod
    def _topic_coverage(q: Query, haystack: str) -> tuple[list[str], float]:
        """The subjects the question names (a sector, a tax, a place outside Kunshan) that no top
        passage names: 量子计算 in a question means the 技改 passages are not the answer."""
        terms = vocab.key_terms(q.question if not q.english else q.standalone)
        if q.follow_up:
            # (新能源 of 我们是做新能源电池结构件的 in the first question said who asks, not what about)
            earlier = [asked for asked, _ in q.history]
            terms += [t for t in vocab.key_terms(q.standalone) if t not in terms
                      and not any(vocab.self_described(t, asked) for asked in earlier)]
        if not terms:
            return [], 1.0
        missing = [t for t in terms if t.lower() not in haystack]
        return missing, 1 - len(missing) / len(terms)

    def _level_unmatched(self, q: Query) -> str | None:
        """A programme at a level no policy gives it (国家级创新联合体 where the library has 省级 and
        苏州市级 ones): no passage names the programme and the level together."""
        if not q.levels:
            return None
        # The level must be said of the subject (苏州市示范智能车间, 国家级的呢 after a 创新联合体 turn):
        # 苏州市 of 准备报苏州市示范智能车间 says nothing of the 技术指标 asked later in the question.
        spans = [m.span() for pattern in sl.LEVELS.values() for m in pattern.finditer(q.question)]

        def leveled(word: str) -> bool:
            ats = [m.start() for m in re.finditer(re.escape(word), q.question)]
            if not ats:
                return len(q.question) <= 15
            # (before it, 苏州市首席技师, or after it, 创新联合体要是评上国家级的)
            return any(0 <= at - end <= 8 or 0 <= start - (at + len(word)) <= 8 for at in ats for start, end in spans)

        subjects = [w for w in dict.fromkeys(q.topic) if len(w) >= 3
                    and 0 < len(self.keywords.documents_with(w)) <= RARE_DOCS and leveled(w)]
        for subject in subjects:
            found = [sl.levels_in(f"{meta.get('title', '')} {meta.get('heading_path', '')} {text}", meta.get("title", ""))
                     for meta, text in self.keywords.texts_with(subject)]
            if found and not any(q.levels & named for named in found):
                return f"{'、'.join(sorted(q.levels))}{subject}"
        return None

    def _unknown_subject(self, q: Query) -> str | None:
        """A benefit asked for a thing the corpus never names (展位费补贴, 建站资助): the nearest
        passages are about something else. The phrase's head (its last two characters, as Chinese
        puts the head noun last) must be absent from the whole corpus, so a covered subject in the
        user's own words (货车 for 运输车辆 names no benefit; 技改设备补贴 has a known head) passes."""
        for phrase in vocab.benefit_subjects(q.question):
            head = phrase[-2:]
            if re.search(r"[\d万元年月个]", head) or self.keywords.mentions(head) or vocab.synonyms(head):
                continue
            end = len(phrase)
            for token in reversed(tokenize(phrase)):
                at = phrase.rfind(token, 0, end)
                if at < 0:
                    continue
                if len(token) >= 2 and self.keywords.mentions(token):
                    break
                end = at
            subject = phrase[end:] if len(phrase) - end >= 2 else head
            # (a two-character head is read with the character before it: 买首套房 has 首套, which is known)
            parts = re.split(r"[的之]", phrase[-3:] if len(subject) == 2 else subject)
            if has_subject(subject) and not any(self.keywords.mentions(part[i:i + 2]) for part in parts for i in range(len(part) - 1)):
                return subject  # 展位费: neither 展位 nor 位费 anywhere (安家费 has 安家: 安家补贴)
        for title in vocab.honour_subjects(q.question):
            bare = _bare_name(title)
            if len(bare) >= 4 and not self.keywords.mentions(bare):
                return bare  # 工业设计中心: a title no policy rewards
        for phrase, verbs in [(p, False) for p in vocab.benefit_subjects(q.question)] + \
                [(p, True) for p in vocab.licence_subjects(q.question)]:
            # (通过了CNAS实验室认可，对这个有没有奖励: the benefit is asked for what was said before)
            if _POINTING.match(phrase):
                phrase = q.question[:q.question.find(phrase)]
            if (word := self._unknown_acronym(phrase) or self._unknown_modifier(phrase, verbs)) is not None:
                return word
        return None

    def _unknown_acronym(self, phrase: str) -> str | None:
        """An acronym no policy uses (PCT专利, 通过AEO认证的企业 → AEO认证): a certificate or scheme
        known by a name the library never names; a role (我们CTO) is who asks."""
        for acronym in re.finditer(r"(?<![A-Za-z])[A-Za-z]{2,}(?![A-Za-z])", phrase):
            if acronym.group(0).upper() not in _ROLES and not self.keywords.mentions(acronym.group(0).lower()):
                name = acronym.group(0)
                for w, flag in tagged(phrase[acronym.end():])[:2]:  # with what it names: 实验室认可, 认证
                    if not (re.match(r"^(?:n|vn)", flag) or w in ("认证", "认可")):
                        break
                    name += w
                return name
        return None

    def _unknown_compound(self, q: Query) -> str | None:
        """A kind of land, review or standard the library never names, though it names the kind:
        商业用地 (it has 工业用地), 节能审查, 行业标准 (both words known; together, nowhere), or of a
        thing it never names at all (仓储用地); or a programme quoted by a name it never uses."""
        for name in _QUOTED_NAME.findall(q.question):
            if len(name) >= 3 and not self.keywords.mentions(name) and not vocab.synonyms(name):
                return name  # “一业一证”, “带押过户”: a programme the user names by its name that no policy has
        for name in _HEARD_OF.findall(q.question):
            bare = _bare_name(name)
            if len(bare) >= 4 and not self.keywords.mentions(bare) and not vocab.synonyms(bare):
                return bare  # 青年人才驿站: heard of by that name, and no policy uses it
        tagged_words = [(w, f) for w, f in tagged(q.question) if len(w) >= 2]
        for (a, fa), (b, _) in zip(tagged_words, tagged_words[1:]):
            if _KIND_HEAD.match(b) and a + b in q.question and re.match(r"^(?:n|vn|nz|j|b)", fa) and \
                    a not in GENERIC and a not in _OWNERS and not self.keywords.mentions(a) and \
                    not vocab.synonyms(a) and not vocab.self_described(a, q.question):
                return a + b  # 仓储用地, 临时用地: a kind the library never names, of a thing it never names
        for (a, _), (b, _) in zip(tagged_words, tagged_words[1:]):
            after = q.question[q.question.find(a + b) + len(a + b):]
            if _APPLYING.match(b) and a + b in q.question and (dictionary_tag(a) or "").startswith("n") and \
                    not _OBJECT_FOLLOWS.match(after) and \
                    not re.search(r"时|期|段", a) and a not in GENERIC and not self.keywords.mentions(a) and \
                    not vocab.synonyms(a) and not vocab.self_described(a, q.question):
                return a + b  # 空域申请: an application for a thing no policy names
        for w, flag in tagged_words:
            if len(w) >= 4 and flag.startswith("n") and w.endswith("标准") and not self.keywords.mentions(w) \
                    and not vocab.synonyms(w) and not vocab.self_described(w, q.question):
                return w  # 行业标准, 国家标准
        for (a, fa), (b, _) in zip(tagged_words, tagged_words[1:]):
            if not _KIND_HEAD.match(b) or a + b not in q.question or a in GENERIC or a in _OWNERS or \
                    not re.match(r"^(?:n|vn|v|b)", fa) or vocab.self_described(a, q.question):
                continue
            if self.keywords.mentions(a) and self.keywords.mentions(b) and not self.keywords.mentions(a + b) and \
                    not any(self.keywords.mentions(other + b) for other in vocab.synonyms(a)):
                return a + b
        return None

    def _unknown_modifier(self, phrase: str, verbs: bool) -> str | None:
        """A word of the compound a benefit or licence is asked for that the corpus never uses,
        though the head is known: 瞪羚 in 瞪羚企业奖励, 版次 in 首版次软件, 排污 in 排污许可证, 消防 in
        消防验收. Only the compound just before the benefit word counts (我们是做精密注塑的 describes
        the company), and a word that reads as a known one with the character before it (买首套房:
        首套) is known."""
        head = vocab.LICENCE.search(phrase) if verbs else None
        named = phrase
        if head is not None and not self.keywords.mentions(head.group(0)):
            return named  # 工商年报, 结构安全鉴定: a procedure the library never names at all
        phrase = phrase[:head.start()] if head else phrase
        words = tagged(phrase)
        run: list[tuple[int, str, str]] = []
        end = len(phrase)
        for w, flag in reversed(words):
            at = phrase.rfind(w, 0, end)
            end = at
            # (简易注销, 碳足迹认证: the kind of procedure or of what is rewarded)
            nominal = re.match(r"^(?:n|vn|nz|j|l|b|m)", flag) or (len(w) == 1 and re.match(r"^[aq]", flag)) or \
                (not run and flag in (("v", "a") if verbs else ("v",)))
            if not nominal or at < 0:
                break
            run.append((at, w, flag))
        for at, w, flag in reversed(run):
            if len(w) < 2 or w in PHRASING or re.search(r"[\dA-Za-z]", w) or vocab.synonyms(w) or \
                    vocab.self_described(w, phrase) or not re.match(r"^(?:n|vn|nz|j|l|v|a)" if verbs else r"^(?:n|vn|nz|j|l|v)", flag):
                continue
            span = phrase[max(0, at - 1):at + len(w)]
            if not any(self.keywords.mentions(span[i:i + 2]) for i in range(len(span) - 1)):
                return named[run[-1][0]:]  # the whole compound: 首版次软件, 排污许可证
            if len(w) >= 4 and flag.startswith("n") and not self.keywords.mentions(w) and \
                    not self.keywords.mentions(w[:2]) and not vocab.self_described(w, phrase):
                return named[run[-1][0]:]  # 特种设备使用登记: 设备 is known, 特种 is not
        return None

    def _named_documents(self, query: str, ranked: list[RetrievedChunk]) -> set[str]:
        doc_number = find_doc_number_anywhere(query)
        titles = [_bare_title(t) for t in _QUOTED_TITLE.findall(query)]
        if not doc_number and not titles:
            return set()
        named = set()
        for chunk in ranked:
            title = _bare_title(chunk.meta.get("title", ""))
            if (doc_number and chunk.meta.get("doc_number") == doc_number) or any(
                    t and (t in title or title in t) for t in titles):
                named.add(chunk.doc_id)
        return named

    def search(self, query: str | Query, *, today: dt.date | None = None, k: int | None = None) -> RetrievalResult:
        """The top passages for a question, and the evidence whether they answer it.

        Results are cached per (question as understood, corpus generation, day): a repeated
        question costs no embedding, BM25 or Chroma call (and at most the generation read).
        """
        today = today or dt.date.today()
        k = k or self.settings.retrieval_top_k
        q = query if isinstance(query, Query) else analyse(query)
        generation = None
        if self.live is not None:
            self.live.current()  # has the corpus changed? (one SQL read at most per check interval)
            generation = self.live.generation
        key = (q.standalone, tuple(sorted(q.levels)), tuple(q.slots[:2]), tuple(q.previous_docs), q.follow_up,
               q.latest, tuple(sorted(q.years)), generation, today, k)
        if self.live is not None and (cached := self._cache.get(key)) is not None:
            self._cache.move_to_end(key)
            return cached
        result = self._search(q, today, k)
        if self.live is not None and self.settings.query_cache_size:
            self._cache[key] = result
            while len(self._cache) > self.settings.query_cache_size:
                self._cache.popitem(last=False)
        return result

    def _search(self, q: Query, today: dt.date, k: int) -> RetrievalResult:
        query = q.standalone
        ranked = self.candidates(q)
        if q.excluded and (set_aside := self._titled(q.excluded)):
            # 注意不是问苏州产业创新集群政策里…那个资助: the policy the user says the answer is not
            ranked = [c for c in ranked if c.doc_id not in set_aside] or ranked
        named = self._named_documents(query, ranked)
        if named:
            # A question that quotes a 文号 or a 《title》 is about that document, current or not.
            ranked.sort(key=lambda c: c.doc_id not in named)
        current = [c for c in ranked if not c.expired(today)]
        old_year = bool(q.years) and any(c.expired(today) and q.years & c.years for c in ranked[:5])
        naming = self._naming_documents(q)
        only_old = bool(naming) and all(c.expired(today) for c in ranked if c.doc_id in naming) and \
            any(c.doc_id in naming for c in ranked[:10])
        if only_old:
            # 技改综合奖补按2倍系数…: words only an expired policy uses name it; it answers (and the
            # answer says it has expired) rather than a current policy on something near it.
            ranked.sort(key=lambda c: c.doc_id not in naming)
        if named or _ASKS_FOR_OLD.search(query) or old_year or not current or only_old:
            chosen = ranked
        else:
            chosen = current
            evidence = self.evidence(q, current)
            if not evidence.sufficient(self.settings):
                expired_first = self.evidence(q, ranked)
                if expired_first.sufficient(self.settings) and any(c.expired(today) for c in ranked[:3]):
                    chosen = ranked
            elif self._dedicated_expired(q, ranked, today):
                # 创新联合体要准备什么材料: the programme's own policy (expired, never replaced) is what
                # the question matches best; a current policy's one clause on it does not answer it.
                chosen = ranked
            elif any(c.expired(today) for c in ranked[:3]) and \
                    self._topic_weight(q, ranked[:3]) > 1.2 * self._topic_weight(q, current[:3]):
                # The programme asked about (小升规奖励) exists only in an expired policy: answer
                # from it (the answer says it has expired) rather than from another programme.
                chosen = ranked
        top = chosen[:k]
        self._exact_dense(q, top[:3])
        self._attach_leads(top)
        if q.wants_list and q.slots[0] == sl.PROCEDURE and top:
            top = self._with_steps(top)
        if q.wants_list:
            top = self._with_siblings(top, head=sl.asked_head(q.question), kinds=sl.asks_benefit_kinds(q.question))
            if top and q.slots[0] == sl.MATERIALS and sl.MATERIALS in sl.asked_slots(q.question):
                # 报的时候得交哪些东西 after a 省级 amount: the words carried over find that policy's
                # amounts; its 五、申报材料 comes along
                top = self._with_fact_mate(top, [sl.MATERIALS])
        elif q.single_fact and top:
            top = self._with_fact_mate(top, q.slots)
        elif q.slots[:1] == [sl.CONSEQUENCE] and top:
            top = self._with_penalty_mate(top)
        for form in (sl.IN_FORCE, sl.LAW, sl.PURPOSE):
            # 哪天开始执行 / 依据哪部法律 / 出发点是什么: the article that says it (often the first or the last)
            if top and sl.asks(form, q.question) and \
                    not any(sl.answers(form, c.text) for c in top if c.doc_id == top[0].doc_id):
                top = self._with_mate(top, lambda mate, form=form: sl.answers(form, _EDITOR_NOTE.split(mate.text)[0]))
        if top:
            top = self._with_phrase_mate(top, vocab.phrase_synonyms(q.question))
            top = self._with_part_mates(top, q)
        used_expired = any(c.expired(today) for c in top)
        evidence = self.evidence(q, top)
        evidence.named = bool(named) and bool(top) and top[0].doc_id in named
        passed_over = None
        if chosen is current and not used_expired:
            old = next((c for c in ranked[:3] if c.expired(today) and c.meta.get("expires")), None)
            if old is not None and self._title_weight(q, old) > 0 and old.doc_id not in {c.doc_id for c in top}:
                passed_over = old
        return RetrievalResult(top, evidence, used_expired, passed_over)

    def _dedicated_expired(self, q: Query, ranked: list[RetrievedChunk], today: dt.date) -> bool:
        """The two best passages come from one expired policy that no live policy replaces, and no
        current passage on the subject states what is asked (创新联合体 materials are in the expired
        policy alone; its 支持 amounts a current policy states, and those are in force)."""
        head = ranked[:2]
        if not (len(head) == 2 and all(c.expired(today) for c in head) and head[0].doc_id == head[1].doc_id
                and (self.live is None or self.live.successor(head[0].doc_id) is None)):
            return False
        if not q.slots:
            return False
        subject = [w for w in dict.fromkeys(q.topic) if len(w) >= 3]
        return not any(q.slots[0] in self._sentence_slots(c)
                       and any(w in f"{c.meta.get('heading_path', '')} {c.text}" for w in subject)
                       for c in ranked[:8] if not c.expired(today))

    def _title_weight(self, q: Query, chunk: RetrievedChunk) -> float:
        """IDF weight of the question's content words that the chunk's document title names."""
        title = chunk.meta.get("title", "").lower()
        return sum(self.keywords.idf(w) for w in dict.fromkeys(q.topic) if len(w) >= 2 and w in title)


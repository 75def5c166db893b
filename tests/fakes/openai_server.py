"""A local HTTP server that speaks the OpenAI chat-completions protocol (JSON and SSE).

It stands in for a hosted LLM (Qwen on DashScope, DeepSeek, vLLM…), which cannot run here.
Behaviour is set per test through ``server.mode``: ``answer`` replies with ``server.reply``,
``error`` answers 500, ``hang`` sleeps longer than any client timeout, ``broken_stream``
sends one piece and then drops the connection. ``delay_seconds`` makes every answer that much
slower (a slow model), ``piece_delay`` paces the streamed pieces. Every request body is kept in ``requests``.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeOpenAI:
    def __init__(self):
        self.mode = "answer"
        self.reply = "经认定的省级创新联合体支持200万元[1]。另有规定见[7]。"
        self.rewrite_reply = None
        self.requests: list[dict] = []
        self.hang_seconds = 30.0
        self.piece_delay = 0.0
        self.delay_seconds = 0.0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):  # noqa: N802 - http.server naming
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                outer.requests.append(body)
                if not self.path.endswith("/chat/completions"):
                    self._json(404, {"error": {"message": "not found"}})
                    return
                if outer.mode == "error":
                    self._json(500, {"error": {"message": "upstream failure", "type": "server_error"}})
                    return
                if outer.mode == "hang":
                    time.sleep(outer.hang_seconds)
                    return
                if outer.delay_seconds:
                    time.sleep(outer.delay_seconds)
                content = outer.reply
                system = body["messages"][0]["content"] if body.get("messages") else ""
                if outer.rewrite_reply and "改写" in system:
                    content = outer.rewrite_reply
                if body.get("stream"):
                    self._stream(body, content)
                else:
                    self._json(200, {
                        "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
                        "model": body.get("model", "test"),
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": content}}],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
                    })

            def _json(self, status, payload):
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _write_chunk(self, data: bytes):
                # Chunked transfer encoding, as hosted endpoints stream.
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _stream(self, body, content):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                self.end_headers()
                pieces = [content[i:i + 5] for i in range(0, len(content), 5)]
                for i, piece in enumerate(pieces):
                    chunk = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": int(time.time()),
                             "model": body.get("model", "test"),
                             "choices": [{"index": 0, "delta": {"content": piece} if i else {"role": "assistant", "content": piece},
                                          "finish_reason": None}]}
                    self._write_chunk(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
                    time.sleep(outer.piece_delay)
                    if outer.mode == "broken_stream":
                        # Drop the connection mid-body: no terminating chunk, as a crashed upstream would.
                        self.close_connection = True
                        return
                end = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": int(time.time()),
                       "model": body.get("model", "test"), "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                self._write_chunk(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
                self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeOpenAI":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

"""ASGI middleware for every route: request ids, access log, metrics, the request body cap, URLs
with control characters refused at the edge, and access to /metrics.

Written as plain ASGI (not BaseHTTPMiddleware) so that streamed answers pass through untouched.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
import time
import uuid
from urllib.parse import unquote

from app.errors import KunruyiError
from app.api.inputs import has_url_controls
from app.ops.logs import escape_controls, personal, request_id
from app.ops.metrics import LATENCY, REQUESTS
from app.settings import Settings

log = logging.getLogger("kunruyi.access")

MB = 1024 * 1024
UPLOAD_PREFIX = "/api/admin/"
UPLOAD_FILES_PER_REQUEST = 20
METRICS_PATH = "/metrics"
# A client's X-Request-ID is kept only if it looks like an id: it goes into every log line and back out.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def client_ip(scope: dict, trusted: list[str]) -> str:
    """The peer address, or the first untrusted hop of X-Forwarded-For when the peer is a trusted proxy."""
    peer = (scope.get("client") or ("unknown", 0))[0]
    if not trusted or not _in(peer, trusted):
        return peer
    forwarded = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-forwarded-for"), "")
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _in(hop, trusted):
            return hop
    return hops[0] if hops else peer


def _in(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for net in networks:
        try:
            if ip in ipaddress.ip_network(net, strict=False):
                return True
        except ValueError:
            continue
    return False


def _route_label(scope: dict) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path or "unmatched"


async def _send_json(send, status: int, body: dict, rid: str) -> None:
    payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json; charset=utf-8"),
                            (b"content-length", str(len(payload)).encode()), (b"x-request-id", rid.encode())]})
    await send({"type": "http.response.body", "body": payload})


def request_id_from(headers: dict[bytes, bytes]) -> str:
    """The client's X-Request-ID when it is a plain id (letters, digits, . _ : -, up to 64), else a new one."""
    raw = headers.get(b"x-request-id", b"").decode("latin-1")
    return raw if _REQUEST_ID.fullmatch(raw) else uuid.uuid4().hex[:16]


def _bad_url(scope: dict) -> bool:
    """A control character in the path or the (percent-decoded) query string: no route needs one, and
    PostgreSQL refuses NUL in text."""
    query = scope.get("query_string", b"").decode("latin-1")
    return has_url_controls(scope.get("path", "")) or has_url_controls(unquote(query.replace("+", " ")))


class OpsMiddleware:
    def __init__(self, app, settings: Settings):
        self.app = app
        self.settings = settings
        self.trusted = settings.trusted_proxy_list
        self.upload_limit = int(settings.upload_max_mb * MB * UPLOAD_FILES_PER_REQUEST + MB)
        self.metrics_allow = settings.split_list(settings.metrics_allow)
        self.metrics_token = settings.metrics_token.encode()

    def metrics_allowed(self, ip: str, headers: dict[bytes, bytes]) -> bool:
        """/metrics for the allowed addresses or the bearer token; anyone when neither is configured."""
        if not self.metrics_allow and not self.metrics_token:
            return True
        if self.metrics_allow and _in(ip, self.metrics_allow):
            return True
        if self.metrics_token:
            scheme, _, token = headers.get(b"authorization", b"").partition(b" ")
            return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.metrics_token)
        return False

    def body_limit(self, scope: dict, headers: dict[bytes, bytes]) -> int:
        """Staff uploads get the upload cap, but only with a valid editor token: FastAPI reads a form
        before the admin router's auth runs, so an anonymous client must not stream 400 MB in first."""
        if scope["path"].startswith(UPLOAD_PREFIX) and self._is_editor(scope, headers.get(b"authorization", b"")):
            return self.upload_limit
        return self.settings.max_body_bytes

    @staticmethod
    def _is_editor(scope: dict, authorization: bytes) -> bool:
        scheme, _, token = authorization.decode("latin-1").partition(" ")
        services = getattr(getattr(scope.get("app"), "state", None), "services", None)
        if scheme.lower() != "bearer" or not token or services is None:
            return False
        try:  # the app's one token checker, the admin router's (app.admin.auth.require_admin)
            return services.admin.tokens.principal(token.strip()).can_write
        except KunruyiError:
            return False

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers", []))
        rid = request_id_from(headers)
        token = request_id.set(rid)
        scope.setdefault("state", {})["client_ip"] = client_ip(scope, self.trusted)
        started = time.perf_counter()
        status = {"code": 500, "sent": False}
        limit = self.body_limit(scope, headers)

        refusal = None
        if _bad_url(scope):
            refusal = (400, {"error": "invalid_request", "message": "请求地址中含有不允许的控制字符，请检查后重试"})
        elif scope["path"] == METRICS_PATH and not self.metrics_allowed(scope["state"]["client_ip"], headers):
            refusal = (403, {"error": "forbidden", "message": "无权访问监控指标"})
        if refusal is not None:
            await _send_json(send, refusal[0], refusal[1], rid)
            self._finish(scope, refusal[0], started)
            request_id.reset(token)
            return

        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_json(send, 413, _too_large_body(limit), rid)
            self._finish(scope, 413, started)
            request_id.reset(token)
            return

        received = 0
        responded = {"yes": False}

        async def receive_capped():
            # Over the cap: answer 413 now and tell the app the client went away.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not status["sent"]:
                    await _send_json(send, 413, _too_large_body(limit), rid)
                    status["code"], status["sent"], responded["yes"] = 413, True, True
                    return {"type": "http.disconnect"}
            return message

        async def send_tagged(message):
            if responded["yes"]:
                return
            if message["type"] == "http.response.start":
                status["code"], status["sent"] = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive_capped, send_tagged)
        except Exception:
            if not responded["yes"]:
                raise
        finally:
            self._finish(scope, status["code"], started)
            request_id.reset(token)

    def _finish(self, scope: dict, status: int, started: float) -> None:
        elapsed = time.perf_counter() - started
        route = _route_label(scope)
        REQUESTS.labels(scope["method"], route, str(status)).inc()
        LATENCY.labels(route).observe(elapsed)
        path = escape_controls(scope["path"])  # %0a in a URL must not start a forged log line
        log.info("%s %s %s %.0fms", scope["method"], path, status, elapsed * 1000,
                 extra={"method": scope["method"], "path": path, "status": status,
                        "duration_ms": round(elapsed * 1000, 1), "client": personal(scope["state"].get("client_ip"))})


def _too_large_body(limit: int) -> dict:
    size = f"{limit / MB:.1f} MB" if limit >= MB else f"{limit // 1024} KB"
    return {"error": "payload_too_large", "message": f"请求内容过大（上限 {size}），请缩减后重试"}

"""WeChat's side of the conversation, for tests: a local HTTP server for the platform APIs, and a
client that sends callbacks signed and encrypted exactly as WeChat and WeCom do.

``FakeWeChat`` implements ``/cgi-bin/token`` and ``/cgi-bin/message/custom/send`` (Official
Account) and ``/cgi-bin/gettoken`` and ``/cgi-bin/message/send`` (WeCom). Sent messages are kept
in ``messages``; every send attempt (also refused ones) in ``attempts``. Switches:
``fail_next(errcode, times)`` makes the next sends return that errcode (45015: outside the
48-hour window), ``expire_tokens()`` makes every issued token invalid (40001).
Issue 17 adds ``/cgi-bin/message/subscribe/bizsend`` (subscription messages; ``bizsend_errors``
maps an OpenID to the errcode it always gets, e.g. 43101), ``fail_http_next(status, times)``
(HTTP 5xx) and ``send_delay`` (seconds per send).
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from wechatpy.crypto import WeChatCrypto
from wechatpy.enterprise.crypto import WeChatCrypto as WorkCrypto

ERRMSG = {0: "ok", 40001: "invalid credential, access_token is invalid or not latest", 40013: "invalid appid",
          42001: "access_token expired", 45002: "content size out of limit",
          45015: "response out of time limit or subscription is canceled", 45047: "out of response count limit"}


class FakeWeChat:
    def __init__(self, *, app_id: str, app_secret: str, corp_id: str, corp_secret: str, agent_id: int):
        self.credentials = {"mp": (app_id, app_secret), "work": (corp_id, corp_secret)}
        self.agent_id = agent_id
        self.expires_in = 7200
        self.valid_tokens: set[str] = set()
        self.token_requests: list[dict] = []
        self.attempts: list[dict] = []
        self.messages: list[dict] = []
        self._errors: list[int] = []
        self._http_errors: list[int] = []  # issue 17: fail_http_next
        self.bizsend_errors: dict[str, int] = {}  # issue 17: OpenID -> errcode for every bizsend (43101…)
        self.send_delay = 0.0  # issue 17: seconds each send takes
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without this, Nagle + delayed ACK cost 40 ms a call.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/cgi-bin/token":
                    self._json(outer._token("mp", query.get("appid"), query.get("secret")))
                elif url.path == "/cgi-bin/gettoken":
                    self._json(outer._token("work", query.get("corpid"), query.get("corpsecret")))
                else:
                    self._json({"errcode": 404, "errmsg": "not found"}, 404)

            def do_POST(self):  # noqa: N802
                url = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                kind = {"/cgi-bin/message/custom/send": "mp", "/cgi-bin/message/send": "work",
                        "/cgi-bin/message/subscribe/bizsend": "bizsend"}.get(url.path)
                if kind is None:
                    self._json({"errcode": 404, "errmsg": "not found"}, 404)
                    return
                if outer.send_delay:  # issue 17: a slow platform, so a sender can be killed mid-batch
                    time.sleep(outer.send_delay)
                with outer._lock:
                    status = outer._http_errors.pop(0) if outer._http_errors else 0
                if status:  # issue 17: an HTTP 5xx from the platform
                    outer.attempts.append({"kind": kind, "http": status, **body})
                    self._json({"errcode": -1, "errmsg": "system error"}, status)
                    return
                self._json(outer._send(kind, query.get("access_token"), body))

            def _json(self, payload, status=200):
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "FakeWeChat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- switches -------------------------------------------------------------------------------

    def fail_next(self, errcode: int, times: int = 1) -> None:
        with self._lock:
            self._errors.extend([errcode] * times)

    def fail_http_next(self, status: int = 500, times: int = 1) -> None:
        """The next sends answer with this HTTP status (a 5xx outage) instead of a JSON errcode."""
        with self._lock:
            self._http_errors.extend([status] * times)

    def expire_tokens(self) -> None:
        with self._lock:
            self.valid_tokens.clear()

    def wait_for_messages(self, count: int, timeout: float = 20.0) -> list[dict]:
        """Wait until at least ``count`` messages were delivered (returns them all)."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.messages)

    def wait_for_attempts(self, count: int, timeout: float = 20.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.attempts) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.attempts)

    # -- the protocol ---------------------------------------------------------------------------

    def _token(self, kind: str, ident: str | None, secret: str | None) -> dict:
        self.token_requests.append({"kind": kind, "id": ident})
        if (ident, secret) != self.credentials[kind]:
            return {"errcode": 40013 if ident != self.credentials[kind][0] else 40001, "errmsg": "invalid credential"}
        token = f"{kind}-{uuid.uuid4().hex}"
        with self._lock:
            self.valid_tokens.add(token)
        body = {"access_token": token, "expires_in": self.expires_in}
        return {"errcode": 0, "errmsg": "ok", **body} if kind == "work" else body

    def _send(self, kind: str, token: str | None, body: dict) -> dict:
        with self._lock:
            attempt = {"kind": kind, **body}
            self.attempts.append(attempt)
            if token not in self.valid_tokens:
                errcode = 40001
            elif self._errors:
                errcode = self._errors.pop(0)
            elif kind == "bizsend":  # issue 17: subscription messages (template id and data required)
                errcode = self.bizsend_errors.get(body.get("touser"), 0) if body.get("template_id") and \
                    isinstance(body.get("data"), dict) and body.get("touser") else 47003
                if errcode == 0:
                    self.messages.append({"kind": kind, "touser": body["touser"], "template_id": body["template_id"],
                                          "data": body["data"], "page": body.get("page", "")})
            elif body.get("msgtype") != "text" or not body.get("touser"):
                errcode = 44002
            elif len(body.get("text", {}).get("content", "").encode("utf-8")) > 2048:
                errcode = 45002
            elif kind == "work" and body.get("agentid") != self.agent_id:
                errcode = 40056
            else:
                errcode = 0
                self.messages.append({"kind": kind, "touser": body["touser"], "content": body["text"]["content"],
                                      "agentid": body.get("agentid")})
            attempt["errcode"] = errcode
        reply = {"errcode": errcode, "errmsg": ERRMSG.get(errcode, "error")}
        if kind == "work":
            reply["invaliduser"] = ""
        return reply


# --- the callback side: what WeChat POSTs to the server ---------------------------------------

def text_xml(*, to_user: str, from_user: str, content: str, msg_id: int, create_time: int | None = None,
             agent_id: int | None = None) -> str:
    agent = f"<AgentID>{agent_id}</AgentID>" if agent_id is not None else ""
    return (f"<xml><ToUserName><![CDATA[{to_user}]]></ToUserName><FromUserName><![CDATA[{from_user}]]></FromUserName>"
            f"<CreateTime>{create_time or int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId>{agent}</xml>")


def new_msg_id() -> int:
    return secrets.randbits(62)


class MpCallbacks:
    """Signs (and in safe/compatible mode encrypts) Official Account callbacks like WeChat."""

    def __init__(self, token: str, aes_key: str = "", app_id: str = ""):
        self.token = token
        self.crypto = WeChatCrypto(token, aes_key, app_id) if aes_key else None

    def sign(self, *parts: str) -> str:
        import hashlib

        return hashlib.sha1("".join(sorted([self.token, *parts])).encode()).hexdigest()

    def request(self, xml: str, *, mode: str = "safe", timestamp: int | None = None,
                openid: str = "") -> tuple[str, bytes]:
        """(path with query, body) for POST /wechat/mp; mode is plain, compatible or safe."""
        ts, nonce = str(timestamp or int(time.time())), str(secrets.randbelow(10**9))
        query = {"signature": self.sign(ts, nonce), "timestamp": ts, "nonce": nonce, "openid": openid}
        if mode == "plain":
            return f"/wechat/mp?{urlencode(query)}", xml.encode()
        envelope = self.crypto.encrypt_message(xml, nonce, ts)
        encrypt = envelope.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
        query.update({"encrypt_type": "aes", "msg_signature": self.sign(ts, nonce, encrypt)})
        if mode == "compatible":
            body = xml.replace("</xml>", f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>")
        else:
            found = re.search(r"<ToUserName><!\[CDATA\[(.*?)\]\]>", xml)
            to_user = found.group(1) if found else "gh_unknown"
            body = f"<xml><ToUserName><![CDATA[{to_user}]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        return f"/wechat/mp?{urlencode(query)}", body.encode()

    def open_reply(self, text: str) -> str:
        """Decrypt an encrypted passive reply the way WeChat does (checks its MsgSignature too)."""
        import xmltodict

        envelope = xmltodict.parse(text)["xml"]
        return self.crypto.decrypt_message(text, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"])


class WorkCallbacks:
    """Signs and encrypts WeCom callbacks like WeCom."""

    def __init__(self, token: str, aes_key: str, corp_id: str):
        self.token = token
        self.crypto = WorkCrypto(token, aes_key, corp_id)

    def request(self, xml: str, *, timestamp: int | None = None) -> tuple[str, bytes]:
        ts, nonce = str(timestamp or int(time.time())), str(secrets.randbelow(10**9))
        envelope = self.crypto.encrypt_message(xml, nonce, ts)
        encrypt = envelope.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
        signature = envelope.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
        query = {"msg_signature": signature, "timestamp": ts, "nonce": nonce}
        body = f"<xml><ToUserName><![CDATA[{self.crypto.corp_id}]]></ToUserName><AgentID><![CDATA[1]]></AgentID><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        return f"/wechat/work?{urlencode(query)}", body.encode()

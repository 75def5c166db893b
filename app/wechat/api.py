"""Outbound calls to the WeChat and WeCom APIs: access tokens and text messages.

The access token is cached in the shared state (so every worker uses the same one and only one
refreshes it) until shortly before it expires; a token the platform calls invalid or expired
(40001, 40014, 42001) is fetched again and the call retried once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from app.components.shared_state import SharedState
from app.settings import Settings

log = logging.getLogger(__name__)

TOKEN_ERRORS = {40001, 40014, 42001}
TOKEN_MARGIN_SECONDS = 300


@dataclass
class SendResult:
    ok: bool
    errcode: int | None = None  # None: no answer from the platform (network error, not configured)
    errmsg: str = ""


class ApiError(Exception):
    def __init__(self, errcode: int | None, errmsg: str):
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


@dataclass(frozen=True)
class AccountConfig:
    """Where and how one account gets its token and sends text."""

    name: str                      # wechat | wework (also the shared-state key prefix)
    base_url: str
    token_path: str
    token_params: dict[str, str]
    send_path: str
    send_fields: dict[str, Any]    # added to every message (WeCom: agentid)

    @property
    def configured(self) -> bool:
        return all(self.token_params.values())


def mp_account(settings: Settings) -> AccountConfig:
    return AccountConfig(
        name="wechat", base_url=settings.wechat_api_base, token_path="/cgi-bin/token",
        token_params={"grant_type": "client_credential", "appid": settings.wechat_mp_app_id,
                      "secret": settings.wechat_mp_app_secret},
        send_path="/cgi-bin/message/custom/send", send_fields={})


def work_account(settings: Settings) -> AccountConfig:
    agent = settings.wework_agent_id
    return AccountConfig(
        name="wework", base_url=settings.wework_api_base, token_path="/cgi-bin/gettoken",
        token_params={"corpid": settings.wework_corp_id, "corpsecret": settings.wework_secret},
        send_path="/cgi-bin/message/send", send_fields={"agentid": int(agent) if agent.isdigit() else agent})


class PlatformApi:
    """Token cache and ``send_text`` for one account."""

    def __init__(self, account: AccountConfig, state: SharedState, timeout: float):
        self.account = account
        self.state = state
        self.timeout = timeout
        # Made on the first API call, not here: an httpx client loads the CA bundle (an SSL context),
        # which took 1.1 s on a loaded 2-core host, and the channel is built on the first callback,
        # whose reply must leave within WeChat's 5 seconds.
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()
        ident = account.token_params.get("appid") or account.token_params.get("corpid", "")
        self._token_key = f"{account.name}:token:{ident}:{account.send_fields.get('agentid', '')}"

    @property
    def _http(self) -> httpx.Client:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = httpx.Client(base_url=self.account.base_url.rstrip("/"), timeout=self.timeout)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    # -- access token ---------------------------------------------------------------------------

    def access_token(self, *, refresh: bool = False) -> str:
        if not refresh:
            cached = self.state.get(self._token_key)
            if cached:
                return cached
        # One worker fetches; the others wait briefly for its result rather than invalidating it.
        lock = self._token_key + ":lock"
        locked = self.state.claim(lock, self.timeout + 1)
        if not locked:
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline:
                time.sleep(0.1)
                cached = self.state.get(self._token_key)
                if cached:
                    return cached
        try:
            return self._fetch_token()
        finally:
            if locked:
                self.state.delete(lock)

    def _fetch_token(self) -> str:
        if not self.account.configured:
            raise ApiError(None, "credentials not configured")
        body = self._call("GET", self.account.token_path, params=self.account.token_params)
        token = body.get("access_token")
        if not token:
            raise ApiError(body.get("errcode"), body.get("errmsg", "no access_token"))
        ttl = max(60, int(body.get("expires_in", 7200)) - TOKEN_MARGIN_SECONDS)
        self.state.set(self._token_key, token, ttl_seconds=ttl)
        log.info("%s access token refreshed, cached for %ss", self.account.name, ttl)
        return token

    def _call(self, method: str, path: str, **kwargs) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, **kwargs)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ApiError(None, type(exc).__name__) from exc
        if not isinstance(body, dict):
            raise ApiError(None, "unexpected response")
        return body

    # -- messages -------------------------------------------------------------------------------

    def send_text(self, user: str, content: str) -> SendResult:
        payload = {"touser": user, "msgtype": "text", "text": {"content": content}, **self.account.send_fields}
        # ensure_ascii=False: the platform counts the bytes of the text as sent.
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        try:
            body = self._post(data, self.access_token())
            if int(body.get("errcode") or 0) in TOKEN_ERRORS:
                body = self._post(data, self.access_token(refresh=True))
        except ApiError as exc:
            return SendResult(False, exc.errcode, exc.errmsg)
        errcode = int(body.get("errcode") or 0)
        if errcode == 0 and body.get("invaliduser"):
            return SendResult(False, errcode, f"invaliduser {body['invaliduser']}")
        return SendResult(errcode == 0, errcode, str(body.get("errmsg", "")))

    def _post(self, data: bytes, token: str) -> dict[str, Any]:
        return self._call("POST", self.account.send_path, params={"access_token": token}, content=data,
                          headers={"Content-Type": "application/json; charset=utf-8"})

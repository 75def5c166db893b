"""Dependencies as Annotated aliases, so routers stay one-liners."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.components.conversations import ConversationStore
from app.errors import RateLimited
from app.ops.ratelimit import RateLimiter
from app.services.chat import ChatService
from app.services.corpus import CorpusService
from app.settings import Settings


def _services(request: Request):
    return request.app.state.services


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_corpus(request: Request) -> CorpusService:
    return _services(request).corpus


def get_chat(request: Request) -> ChatService:
    return _services(request).chat


def get_conversations(request: Request) -> ConversationStore:
    return _services(request).conversations


def _client_ip(request: Request) -> str:
    return getattr(request.state, "client_ip", None) or (request.client.host if request.client else "unknown")


def check_rate(request: Request, conversation_id: str | None) -> None:
    """Chat endpoints: count this request against the client IP's and the conversation's limits
    (raises RateLimited, a Chinese 429)."""
    _services(request).limiter.check(_client_ip(request), conversation_id)


class _Namespaced:
    """The shared state with every key under a prefix, so that a second limiter counts apart."""

    def __init__(self, state, prefix: str):
        self.state, self.prefix = state, prefix

    def incr(self, key: str, ttl: int) -> int:
        return self.state.incr(self.prefix + key, ttl)


def _handoff_limiter(request: Request) -> RateLimiter:
    """The chat rate limiter's logic with the handoff limits and counters of its own (shared state,
    so every worker counts together); built once per app."""
    limiter = getattr(request.app.state, "handoff_limiter", None)
    if limiter is None:
        settings: Settings = request.app.state.settings
        limits = settings.model_copy(update={"rate_limit_per_ip": settings.rate_limit_handoff_per_ip,
                                             "rate_limit_per_conversation": settings.rate_limit_handoff_per_conversation})
        services = _services(request)
        clock = getattr(services.limiter, "clock", None)  # the chat limiter's clock, when it has one
        limiter = RateLimiter(limits, _Namespaced(services.state, "handoff:"), **({"clock": clock} if clock else {}))
        request.app.state.handoff_limiter = limiter
    return limiter


def check_handoff_rate(request: Request, conversation_id: str) -> None:
    """转人工: at most a few requests a minute per client IP and per conversation (Chinese 429), so a
    flood cannot bury real requests in the staff console."""
    try:
        _handoff_limiter(request).check(_client_ip(request), conversation_id)
    except RateLimited as exc:
        contact = request.app.state.settings.service_contact
        raise RateLimited(f"转人工请求过于频繁，请稍后再试。急需帮助可直接联系：{contact}") from exc


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
CorpusDep = Annotated[CorpusService, Depends(get_corpus)]
ChatDep = Annotated[ChatService, Depends(get_chat)]
ConversationsDep = Annotated[ConversationStore, Depends(get_conversations)]

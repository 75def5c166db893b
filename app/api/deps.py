"""Dependencies as Annotated aliases, so routers stay one-liners. Everything comes from the services
built once at start (``app.main.Services``), the settings included. The getters are ``async def``:
FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop per request for an
attribute lookup."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.components.conversations import ConversationStore
from app.errors import RateLimited
from app.ops.ratelimit import Counters
from app.services.chat import ChatService
from app.services.corpus import CorpusService
from app.settings import Settings
from app.web.handoff import HandoffService


def services_of(request: Request):
    """The app's ``Services`` (app.main)."""
    return request.app.state.services


async def get_settings_dep(request: Request) -> Settings:
    return services_of(request).settings


async def get_corpus(request: Request) -> CorpusService:
    return services_of(request).corpus


async def get_chat(request: Request) -> ChatService:
    return services_of(request).chat


async def get_conversations(request: Request) -> ConversationStore:
    return services_of(request).conversations


async def get_handoff(request: Request) -> HandoffService:
    return services_of(request).handoff


def _client_ip(request: Request) -> str:
    return getattr(request.state, "client_ip", None) or (request.client.host if request.client else "unknown")


def admit_rate(request: Request, conversation_id: str | None) -> Counters | None:
    """Chat endpoints: this request's counters against the client IP's and the conversation's limits, for
    the statement that stores the question (ChatService.begin raises RateLimited, a Chinese 429); with
    Redis they are counted here."""
    return services_of(request).limiter.admit(_client_ip(request), conversation_id)


def check_handoff_rate(request: Request, conversation_id: str) -> None:
    """转人工: at most a few requests a minute per client IP and per conversation (Chinese 429), so a
    flood cannot bury real requests in the staff console."""
    services = services_of(request)
    try:
        services.handoff_limiter.check(_client_ip(request), conversation_id)
    except RateLimited as exc:
        raise RateLimited(f"转人工请求过于频繁，请稍后再试。急需帮助可直接联系：{services.settings.service_contact}") from exc


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
CorpusDep = Annotated[CorpusService, Depends(get_corpus)]
ChatDep = Annotated[ChatService, Depends(get_chat)]
ConversationsDep = Annotated[ConversationStore, Depends(get_conversations)]
HandoffDep = Annotated[HandoffService, Depends(get_handoff)]

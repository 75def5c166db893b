"""Dependencies as Annotated aliases, so routers stay one-liners."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.components.conversations import ConversationStore
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


def check_rate(request: Request, conversation_id: str | None) -> None:
    """Chat endpoints: count this request against the client IP's and the conversation's limits
    (raises RateLimited, a Chinese 429)."""
    ip = getattr(request.state, "client_ip", None) or (request.client.host if request.client else "unknown")
    _services(request).limiter.check(ip, conversation_id)


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
CorpusDep = Annotated[CorpusService, Depends(get_corpus)]
ChatDep = Annotated[ChatService, Depends(get_chat)]
ConversationsDep = Annotated[ConversationStore, Depends(get_conversations)]

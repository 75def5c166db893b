"""The composition root: every component and service is built once, here, from the one settings
object (``Services.build``); ``create_app`` adds the routers, middleware and error mapping.

Routers get what they need from ``request.app.state.services`` through thin dependencies
(app/api/deps.py); nothing is built per request or on first use. This is the one module of ``app``
that imports ``ingest`` (the ingestion service the staff console and the keyword index drive).
"""

from __future__ import annotations

import datetime as dt
import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.orm import sessionmaker

from app.admin.auth import TokenChecker
from app.admin.service import AdminServices
from app.api.errors import data_error_handler, validation_handler
from app.components.conversations import ConversationStore
from app.components.database import create_db_engine, create_session_factory
from app.components.embeddings import Embedder, create_embedder, create_query_embedder
from app.components.keyword_index import KeywordIndex, keyword_index_for
from app.components.registry import DocumentRegistry, LiveSet
from app.components.reranker import create_reranker
from app.components.file_store import check_free_space
from app.components.shared_state import SharedState, create_shared_state
from app.components.vector_store import ChromaStore
from app.errors import KunruyiError
from app.facts.checkup import Checkup
from app.facts.eligibility import Eligibility
from app.facts.matching import Matcher
from app.facts.store import PolicyFacts
from app.ops.http import OpsMiddleware
from app.ops.logs import configure_logging
from app.ops.ratelimit import RateLimiter, handoff_limiter
from app.services.answering import create_answerer
from app.services.chat import ChatService
from app.services.retrieval import Retriever
from app.services.corpus import CorpusService
from app.settings import Settings, check_extras, get_settings
from app.web.handoff import HandoffService
from app.web.security import install_web_security
from app.wechat.service import WeChatChannel, build_channels
from ingest.pipeline import IngestService

log = logging.getLogger(__name__)

@dataclass
class Services:
    settings: Settings  # the app's one settings object (routers read it through app.api.deps.SettingsDep)
    sessions: sessionmaker
    registry: DocumentRegistry
    store: ChromaStore
    embedder: Embedder  # the ingestion embedder; queries have their own (retriever.embedder)
    facts: PolicyFacts
    ingest: IngestService
    corpus: CorpusService
    keywords: KeywordIndex
    retriever: Retriever
    chat: ChatService
    conversations: ConversationStore
    admin: AdminServices
    state: SharedState  # dedupe, pending deliveries, tokens, rate limits (Redis or SQL)
    limiter: RateLimiter
    handoff: HandoffService
    handoff_limiter: RateLimiter
    channels: dict[str, WeChatChannel] = field(default_factory=dict)  # the configured WeChat accounts: mp, work
    matcher: Matcher | None = None  # 政策计算器 (issue 15): /api/match, /api/calendar, chat eligibility
    curation: Any = None  # app.curation.service.CurationServices (issue 16)

    @classmethod
    def build(cls, settings: Settings, embedder: Embedder | None = None,
              clock: Callable[[], dt.date] = dt.date.today) -> "Services":
        """Build every component and service from settings, each once, in dependency order. A wrong
        setting or a missing optional package fails here, at start, with a message naming the setting.
        Tests pass a shared embedder to save start-up time; ``clock`` is the day policies' validity is
        judged on, in chat and in the 政策计算器 alike (the benchmark pins it)."""
        check_extras(settings)
        sessions = create_session_factory(create_db_engine(settings))
        registry, facts = DocumentRegistry(sessions), PolicyFacts(sessions)
        embedder = embedder or create_embedder(settings)
        store = ChromaStore(settings, embedder.name, embedder.dimension)
        ingest = IngestService(settings=settings, embedder=embedder, store=store, registry=registry, facts=facts)
        keywords = keyword_index_for(ingest, settings)  # per-document updates, off the request path
        query_embedder = create_query_embedder(settings, like=embedder)  # never waits for ingestion
        keywords.refresh(force=True)
        retriever = Retriever(settings, query_embedder, store, keywords, reranker=create_reranker(settings),
                              live=LiveSet(registry, check_interval=settings.keyword_refresh_seconds))
        answerer = create_answerer(settings, keywords.idf)
        conversations = ConversationStore(sessions)
        chat = ChatService(settings, retriever, answerer, conversations, clock=clock)
        matcher = Matcher(facts, registry, clock=clock)
        chat.eligibility = Eligibility(  # "我们公司能申请哪些？" answered from policy items
            matcher, registry, titles=lambda: [v.title for v in retriever.live.current().values()])
        chat.checkup = Checkup(chat.eligibility, sessions)  # WeChat 政策体检, profile per OpenID
        state = create_shared_state(settings, sessions)
        admin = AdminServices.build(settings, sessions=sessions, ingest=ingest, embedder=embedder,
                                    conversations=conversations)
        services = cls(settings=settings, sessions=sessions, registry=registry, store=store, embedder=embedder,
                       facts=facts, ingest=ingest, corpus=CorpusService(registry, store), keywords=keywords,
                       retriever=retriever, chat=chat, conversations=conversations, admin=admin, state=state,
                       limiter=RateLimiter(settings, state), matcher=matcher,
                       **_edge(settings, chat, conversations, state))
        # Issue 16: corrected answers (chat.curated), the review gate (jobs.before_activate), versions, log.
        from app.curation.service import CurationServices

        services.curation = CurationServices.build(services)
        return services

    def with_settings(self, settings: Settings) -> "Services":
        """These services behind other edge settings (WeChat accounts, handoff, staff tokens, limits), for
        a second app over the same index and models (tests); the result's ``settings`` is the one object."""
        admin = replace(self.admin, tokens=TokenChecker(settings.admin_tokens))
        return replace(self, settings=settings, admin=admin, **_edge(settings, self.chat, self.conversations, self.state))

    def readiness(self) -> dict[str, str]:
        """Each backend's state; a failing one says what is down, so an operator knows where to look."""
        checks: dict[str, str] = {}
        for name, probe, what in (
            ("index", lambda: (self.store.heartbeat(), self.store.count()),
             f"Chroma {self.settings.chroma_url or self.settings.chroma_path}"),
            ("database", self.registry.generation, _safe_url(self.settings.sqlalchemy_url)),
            ("state", self.state.ping, _safe_url(self.settings.redis_url) if self.settings.redis_url else "SQL"),
            ("disk", lambda: check_free_space(self.settings), str(self.settings.data_dir)),
        ):
            try:
                probe()
                checks[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - report, do not raise
                # Redis is optional (rate limits fail open, chat answers): "degraded" keeps /readyz at 200.
                state = "degraded" if name == "state" and self.settings.redis_url else "unavailable"
                checks[name] = f"{state}: {what} ({type(exc).__name__}{': ' + str(exc) if name == 'disk' else ''})"
        return checks


def _edge(settings: Settings, chat: ChatService, conversations: ConversationStore, state: SharedState) -> dict:
    """What the routers at the edge use besides chat: 转人工 and its limits, the WeChat accounts."""
    return {"handoff": HandoffService(conversations, settings.service_contact),
            "handoff_limiter": handoff_limiter(settings, state),
            "channels": build_channels(settings, chat, conversations, state)}


def _safe_url(url: str) -> str:
    """The URL without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a SQLAlchemy-style URL
        return url.split("@")[-1]


def _error_handler(_request: Request, exc: KunruyiError) -> JSONResponse:
    if exc.status_code >= 500:  # an outage: the log says why (the citizen's message says only that it failed)
        cause = exc.detail or (repr(exc.__cause__) if exc.__cause__ else "")
        log.error("%s (%d): %s%s", exc.code, exc.status_code, exc.message, f" cause: {cause[:500]}" if cause else "")
    return JSONResponse({"error": exc.code, "message": exc.message}, status_code=exc.status_code)


def _database_handler(_request: Request, exc: Exception) -> JSONResponse:
    # The driver's own message (e.g. "connection refused", "database or disk is full"), never the
    # statement or its parameters, which can hold a citizen's text.
    orig = getattr(exc, "orig", None)
    reason = (str(orig).strip().splitlines() or [""])[0][:300] if orig is not None else ""
    log.error("database unavailable: %s%s", type(orig or exc).__name__, f": {reason}" if reason else "")
    return JSONResponse({"error": "backend_unavailable", "message": "数据库暂时不可用，请稍后重试"}, status_code=503)


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """The app over ``services`` (built at start from ``settings`` when not given). With both, the app
    uses ``services.with_settings(settings)``: one settings object, ``services.settings``."""
    if services is not None and settings is not None and settings is not services.settings:
        services = services.with_settings(settings)
    settings = services.settings if services is not None else settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if services is None:
            try:
                app.state.services = Services.build(settings)
            except KunruyiError as exc:  # a wrong setting or a missing package: say which, then fail the start
                log.error("启动失败 start-up failed: %s", exc.message)
                raise
        from app.pushes.runtime import start_pushes

        stop_pushes = start_pushes(app.state.services)  # issue 17: the push worker when KUNRUYI_PUSH_ENABLED
        yield
        stop_pushes()

    docs = {} if settings.api_docs_enabled else {"docs_url": None, "redoc_url": None, "openapi_url": None}
    app = FastAPI(title="昆如意企业服务助手 API", version="0.1.0", lifespan=lifespan, **docs)
    if services is not None:
        app.state.services = services
    configure_logging(settings)
    app.add_middleware(OpsMiddleware, settings=settings)  # request ids, metrics, access log, body cap
    install_web_security(app, settings)  # CORS from settings, CSP and other security headers
    app.add_exception_handler(KunruyiError, _error_handler)
    app.add_exception_handler(RequestValidationError, validation_handler)  # any bad body: 422, never 500
    app.add_exception_handler(DataError, data_error_handler)  # a value the database refuses: 422
    app.add_exception_handler(OperationalError, _database_handler)
    app.add_exception_handler(InterfaceError, _database_handler)

    from app.admin import router as admin
    from app.admin import facts_router
    from app.api import chat, documents, health, match
    from app.ops import router as ops
    from app.web import router as web
    from app.wechat import router as wechat

    app.include_router(health.router)
    app.include_router(ops.router)      # /metrics
    app.include_router(chat.router)
    app.include_router(documents.router)
    app.include_router(web.router)      # widget, demo page, document pages, handoff
    app.include_router(wechat.router)   # Official Account and WeCom callbacks
    app.include_router(admin.router)    # staff API and console
    app.include_router(match.router)    # 政策计算器: /api/match, /api/calendar
    app.include_router(facts_router.router)  # staff review of policy items: /api/admin/facts
    from app.curation import router as curation

    app.include_router(curation.router)  # issue 16: corrected answers, 命中测试, log, versions, review, dashboard
    from app.pushes import router as pushes

    app.include_router(pushes.router)  # issue 17: policy pushes, /api/admin/pushes
    return app

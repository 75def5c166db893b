"""Application factory: routers, error mapping, and the services built once at start."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.errors import KunruyiError
from app.services.corpus import CorpusService
from app.settings import Settings, get_settings
from ingest.pipeline import IngestService, build_ingest_service

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    ingest: IngestService
    corpus: CorpusService

    @classmethod
    def build(cls, settings: Settings) -> "Services":
        ingest = build_ingest_service(settings)
        return cls(settings=settings, ingest=ingest, corpus=CorpusService(ingest))

    def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            self.ingest.store.heartbeat()
            self.ingest.store.count()
            checks["index"] = "ok"
        except Exception as exc:  # noqa: BLE001 - report, do not raise
            checks["index"] = f"unavailable: {type(exc).__name__}"
        try:
            self.ingest.registry.generation()
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["database"] = f"unavailable: {type(exc).__name__}"
        return checks


def _error_handler(_request: Request, exc: KunruyiError) -> JSONResponse:
    return JSONResponse({"error": exc.code, "message": exc.message}, status_code=exc.status_code)


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.services = services or Services.build(settings)
        yield

    app = FastAPI(title="昆如意企业服务助手 API", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.add_exception_handler(KunruyiError, _error_handler)

    from app.api import documents, health

    app.include_router(health.router)
    app.include_router(documents.router)
    return app

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    """Readiness: the index and the database are reachable. Says which one is not."""
    checks = request.app.state.services.readiness()
    ok = all(v == "ok" or v.startswith("degraded") for v in checks.values())  # degraded: an optional backend
    status = ("ok" if all(v == "ok" for v in checks.values()) else "degraded") if ok else "unavailable"
    return JSONResponse({"status": status, "checks": checks}, status_code=200 if ok else 503)

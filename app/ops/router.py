from fastapi import APIRouter
from fastapi.responses import Response

from app.ops.metrics import render

router = APIRouter(tags=["ops"])


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    """Prometheus metrics (requests, latency, answers by kind, ingest jobs, WeChat deliveries)."""
    body, content_type = render()
    return Response(body, media_type=content_type)

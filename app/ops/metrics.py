"""Prometheus metrics, served at ``/metrics``.

With several uvicorn workers set ``PROMETHEUS_MULTIPROC_DIR`` to an empty, writable folder (the
Docker image does): every worker writes its samples there and ``/metrics`` adds them up.
"""

from __future__ import annotations

import os

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest,
                               multiprocess)

REQUESTS = Counter("kunruyi_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("kunruyi_http_request_duration_seconds", "HTTP request latency", ["route"],
                    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
ANSWERS = Counter("kunruyi_answers_total", "Answers by kind", ["kind"])  # grounded | refused | fallback | failed
INGEST_JOBS = Counter("kunruyi_ingest_jobs_total", "Ingest jobs finished", ["status"])
WECHAT_DELIVERIES = Counter("kunruyi_wechat_deliveries_total", "WeChat answer deliveries",
                            ["channel", "outcome"])
RATE_LIMITED = Counter("kunruyi_rate_limited_total", "Requests refused by a rate limit", ["scope"])
STATE_ERRORS = Counter("kunruyi_shared_state_errors_total", "Shared-state (Redis/SQL) calls that failed", ["op"])


def record_answer(*, grounded: bool, fallback: bool) -> None:
    ANSWERS.labels("fallback" if fallback else "grounded" if grounded else "refused").inc()


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST

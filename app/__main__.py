"""python -m app: serve on KUNRUYI_HOST:KUNRUYI_PORT over the index in KUNRUYI_DATA_DIR.

The database schema is migrated here, once, before uvicorn starts its workers (several workers
creating tables at the same time raced on a fresh PostgreSQL). A start that fails — the database
unreachable, a worker whose start-up fails — ends with a non-zero exit code, also with several
workers, so that `docker run`, restart policies and systemd see it.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys

import uvicorn
from pydantic import ValidationError
from uvicorn.config import STARTUP_FAILURE

from app.errors import KunruyiError
from app.ops.logs import configure_logging
from app.settings import check_extras, describe_invalid, get_settings

log = logging.getLogger("app")


def main() -> int:
    try:  # a wrong setting or a missing optional package: one message naming it, before anything starts
        settings = get_settings()
        check_extras(settings)
    except (ValidationError, KunruyiError) as exc:
        reason = describe_invalid(exc) if isinstance(exc, ValidationError) else exc.message
        print(f"拒绝启动 Refusing to start:\n{reason}", file=sys.stderr)
        return 2
    configure_logging(settings)
    if settings.workers > 1 and not settings.chroma_url:
        print(
            "拒绝启动：嵌入式 Chroma 只能由一个进程使用。多个 worker 请设置 KUNRUYI_CHROMA_URL 指向 Chroma 服务器"
            "（chroma run），或将 KUNRUYI_WORKERS 设为 1。\n"
            "Refusing to start: embedded Chroma is single-process; set KUNRUYI_CHROMA_URL for several workers.",
            file=sys.stderr,
        )
        return 2
    if not _create_schema(settings):
        return 1
    if settings.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several workers: each writes its metrics to files that /metrics adds up.
        metrics_dir = settings.data_dir / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    # log_config=None: uvicorn's own lines go through our handler (JSON when KUNRUYI_LOG_FORMAT=json).
    config = uvicorn.Config("app.main:create_app", factory=True, host=settings.host, port=settings.port,
                            workers=settings.workers, proxy_headers=False, access_log=False, log_config=None)
    if settings.workers == 1:
        server = uvicorn.Server(config)
        server.run()  # exits with STARTUP_FAILURE (3) itself when the app's start-up fails
        return 0 if server.started else STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    # uvicorn stops the parent when a worker fails to start, but returns normally: say it with the exit code.
    failed = [p.pid for p in supervisor.processes if p.exitcode == STARTUP_FAILURE]
    if failed:
        log.error("start-up failed in worker(s) %s; exiting with code %d", failed, STARTUP_FAILURE)
        return STARTUP_FAILURE
    return 0


def _create_schema(settings) -> bool:
    from app.components.database import create_db_engine, upgrade_schema

    engine = create_db_engine(settings)
    try:
        upgrade_schema(engine)  # Alembic migrations, adopting a database made before them
    except Exception as exc:  # noqa: BLE001 - any failure here means the service cannot work
        log.error("start-up failed: database schema could not be created (%s: %s)",
                  type(exc).__name__, (str(getattr(exc, "orig", exc)).strip().splitlines() or [""])[0][:300])
        print("启动失败：无法连接数据库或创建数据表，请检查 KUNRUYI_DATABASE_URL 与数据库状态（详见日志）。",
              file=sys.stderr)
        return False
    finally:
        engine.dispose()
    return True


if __name__ == "__main__":
    sys.exit(main())

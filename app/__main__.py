"""python -m app: serve on KUNRUYI_HOST:KUNRUYI_PORT over the index in KUNRUYI_DATA_DIR."""

from __future__ import annotations

import os
import shutil
import sys

import uvicorn

from app.ops.logs import configure_logging
from app.settings import get_settings


def main() -> int:
    settings = get_settings()
    configure_logging(settings)
    if settings.workers > 1 and not settings.chroma_url:
        print(
            "拒绝启动：嵌入式 Chroma 只能由一个进程使用。多个 worker 请设置 KUNRUYI_CHROMA_URL 指向 Chroma 服务器"
            "（chroma run），或将 KUNRUYI_WORKERS 设为 1。\n"
            "Refusing to start: embedded Chroma is single-process; set KUNRUYI_CHROMA_URL for several workers.",
            file=sys.stderr,
        )
        return 2
    if settings.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several workers: each writes its metrics to files that /metrics adds up.
        metrics_dir = settings.data_dir / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    uvicorn.run("app.main:create_app", factory=True, host=settings.host, port=settings.port,
                workers=settings.workers, proxy_headers=False, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""python -m app: serve on KUNRUYI_HOST:KUNRUYI_PORT over the index in KUNRUYI_DATA_DIR."""

from __future__ import annotations

import logging
import sys

import uvicorn

from app.settings import get_settings


def main() -> int:
    settings = get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    if settings.workers > 1 and not settings.chroma_url:
        print(
            "拒绝启动：嵌入式 Chroma 只能由一个进程使用。多个 worker 请设置 KUNRUYI_CHROMA_URL 指向 Chroma 服务器"
            "（chroma run），或将 KUNRUYI_WORKERS 设为 1。\n"
            "Refusing to start: embedded Chroma is single-process; set KUNRUYI_CHROMA_URL for several workers.",
            file=sys.stderr,
        )
        return 2
    uvicorn.run("app.main:create_app", factory=True, host=settings.host, port=settings.port,
                workers=settings.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())

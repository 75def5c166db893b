"""python -m app: serve on KUNRUYI_HOST:KUNRUYI_PORT over the index in KUNRUYI_DATA_DIR."""

from __future__ import annotations

import logging

import uvicorn

from app.settings import get_settings


def main() -> None:
    settings = get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    uvicorn.run("app.main:create_app", factory=True, host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()

"""Console scripts and styles served from the app itself (the console's CSP allows no other origin)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from fastapi.responses import FileResponse

from app.errors import RecordNotFound


def asset_route(folder: Path, media_types: dict[str, str]) -> Callable[[str], FileResponse]:
    """A GET endpoint serving the named files of ``folder`` (and nothing else) with ``no-cache``."""

    def asset(name: str) -> FileResponse:
        if name not in media_types:
            raise RecordNotFound("未找到该文件")
        return FileResponse(folder / name, media_type=media_types[name], headers={"Cache-Control": "no-cache"})

    return asset

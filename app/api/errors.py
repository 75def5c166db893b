"""Exception handlers for what the client sent wrong: a body that is not what the route expects
(422, never a 500) and values the database refuses (``DataError`` → 422).

Neither writes the request body or the SQL parameters to the log: both are the user's own text.
"""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError

log = logging.getLogger(__name__)

NOT_JSON = "请求内容不是有效的 JSON，请检查后重试"  # also for text, form or empty bodies


def _public(error: dict) -> dict:
    """An error entry that always serialises: location, type and message only (no input, no ctx,
    which may hold bytes, exceptions or the user's text)."""
    return {"loc": [str(part) for part in error.get("loc", ())], "type": str(error.get("type", "")),
            "msg": str(error.get("msg", ""))}


def _not_json(errors: list[dict]) -> bool:
    """The body as a whole is not a JSON object: invalid JSON, or a text/form body where an object was due."""
    for error in errors:
        loc = tuple(error.get("loc", ()))
        if error.get("type") == "json_invalid":
            return True
        if loc == ("body",) and isinstance(error.get("input"), (bytes, bytearray, str)):
            return True
    return False


def _field(loc) -> str:
    """The field's name: the last named part of the location (``files`` for body → files → 0)."""
    named = [str(part) for part in loc if isinstance(part, str) and part not in ("body", "query", "path")]
    return named[-1] if named else str(loc[-1])


def validation_handler(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    if _not_json(errors):
        message = NOT_JSON
    else:
        fields = "、".join(dict.fromkeys(_field(e.get("loc", ())) for e in errors if e.get("loc")))
        message = f"请求格式不正确（{fields}），请检查后重试"
    return JSONResponse({"error": "invalid_request", "message": message, "detail": [_public(e) for e in errors]},
                        status_code=422)


def data_error_handler(_request: Request, exc: DataError) -> JSONResponse:
    """The database refused a value (a NUL byte, a number out of range, text too long for its column)."""
    log.warning("database refused a value: %s", type(getattr(exc, "orig", None) or exc).__name__)
    return JSONResponse({"error": "invalid_request",
                         "message": "请求中含有无法保存的内容（如控制字符或超长、超范围的值），请检查后重试"},
                        status_code=422)

"""Logging set-up: plain text or one JSON object per line, every line tagged with the request id.

User messages and OpenIDs are personal data: code that logs them goes through ``personal()``, which
masks them unless ``KUNRUYI_LOG_PERSONAL_DATA`` is on.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re

from app.settings import Settings

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_log_personal = False


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str) -> str:
    """Control characters (and Unicode line separators) shown as escapes, so that text from a request
    can never start a new log line or rewrite the one it is in."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}",
                        text)


def personal(value: object) -> str:
    """The value itself when personal data may be logged, otherwise a length-only placeholder."""
    text = str(value)
    return text if _log_personal else f"<{len(text)} chars>"


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class TextFormatter(logging.Formatter):
    """One line per record: the message is escaped (a traceback, added after it, keeps its lines)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        for key in ("method", "path", "status", "duration_ms", "client"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(settings: Settings) -> None:
    """Idempotent: replaces the root handler, so calling it again (tests, reload) does not duplicate lines."""
    global _log_personal
    _log_personal = settings.log_personal_data
    handler = logging.StreamHandler()
    handler.addFilter(_RequestIdFilter())
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_kunruyi", False)]:
        root.removeHandler(old)
    handler._kunruyi = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for noisy in ("httpx", "chromadb.telemetry", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

"""Text that comes in from the outside, cleaned at the edge.

NUL and other control characters have no business in a question, an id or a contact field:
PostgreSQL refuses NUL in text (a 500 with the user's text in the log), SQLite stores it, and
they forge lines in text logs. Request models use ``CleanText`` for every free string, so what
reaches the services is already clean; tab, newline and carriage return are kept. Lone
surrogates (valid in JSON, not encodable as UTF-8) go too.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# In a URL path or query nothing below 0x20 is legitimate (percent-decoded).
_URL_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


def strip_controls(value: str) -> str:
    """``value`` without control characters (tab, newline and carriage return kept) and lone surrogates."""
    return _UNSAFE.sub("", value)


def has_url_controls(value: str) -> bool:
    return bool(_URL_UNSAFE.search(value))


CleanText = Annotated[str, AfterValidator(strip_controls)]

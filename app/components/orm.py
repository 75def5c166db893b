"""The declarative base every table derives from.

It lives apart from database.py so that database.py can import the table registry (app.schema),
which imports every table module, without an import cycle: table modules import only this.
"""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass

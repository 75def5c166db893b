"""Tables of the policy-facts features besides the policy items (app.facts.store): the WeChat 政策体检 profiles."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.components.orm import Base


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class CheckupRow(Base):
    """A company profile being asked for or kept (app.facts.checkup), keyed by channel and OpenID."""

    __tablename__ = "wechat_checkups"

    user_key: Mapped[str] = mapped_column(String(200), primary_key=True)  # channel:OpenID
    profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    step: Mapped[int] = mapped_column(Integer, default=0)  # 1..4 while asking, 0 when done
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)

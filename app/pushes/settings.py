"""Push settings (env prefix ``KUNRUYI_PUSH_``), kept apart from app.settings so this feature
owns them; documented in .env.example and docs/wechat.md."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PushSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KUNRUYI_PUSH_", env_file=".env", env_file_encoding="utf-8",
                                      extra="ignore")

    enabled: bool = Field(False, description="Run the push worker in the app (watcher, scheduler, sender) and "
                          "answer 订阅/退订 in WeChat. Off by default: pushes message citizens.")
    review: bool = Field(True, description="A batch waits for staff approval (console 政策推送) before it is sent.")
    weekly_limit: int = Field(3, ge=0, description="At most this many pushes per subscriber in 7 days; 0 = no limit.")
    quiet_hours: str = Field("21:00-08:00", pattern=r"^(\d{2}:\d{2}-\d{2}:\d{2})?$",
                             description="Local time (UTC+8) when nothing is sent; empty = none.")
    utc_offset_hours: int = Field(8, ge=-12, le=14, description="Offset of the local time used for quiet hours.")
    remind_days: int = Field(7, ge=1, le=60, description="A reminder goes out this many days before a window closes.")
    template_id: str = Field("", description="Official Account subscription-message template id (bizsend).")
    template_fields: str = Field("thing1,amount2,time3,thing4", description="Template data keys for programme, "
                                 "amount, window, and a note, in this order.")
    template_page: str = Field("", description="Mini-program page for the template (optional; the link is the item's page).")
    customer_service_hours: float = Field(48.0, ge=0, description="A user who wrote within this many hours gets "
                                          "a customer-service message instead of a subscription message.")
    max_attempts: int = Field(5, ge=1, description="Attempts per push on 5xx / network errors before it fails.")
    backoff_seconds: float = Field(30.0, ge=0, description="First retry delay; doubled on each attempt.")
    lease_seconds: float = Field(60.0, gt=0, description="A sender's lock on a batch; a killed sender's lock "
                                 "expires after this and another worker resumes the batch.")
    tick_seconds: float = Field(15.0, gt=0, description="How often the worker looks for new versions and due pushes.")
    concurrency: int = Field(4, ge=1, le=32, description="Subscribers sent to side by side within a batch (each "
                             "subscriber's pushes stay in order); a killed sender leaves at most this many unconfirmed.")
    sample_size: int = Field(20, ge=1, le=200, description="Recipients shown per batch in the console.")

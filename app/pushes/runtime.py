"""Wiring: the push service, sender and worker built from the app's services (or, for the
``python -m app.pushes`` sender, from settings alone: no index, no embedder)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable

from app.pushes.sender import Delivery, Sender, recent_writers_from
from app.pushes.service import PushService
from app.settings import PushSettings
from app.wechat.api import PlatformApi, mp_account, work_account

log = logging.getLogger(__name__)


def build_delivery(settings, state, push_settings: PushSettings, sessions) -> Delivery:
    mp_acc, work_acc = mp_account(settings), work_account(settings)
    mp = PlatformApi(mp_acc, state, settings.outbound_timeout) if mp_acc.configured else None
    work = PlatformApi(work_acc, state, settings.outbound_timeout) if work_acc.configured else None
    return Delivery(push_settings, mp, work,
                    recent_writers=recent_writers_from(sessions, push_settings.customer_service_hours))


@dataclass
class Pushes:
    service: PushService
    sender: Sender
    settings: PushSettings
    worker: "PushWorker | None" = None

    def tick(self) -> None:
        """One round of the worker: new live versions, the daily scan (once a day across workers), sending."""
        self.service.watch()
        today = self.service.today()
        if self.sender.state.claim(f"pushes:scan:{today.isoformat()}", 3 * 86400):
            self.service.scan(today)
        self.sender.send_due()


def build_pushes(services, push_settings: PushSettings | None = None) -> Pushes:
    push_settings = push_settings or services.settings.pushes
    settings = services.settings
    sessions = services.sessions
    service = PushService(sessions, services.matcher, services.registry, push_settings,
                          public_base_url=settings.public_base_url)
    sender = Sender(sessions, services.state, build_delivery(settings, services.state, push_settings, sessions),
                    push_settings, clock=service.clock)
    return Pushes(service, sender, push_settings)


def pushes_for(services) -> Pushes:
    """The app's Pushes, built on first use."""
    found = getattr(services, "pushes", None)
    if found is None:
        found = build_pushes(services)
        services.pushes = found
    return found


class PushWorker:
    def __init__(self, pushes: Pushes):
        self.pushes = pushes
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pushes", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.pushes.settings.tick_seconds):
            try:
                self.pushes.tick()
            except Exception:  # noqa: BLE001 - the next tick tries again
                log.exception("pushes: worker tick failed")


def start_pushes(services) -> Callable[[], None]:
    """Called from the app's lifespan: builds the pushes and, when KUNRUYI_PUSH_ENABLED, starts the worker."""
    pushes = pushes_for(services)
    services.chat.pushes = pushes  # the WeChat keyword hook (app.pushes.wechat.channel_reply) finds it here
    if not pushes.settings.enabled:
        return lambda: None
    pushes.worker = PushWorker(pushes)
    pushes.worker.start()
    return pushes.worker.stop

"""``python -m app.pushes send`` — send the approved push batches from the database and exit
(or keep going with ``--loop``). Needs only the database, the shared state and the WeChat
settings: no index and no embedder."""

from __future__ import annotations

import argparse
import logging
import time

from app.components.database import create_db_engine, create_session_factory
from app.components.shared_state import create_shared_state
from app.pushes.runtime import build_delivery
from app.pushes.sender import Sender
from app.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.pushes")
    parser.add_argument("command", choices=["send"])
    parser.add_argument("--loop", action="store_true", help="keep sending every KUNRUYI_PUSH_TICK_SECONDS")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    push_settings = settings.pushes
    sessions = create_session_factory(create_db_engine(settings))
    state = create_shared_state(settings, sessions)
    sender = Sender(sessions, state, build_delivery(settings, state, push_settings, sessions), push_settings)
    while True:
        counts = sender.send_due()
        print({k: v for k, v in counts.items() if v}, flush=True)
        if not args.loop:
            return 0
        time.sleep(push_settings.tick_seconds)


if __name__ == "__main__":
    raise SystemExit(main())

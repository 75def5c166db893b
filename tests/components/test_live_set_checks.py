"""The live document set reads the index generation at most once per check interval, and sees its
own process's changes at once (issue 14: fewer SQL round trips per answer)."""

from __future__ import annotations

from sqlalchemy import event

from app.components.database import create_db_engine, create_session_factory
from app.components.registry import DocumentRegistry, LiveSet
from app.settings import Settings


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _registry_pair(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    engine = create_db_engine(settings)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))  # args[2]: the SQL
    # Two registries on one database: this worker's and another process's (the ingest command).
    return DocumentRegistry(create_session_factory(engine)), DocumentRegistry(create_session_factory(engine)), statements


def _add(registry: DocumentRegistry, doc_id: str) -> None:
    meta = {"doc_id": doc_id, "title": doc_id, "source": f"{doc_id}.md"}
    registry.begin_version(meta, path=None, fmt="md", content_hash=f"h-{doc_id}", text=f"{doc_id} 正文")
    registry.activate(doc_id, 3)


def test_reads_once_per_interval_and_sees_its_own_changes_at_once(tmp_path):
    ours, other, statements = _registry_pair(tmp_path)
    clock = Clock()
    live = LiveSet(ours, check_interval=1.0, clock=clock)
    assert live.current() == {}

    statements.clear()
    for _ in range(20):
        live.current()
    assert statements == [], "no SQL within the interval"

    _add(ours, "ours")  # an upload in this process: the next answer serves it, no waiting
    assert set(live.current()) == {"ours"}

    _add(other, "theirs")  # another process: seen once the interval has passed
    assert set(live.current()) == {"ours"}
    clock.now += 1.01
    assert set(live.current()) == {"ours", "theirs"}

    other.mark_deleted("theirs")
    ours.mark_deleted("ours")  # our own delete leaves the set at once, and the read sees the other's too
    assert set(live.current()) == set()


def test_interval_zero_reads_the_generation_on_every_call(tmp_path):
    ours, other, statements = _registry_pair(tmp_path)
    live = LiveSet(ours, check_interval=0.0, clock=Clock())
    live.current()
    _add(other, "theirs")
    assert set(live.current()) == {"theirs"}
    statements.clear()
    live.current()
    assert len(statements) == 1  # the generation, nothing else when it did not move

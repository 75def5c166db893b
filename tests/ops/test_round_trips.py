"""SQL per chat answer (issue 14: at most 2 round trips, rate limiter on), on SQLite and PostgreSQL.

Statements are counted with a SQLAlchemy ``before_cursor_execute`` hook on the app's own engine,
through the real API. On PostgreSQL the network round trips are counted too, from libpq's own trace
of the messages the driver sends (each ``Sync`` or simple ``Query`` waits for the server once).
Reads made once per interval (the live set's generation, the corrected answers' revision: at most
once a second each) are moved out of the way with long intervals: they are not per answer.

Also: the limiter still counts across two workers (two engines) on one database, a refused question
is not stored, and a question is stored before its answer is computed and kept when answering fails.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from app.components.conversations import ConversationStore, MessageRow
from app.components.database import create_db_engine, create_session_factory
from app.components.shared_state import SqlState
from app.errors import RateLimited
from app.ops.ratelimit import RateLimiter
from app.services.chat import ChatService
from tests.chat.conftest import parse_sse

QUESTION = "高新技术企业认定有什么奖励？"
FOLLOW_UP = "那申报时间呢？"


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request) -> dict:
    """Settings overrides: the default SQLite in the data dir, or a schema of the session's PostgreSQL."""
    return {"database_url": request.getfixturevalue("postgres_schema_url")} if request.param == "postgresql" else {}


class SqlCounter:
    """Statements and transactions on one engine; on PostgreSQL also the round trips on the wire."""

    def __init__(self, engine):
        self.engine, self.statements, self.commits = engine, [], 0
        event.listen(engine, "before_cursor_execute", lambda *args: self.statements.append(args[2]))
        event.listen(engine, "commit", self._commit)
        self.trace = None
        if engine.dialect.name == "postgresql":
            self.trace = tempfile.TemporaryFile("w+")
            event.listen(engine, "connect", lambda dbapi_conn, _record: dbapi_conn.pgconn.trace(self.trace.fileno()))
            engine.dispose()  # connections opened from now on are traced

    def _commit(self, _conn) -> None:
        self.commits += 1

    def round_trips(self) -> int:
        self.trace.flush()
        self.trace.seek(0)
        sent = [line.split("\t")[3] for line in self.trace.read().splitlines() if line.split("\t")[1:2] == ["F"]]
        return sum(1 for message in sent if message.startswith(("Sync", "Query")))

    def reset(self) -> None:
        self.statements.clear()
        self.commits = 0
        if self.trace is not None:
            self.trace.seek(0)
            self.trace.truncate()


def test_an_answer_costs_at_most_two_round_trips(small_app, database, monkeypatch):
    monkeypatch.setattr("app.curation.answers.RECHECK_SECONDS", 3600.0)
    monkeypatch.setattr("app.components.database.IDLE_PING_SECONDS", 3600.0)  # however slow the host
    client = small_app(rate_limit_per_ip=1000, rate_limit_per_conversation=1000, keyword_refresh_seconds=3600,
                       **database)
    counter = SqlCounter(client.app.state.services.sessions.kw["bind"])
    assert client.post("/api/chat", json={"message": QUESTION}).json()["grounded"]  # warm: first reads, connections

    asked = []
    for kind in ("new conversation", "follow-up", "streamed follow-up"):
        counter.reset()
        conversation = asked[0]["conversation_id"] if asked else None
        if kind.startswith("streamed"):
            events = parse_sse(client.post("/api/chat/stream", json={"message": FOLLOW_UP,
                                                                     "conversation_id": conversation}).text)
            body = events[-1][1]
        else:
            body = client.post("/api/chat", json={"message": FOLLOW_UP if conversation else QUESTION,
                                                  "conversation_id": conversation}).json()
        assert body["grounded"], body
        asked.append(body)
        sql = [s.split()[0] + " " + s.split()[1] for s in counter.statements]
        if counter.engine.dialect.name == "postgresql":
            # One statement to count the limits, open the conversation, read its history and store the
            # question; one to store the answer and mark the question answered. No BEGIN/COMMIT.
            assert len(counter.statements) == 2, (kind, sql)
            # On the wire: the two statements (a pooled connection in use moments ago is not pinged).
            assert counter.round_trips() <= 2, kind
        else:
            # SQLite: two transactions in the process (no network); the statements within them.
            assert counter.commits == 2, (kind, sql)
            assert len(counter.statements) <= 6, (kind, sql)
    assert asked[1]["conversation_id"] == asked[2]["conversation_id"] == asked[0]["conversation_id"]


def _worker(settings, clock):
    """One worker's own engine, shared state, limiter, conversation store and chat service."""
    sessions = create_session_factory(create_db_engine(settings))
    store = ConversationStore(sessions)
    return RateLimiter(settings, SqlState(sessions, clock=clock), clock=clock), ChatService(settings, None, None, store)


def test_the_limiter_counts_across_workers_and_a_refused_question_is_not_stored(make_settings, database):
    settings = make_settings(rate_limit_per_ip=3, rate_limit_per_conversation=4, **database)
    now = [1_800_000_000.0]
    clock = lambda: now[0]  # noqa: E731 - one window for the whole test, whatever the wall clock
    workers = [_worker(settings, clock), _worker(settings, clock)]

    outcomes = []
    for i in range(5):
        limiter, chat = workers[i % 2]
        try:
            outcomes.append(chat.begin(f"问题{i}", counters=limiter.admit("203.0.113.7", None)).conversation_id)
        except RateLimited as exc:
            outcomes.append(str(exc))
    assert all(len(o) == 32 for o in outcomes[:3]), outcomes
    assert all("每分钟最多 3 次" in o for o in outcomes[3:]), outcomes
    store = workers[0][1].conversations
    with store._sessions() as session:
        stored = session.scalars(select(MessageRow.content).where(MessageRow.role == "user")).all()
    assert sorted(stored) == ["问题0", "问题1", "问题2"], "refused questions are not stored"

    # Per conversation, from many addresses at once on both workers: exactly the limit gets through.
    conversation = outcomes[0]
    admitted, refused, lock = [], [], threading.Lock()
    barrier = threading.Barrier(10)

    def ask(i: int) -> None:
        limiter, chat = workers[i % 2]
        barrier.wait()
        try:
            turn = chat.begin("那申报时间呢？", conversation, counters=limiter.admit(f"198.51.100.{i}", conversation))
            with lock:
                admitted.append(turn)
        except RateLimited:
            with lock:
                refused.append(i)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == 4 and len(refused) == 6
    assert {t.conversation_id for t in admitted} == {conversation}
    assert all([m.content for m in t.history][:1] == ["问题0"] for t in admitted), "each read the history"
    with store._sessions() as session:
        count = session.scalar(select(func.count()).select_from(MessageRow).where(MessageRow.conversation_id == conversation))
    assert count == 1 + 4

    now[0] += 60  # the next window
    limiter, chat = workers[1]
    assert chat.begin("问题5", counters=limiter.admit("203.0.113.7", None)).conversation_id


def test_the_question_is_stored_before_answering_and_kept_when_answering_fails(small_app, own_chroma, database):
    client = small_app(chroma_url=f"http://127.0.0.1:{own_chroma.port}", chroma_timeout=5,
                       rate_limit_per_ip=100, rate_limit_per_conversation=100, **database)
    sessions = client.app.state.services.sessions

    def question(content: str) -> MessageRow | None:
        with sessions() as session:
            return session.scalars(select(MessageRow).where(MessageRow.content == content)).first()

    with client.stream("POST", "/api/chat/stream", json={"message": QUESTION}) as response:
        lines = response.iter_lines()
        assert next(lines) == "event: meta"  # the answer has not been stored yet …
        stored = question(QUESTION)
        assert stored is not None and stored.status == "pending"  # … the question has
        rest = list(lines)
    assert any(line == "event: done" for line in rest)
    assert question(QUESTION).status == "ok"

    own_chroma.kill()  # answering now fails (the index is gone), after the question was stored
    down = client.post("/api/chat", json={"message": "企业开办要多久？"})
    assert down.status_code == 503
    failed = question("企业开办要多久？")
    assert failed is not None and failed.status == "failed", "the question is kept, marked failed"
    streamed = parse_sse(client.post("/api/chat/stream", json={"message": "办理需要什么材料？"}).text)
    assert streamed[-1][0] == "error"
    assert question("办理需要什么材料？").status == "failed"


def test_a_pooled_connection_that_died_while_idle_is_replaced_before_use(make_settings, postgres_schema_url, monkeypatch):
    """No pre-ping on every checkout, but an idle connection is tested: a backend killed while the
    connection sat in the pool (a server restart, an idle timeout) never reaches a request."""
    from sqlalchemy import text

    monkeypatch.setattr("app.components.database.IDLE_PING_SECONDS", 0.0)  # every used connection counts as idle
    settings = make_settings(database_url=postgres_schema_url)
    engine = create_db_engine(settings)
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        killer = create_db_engine(settings)
        with killer.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar() is True
        killer.dispose()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
    finally:
        engine.dispose()

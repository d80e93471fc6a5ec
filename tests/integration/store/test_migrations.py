"""Migrations of the job store on PostgreSQL, and PostgreSQL's writers taking turns.

The migration tests are those of tests/unit/broker/store/test_migrations.py that take
``store_url``, collected here again: pytest runs a test function in each module that holds
it, with the fixtures of that module's folder, and here ``store_url`` is a PostgreSQL
database (conftest.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import insert, select, text, update

from broker.store.db import Database, utcnow
from broker.store.schema import workers
from tests.unit.broker.store.test_migrations import (  # noqa: F401 (collected here again)
    test_append_only_triggers_refuse_updates_and_deletes,
    test_concurrent_first_opens_migrate_once,
    test_downgrade_to_initial_and_back,
    test_empty_database_reaches_head_and_matches_schema,
    test_store_made_by_create_all_is_adopted_keeping_rows,
    test_store_made_by_create_all_of_today_is_stamped,
    test_upgrade_at_head_is_one_query,
)

pytestmark = pytest.mark.integration


def _pg_waiters(db: Database) -> int:
    """How many sessions wait for an advisory lock."""
    with db.read() as conn:
        query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        return int(conn.execute(text(query)).scalar_one())


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def _heartbeat(db: Database) -> None:
    with db.write(exclusive=False) as conn:
        conn.execute(update(workers).where(workers.c.id == "w-x").values(last_seen=utcnow()))


def test_postgresql_writers_take_turns(store_url: str, open_db: Callable[[str], Database]) -> None:
    """On PostgreSQL a write transaction waits for the one in progress to commit, as on
    SQLite; ``write(exclusive=False)`` does not wait."""
    db = open_db(store_url)
    order: list[str] = []
    a_holds, a_may_commit = threading.Event(), threading.Event()

    def writer_a() -> None:
        with db.write() as conn:
            conn.execute(
                insert(workers),
                {
                    "id": "w-a",
                    "hostname": "h",
                    "pid": 1,
                    "started_at": utcnow(),
                    "last_seen": utcnow(),
                },
            )
            a_holds.set()
            assert a_may_commit.wait(30)
            order.append("a commits")

    def writer_b() -> None:
        with db.write() as conn:
            order.append("b writes")
            seen = conn.execute(select(workers.c.id)).scalars().all()
            order.append(f"b sees {seen}")

    thread_a = threading.Thread(target=writer_a)
    thread_a.start()
    assert a_holds.wait(30)
    # A heartbeat-like write does not wait for A.
    heartbeat = threading.Thread(target=_heartbeat, args=(db,))
    heartbeat.start()
    heartbeat.join(30)
    assert not heartbeat.is_alive(), "write(exclusive=False) waited for the write lock"
    thread_b = threading.Thread(target=writer_b)
    thread_b.start()
    _wait_for(lambda: _pg_waiters(db) == 1, "B waits for the write lock")
    assert order == []
    a_may_commit.set()
    thread_a.join(30)
    thread_b.join(30)
    assert order == ["a commits", "b writes", "b sees ['w-a']"]

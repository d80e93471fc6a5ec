"""Migrations of the job store, on SQLite (``store_url``: tests/conftest.py).

tests/integration/store/test_migrations.py runs the tests that take ``store_url`` again on
PostgreSQL.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Engine,
    ForeignKeyConstraint,
    Index,
    MetaData,
    Table,
    UniqueConstraint,
    create_engine,
    event,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from broker.store import migrate
from broker.store.db import Database, utcnow
from broker.store.schema import audit, jobs, metadata

ROOT = Path(__file__).resolve().parents[4]


def _differences(engine: Engine) -> list[Any]:
    """What alembic's autogenerate finds between the database and schema.py."""
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))


def _old_metadata(missing: set[str]) -> MetaData:
    """schema.py as an earlier qcbroker made it with create_all: without the tables and the
    ``table.column``s named in ``missing``, and without the parts of 0002 in any case."""
    missing = missing | {"tokens", "jobs.client_key", "console_sessions"}  # (it needs tokens)
    old = MetaData()
    for table in metadata.sorted_tables:
        if table.name in missing:
            continue
        columns = [c._copy() for c in table.columns if f"{table.name}.{c.name}" not in missing]
        kept = {c.name for c in columns}
        # Column copies bring their single-column indexes and unique constraints, but no
        # foreign keys; add those and the table-level constraints and indexes.
        foreign_keys = [
            ForeignKeyConstraint(
                [c.name for c in fk.columns], [e.target_fullname for e in fk.elements]
            )
            for fk in table.foreign_key_constraints
        ]
        uniques = [
            UniqueConstraint(*c.columns.keys(), name=c.name)
            for c in table.constraints
            if isinstance(c, UniqueConstraint) and c.name and kept.issuperset(c.columns.keys())
        ]
        indexes = [
            Index(i.name, *(c.name for c in i.columns), unique=i.unique)
            for i in table.indexes
            if kept.issuperset(c.name for c in i.columns) and not any(c.index for c in i.columns)
        ]
        Table(table.name, old, *columns, *foreign_keys, *uniques, *indexes)
    return old


def _job_row(job_id: str) -> dict[str, Any]:
    return {
        "id": job_id,
        "proposal": "p1",
        "user": "ada",
        "algorithm": "vqe",
        "backend": "aer",
        "spec": {"n": 1},
        "spec_sha256": "0" * 64,
        "state": "done",
        "policy_revision": "r1",
        "created_at": utcnow(),
        "updated_at": utcnow(),
    }


def test_head_is_the_newest_script() -> None:
    """HEAD names the head of the script directory (it serves the fast path)."""
    assert ScriptDirectory.from_config(migrate.config()).get_current_head() == migrate.HEAD


def test_empty_database_reaches_head_and_matches_schema(
    store_url: str, open_db: Callable[[str], Database]
) -> None:
    """An empty database upgraded to head is exactly schema.py."""
    db = open_db(store_url)
    assert migrate.current(db.engine) == migrate.HEAD
    assert _differences(db.engine) == []


@pytest.mark.parametrize(
    "missing",
    [
        pytest.param(set(), id="before-0002"),
        pytest.param(
            {"occupancy", "policy_revisions", "tasks.size", "jobs.qos"}, id="first-release"
        ),
    ],
)
def test_store_made_by_create_all_is_adopted_keeping_rows(
    store_url: str, open_db: Callable[[str], Database], missing: set[str]
) -> None:
    """A store made with create_all by an earlier version (no alembic_version) gets the
    tables and columns it lacks and is stamped, then upgraded; its rows stay."""
    engine = create_engine(store_url, poolclass=NullPool)
    old = _old_metadata(missing)
    old.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(old.tables["jobs"]), [_job_row("j-1"), _job_row("j-2")])
        conn.execute(
            insert(old.tables["audit"]),
            {"at": utcnow(), "actor": "ada", "action": "submit", "detail": {}},
        )
    inspector = inspect(engine)
    assert not inspector.has_table("tokens")
    assert "client_key" not in {c["name"] for c in inspector.get_columns("jobs")}
    engine.dispose()

    db = open_db(store_url)
    assert migrate.current(db.engine) == migrate.HEAD
    assert _differences(db.engine) == []
    with db.read() as conn:
        assert conn.execute(select(jobs.c.id, jobs.c.client_key).order_by(jobs.c.id)).all() == [
            ("j-1", None),
            ("j-2", None),
        ]
        assert conn.execute(select(audit.c.actor)).scalars().all() == ["ada"]
    with pytest.raises(DBAPIError, match="append-only"), db.write() as conn:
        conn.execute(update(audit).values(actor="eve"))


def test_store_made_by_create_all_of_today_is_stamped(
    store_url: str, open_db: Callable[[str], Database]
) -> None:
    """A store that create_all made with today's tables is stamped at the revision whose
    columns it has, not migrated again."""
    engine = create_engine(store_url, poolclass=NullPool)
    metadata.create_all(engine)
    engine.dispose()
    db = open_db(store_url)
    assert migrate.current(db.engine) == migrate.HEAD
    assert _differences(db.engine) == []


def test_append_only_triggers_refuse_updates_and_deletes(
    store_url: str, open_db: Callable[[str], Database]
) -> None:
    """The migrated store refuses UPDATE and DELETE on audit."""
    db = open_db(store_url)
    with db.write() as conn:
        conn.execute(insert(audit), {"at": utcnow(), "actor": "a", "action": "b"})
    with pytest.raises(DBAPIError, match="append-only"), db.write() as conn:
        conn.execute(update(audit).values(actor="eve"))
    with pytest.raises(DBAPIError, match="append-only"), db.write() as conn:
        conn.execute(audit.delete())
    with db.read() as conn:
        assert conn.execute(select(audit.c.actor)).scalars().all() == ["a"]


def test_upgrade_at_head_is_one_query(store_url: str, open_db: Callable[[str], Database]) -> None:
    """Upgrading a store at head again changes nothing and asks one question."""
    db = open_db(store_url)
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    migrate.upgrade(db.engine)
    migrate.upgrade(db.engine)
    asked = [s for s in statements if s != "BEGIN"]  # SQLite's readers begin with BEGIN
    assert asked == ["SELECT version_num FROM alembic_version"] * 2
    assert migrate.current(db.engine) == migrate.HEAD


def test_downgrade_to_initial_and_back(store_url: str, open_db: Callable[[str], Database]) -> None:
    """0002 can be taken back, and applied again."""
    db = open_db(store_url)
    with db.engine.connect() as conn, conn.begin():
        command.downgrade(migrate.config(conn), migrate.INITIAL)
    assert migrate.current(db.engine) == migrate.INITIAL
    assert not inspect(db.engine).has_table("tokens")
    migrate.upgrade(db.engine)
    assert _differences(db.engine) == []


_OPEN_WHEN_TOLD = """
import sys, time
from pathlib import Path
from broker.store.db import Database
ready, go, url = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
ready.touch()
while not go.exists():
    time.sleep(0.005)
Database(url).dispose()
"""


def test_concurrent_first_opens_migrate_once(
    store_url: str, tmp_path: Path, open_db: Callable[[str], Database]
) -> None:
    """Several processes opening a new store at once all succeed, and leave it at head."""
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _OPEN_WHEN_TOLD,
                str(tmp_path / f"ready{i}"),
                str(go),
                store_url,
            ],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(6)
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready{i}").exists() for i in range(6)):
        assert time.monotonic() < deadline, "the processes did not start"
        time.sleep(0.01)
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    db = open_db(store_url)
    assert migrate.current(db.engine) == migrate.HEAD
    assert _differences(db.engine) == []

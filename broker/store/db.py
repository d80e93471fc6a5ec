"""Connections to the job store: SQLAlchemy 2 Core over SQLite (default) or PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url

from broker.store.schema import metadata


def utcnow() -> datetime:
    """Now, as the naive UTC datetime the store keeps."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_id(prefix: str) -> str:
    """A fresh identifier such as ``j-3f2a9c1d0b7e``."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def serialize(conn: Connection, name: str) -> None:
    """Make writers that name the same ``name`` take turns until the transaction ends:
    a PostgreSQL advisory lock (SQLite's writers already take turns from BEGIN IMMEDIATE)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take over transaction control from pysqlite so that SAVEPOINT and BEGIN IMMEDIATE
        # behave as documented (SQLAlchemy's recipe for serializable SQLite).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the lock at BEGIN, so read-check-write sequences (budget checks,
        # task claims) cannot interleave between processes.
        readonly = conn.get_execution_options().get("qcb_readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


class Database:
    """An engine with the schema created, and transactions as context managers."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite"):
            self.engine = _sqlite_engine(url)
        else:
            self.engine = create_engine(url, pool_pre_ping=True)
        metadata.create_all(self.engine)
        _add_missing_columns(self.engine)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A transaction that may write; committed on success, rolled back on error."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (takes no write lock on SQLite)."""
        with self.engine.connect().execution_options(qcb_readonly=True) as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        """Close pooled connections (call after fork)."""
        self.engine.dispose()


def _add_missing_columns(engine: Engine) -> None:
    """Add the nullable columns that a store made by an earlier version lacks.

    A stop-gap for stores on this machine made before a column existed; versioned
    migrations (Alembic) replace it in service mode.
    """
    with engine.connect() as conn, conn.begin():
        inspector = inspect(conn)
        for table in metadata.sorted_tables:
            present = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in present and column.nullable:
                    kind = column.type.compile(dialect=engine.dialect)
                    conn.exec_driver_sql(
                        f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'
                    )

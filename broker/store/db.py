"""Connections to the job store: SQLAlchemy 2 Core over SQLite (default) or PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, literal_column, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url

from broker.store import jsoncodec, migrate


def utcnow() -> datetime:
    """Now, as the naive UTC datetime the store keeps."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_id(prefix: str) -> str:
    """A fresh identifier such as ``j-3f2a9c1d0b7e``."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# Every exclusive write transaction on PostgreSQL takes this advisory lock first, so that
# writers take turns as SQLite's BEGIN IMMEDIATE makes them (b"qcbwrite" as a bigint, apart
# from advisory_lock()'s hashtext() keys, which are int4).
_WRITE_LOCK = text(f"SELECT pg_advisory_xact_lock({int.from_bytes(b'qcbwrite', 'big')})")


def advisory_lock(conn: Connection, name: str) -> None:
    """Make writers that name the same ``name`` take turns until the transaction ends:
    a PostgreSQL advisory lock (SQLite's writers already take turns from BEGIN IMMEDIATE)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, connect_args={"timeout": 60}, json_serializer=jsoncodec.dumps,
        json_deserializer=jsoncodec.loads,
    )  # fmt: skip

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take over transaction control from pysqlite so that SAVEPOINT and BEGIN IMMEDIATE
        # behave as documented (SQLAlchemy's recipe for serializable SQLite).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode, NORMAL syncs at checkpoints, not at every commit: a killed process
        # loses nothing committed; a power cut may lose the last commits, never consistency.
        cursor.execute("PRAGMA synchronous=NORMAL")
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


def _with_driver(url: str) -> URL:
    """``url`` parsed; plain ``postgresql://`` means psycopg 3 (the service extra installs
    it; SQLAlchemy's default would be psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def insert_once(conn: Connection, table: Table, **values: Any) -> bool:
    """Insert a row unless one with the same unique key is there; True if inserted.

    ``INSERT ... ON CONFLICT DO NOTHING`` on both stores: one statement, where catching
    the unique violation takes a savepoint around the insert (three)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(table).values(**values).on_conflict_do_nothing()
    return conn.execute(insert.returning(literal_column("1"))).first() is not None


class Database:
    """An engine on a store migrated to the current schema, and transactions as context
    managers. Writers take turns on SQLite and PostgreSQL alike (see :meth:`write`)."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = _with_driver(url)
        if parsed.get_backend_name() == "sqlite":
            self.engine = _sqlite_engine(url)
        else:
            self.engine = create_engine(
                parsed, pool_pre_ping=True, json_serializer=jsoncodec.dumps,
                json_deserializer=jsoncodec.loads,
            )  # fmt: skip
        migrate.upgrade(self.engine)

    @contextmanager
    def write(self, *, exclusive: bool = True) -> Iterator[Connection]:
        """A transaction that may write; committed on success, rolled back on error.

        Exclusive write transactions take turns, so that a read-check-write sequence in one
        cannot interleave with another's: on SQLite from ``BEGIN IMMEDIATE``, on PostgreSQL
        from an advisory lock held until the transaction ends. ``exclusive=False`` skips the
        PostgreSQL lock, for writes that need no turn (a single statement such as a
        heartbeat); SQLite's writers take turns all the same.
        """
        with self.engine.connect() as conn, conn.begin():
            if exclusive and conn.dialect.name == "postgresql":
                conn.execute(_WRITE_LOCK)
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (takes no write lock on SQLite)."""
        with self.engine.connect().execution_options(qcb_readonly=True) as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        """Close pooled connections (call after fork)."""
        self.engine.dispose()


def ensure_database(url: str) -> bool:
    """Create the PostgreSQL database of ``url`` if it does not exist; True if it did.
    (A SQLite file is created on first use anyway.)"""
    from sqlalchemy.exc import OperationalError

    parsed = _with_driver(url)
    if parsed.get_backend_name() != "postgresql":
        return False
    probe = create_engine(parsed)
    try:
        with probe.connect():
            return False
    except OperationalError as exc:
        if "does not exist" not in str(exc):
            raise
    finally:
        probe.dispose()
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{parsed.database}"')
    finally:
        admin.dispose()
    return True

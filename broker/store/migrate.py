"""Versioned migrations of the job store (Alembic, run in code: no alembic.ini).

``Database`` calls :func:`upgrade` each time it opens a store. A store at :data:`HEAD`
costs one query; any other store is brought to head under a lock, so that several
processes opening a new store at once migrate it once.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Column, Connection, Engine, Index, Table, inspect, text
from sqlalchemy.exc import DBAPIError

from broker.store.schema import metadata

HEAD = "0009_console_sessions"
"""The newest revision: the schema of ``broker.store.schema``."""

INITIAL = "0001_initial"
"""The revision of stores made by ``metadata.create_all``, before migrations existed."""

SCRIPTS = Path(__file__).with_name("migrations")
"""The Alembic script directory."""

# Key of the PostgreSQL advisory lock that upgrades take (b"qcb.migr" as a bigint); it is
# apart from the write lock's key and from advisory_lock()'s hashtext() keys (int4).
_UPGRADE_LOCK = int.from_bytes(b"qcb.migr", "big")

# Alembic's ``context`` and ``op`` are module-wide proxies, so one process runs one
# migration at a time, whatever the store.
_IN_PROCESS = threading.Lock()


def config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the store's scripts, running on ``connection``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def current(engine: Engine) -> str | None:
    """The revision the store is at; None for an empty store or one made before migrations."""
    with _reader(engine) as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Bring the store to :data:`HEAD`: create it, adopt a store made before migrations
    existed, or apply the revisions it lacks. Costs one query when it is at head already.

    Concurrent callers take turns: on PostgreSQL under an advisory lock; on SQLite because
    the engines of ``Database`` begin write transactions with ``BEGIN IMMEDIATE``.
    """
    if _version(engine) == HEAD:
        return
    with _IN_PROCESS, engine.connect() as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"SELECT pg_advisory_xact_lock({_UPGRADE_LOCK})"))
        _upgrade_locked(conn)


def _upgrade_locked(conn: Connection) -> None:
    """Upgrade on ``conn``, in a transaction that holds the upgrade lock."""
    revision = MigrationContext.configure(conn).get_current_revision()
    if revision == HEAD:  # another process upgraded it while this one waited
        return
    cfg = config(conn)
    if revision is None and set(inspect(conn).get_table_names()) & set(metadata.tables):
        revision = _adopt(conn)
        command.stamp(cfg, revision)
    try:
        command.upgrade(cfg, "head")
    except CommandError as error:
        raise RuntimeError(
            f"cannot upgrade the store {conn.engine.url!r} from revision {revision!r} "
            f"(made by a newer qcbroker?): {error}"
        ) from error


def _adopt(conn: Connection) -> str:
    """Bring a store made with ``metadata.create_all`` to a revision; return that revision.

    Such stores are no longer made; this knows the schemas up to ``0003_driver``.
    """
    inspector = inspect(conn)
    if inspector.has_table("tokens"):
        # Made by create_all with the schema of 0002 (before migrations existed), or of a
        # later revision (a test's create_all): stamp the revision whose columns it has.
        columns = {c["name"] for c in inspector.get_columns("tokens")}
        return "0003_driver" if "job_id" in columns else "0002_service"
    # Run 0001 as opening a store used to run create_all: make only the tables and indexes
    # the store lacks, and add the nullable columns (of 0001) that its tables lack. The
    # append-only triggers are made if absent.
    context = MigrationContext.configure(conn)
    _tolerate_existing(context)
    initial = ScriptDirectory.from_config(config()).get_revision(INITIAL)
    assert initial is not None
    with Operations.context(context):
        initial.module.upgrade()
    return INITIAL


def _tolerate_existing(context: MigrationContext) -> None:
    """Make ``context`` create only the tables its database lacks, with their indexes (as
    create_all does); for a table that exists, add the nullable columns it lacks instead."""
    conn, impl = context.connection, context.impl
    assert conn is not None
    create_table, create_index = impl.create_table, impl.create_index
    operations = Operations(context)
    created: set[str] = set()

    def create_table_if_absent(table: Table, **kw: Any) -> None:
        inspector = inspect(conn)
        if not inspector.has_table(table.name):
            create_table(table, **kw)
            created.add(table.name)
            return
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present and column.nullable:
                operations.add_column(
                    table.name, Column(column.name, column.type, comment=column.comment)
                )

    def create_index_if_new_table(index: Index, **kw: Any) -> None:
        if index.table is not None and index.table.name in created:
            create_index(index, **kw)

    # This context serves this one run only.
    setattr(impl, "create_table", create_table_if_absent)  # noqa: B010
    setattr(impl, "create_index", create_index_if_new_table)  # noqa: B010


def _version(engine: Engine) -> str | None:
    """The revision in ``alembic_version`` with one query; None where there is no such table."""
    try:
        with _reader(engine) as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        return None
    return None if version is None else str(version)


def _reader(engine: Engine) -> Connection:
    """A connection whose transactions take no write lock on SQLite (see ``Database.read``)."""
    return engine.connect().execution_options(qcb_readonly=True)

"""Alembic environment of the job store.

``broker.store.migrate`` runs it on a connection it passes in
``config.attributes["connection"]`` (already in a transaction, which the caller commits).
Without one, it connects to the ``sqlalchemy.url`` option instead, which is how a developer
drafts a revision with autogenerate.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool

from broker.store.schema import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite alters most of a table only by copying it ("batch" mode).
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"),
            target_metadata=metadata,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    elif connection is not None:
        _run(connection)
    else:
        url = config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("pass a connection in config.attributes or set sqlalchemy.url")
        engine = create_engine(url, poolclass=pool.NullPool)
        with engine.connect() as conn:
            _run(conn)
            conn.commit()


_main()

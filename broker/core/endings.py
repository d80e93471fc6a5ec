"""A job's end, whatever ends it: its final state, its holds released, its token revoked."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, update

from backends.states import TaskState
from broker.core import transitions
from broker.store import ledger
from broker.store.db import utcnow
from broker.store.schema import tokens


def end_job(
    conn: Connection,
    job_id: str,
    state: TaskState,
    message: str,
    revision: str,
    result: dict[str, Any] | None = None,
) -> None:
    """End a job in the caller's transaction: ``state`` (final) with ``message`` and
    ``result``, the ledger's holds of the job released under policy ``revision``, and a
    driver program's token revoked (it ends with its job)."""
    transitions.finish_job(conn, job_id, state, message, result)
    ledger.release(conn, job_id=job_id, revision=revision)
    conn.execute(
        update(tokens)
        .where(tokens.c.job_id == job_id, tokens.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )

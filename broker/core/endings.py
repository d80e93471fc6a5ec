"""A job's end, whatever ends it: its final state, its holds released, its token revoked,
the jobs that wait for it freed or cancelled."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from backends.states import TaskState
from broker.core import dependencies, transitions
from broker.store import ledger
from broker.store.audit import record_audit
from broker.store.db import Database, advisory_lock, utcnow
from broker.store.schema import jobs, tokens


def partial(progress: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a job that ends early keeps as its result: its progress so far, marked partial."""
    return {**progress, "partial": True} if progress else None


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
    driver program's token revoked (it ends with its job); the jobs that wait for it freed,
    or cancelled with why when it can never meet their dependency (and so on down)."""
    _finish(conn, job_id, state, message, revision, result)
    # A loop, not recursion: a tenant's chain of dependent jobs may be any length.
    doomed = dependencies.settle(conn, job_id, state)
    while doomed:
        dependent, why = doomed.pop(0)
        advisory_lock(conn, f"qcb.job.{dependent}")  # after ours: dependents are newer
        found = conn.execute(select(jobs.c.state).where(jobs.c.id == dependent)).first()
        if found is None or TaskState(found.state).final:
            continue
        transitions.cancel_job_tasks(conn, dependent)
        _finish(conn, dependent, TaskState.CANCELLED, why, revision, None)
        doomed += dependencies.settle(conn, dependent, TaskState.CANCELLED)


def _finish(
    conn: Connection,
    job_id: str,
    state: TaskState,
    message: str,
    revision: str,
    result: dict[str, Any] | None,
) -> None:
    """One job's end: its state, its holds released, its driver token revoked."""
    transitions.finish_job(conn, job_id, state, message, result)
    ledger.release(conn, job_id=job_id, revision=revision)
    conn.execute(
        update(tokens)
        .where(tokens.c.job_id == job_id, tokens.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def fail_unrunnable(db: Database, job_id: str, exc: Exception, revision: str) -> bool:
    """Fail a job whose step could not be computed, in a transaction of its own (the one
    that raised is rolled back), releasing its holds as any other end does; whether it
    was not final before."""
    what = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    with db.write(exclusive=False) as conn:
        advisory_lock(conn, f"qcb.job.{job_id}")
        job = conn.execute(select(jobs.c.state, jobs.c.step).where(jobs.c.id == job_id)).first()
        if job is None or TaskState(job.state).final:
            return False
        message = (
            f"step {job.step + 1} could not be computed ({what[:500]}); the job stopped "
            "and its holds were released"
        )
        end_job(conn, job_id, TaskState.FAILED, message, revision)
    return True


def cancel_job(db: Database, job_id: str, user: str, revision: str) -> None:
    """Cancel a job for ``user`` under policy ``revision`` (read before the write turn):
    pending tasks never start, running ones are stopped by their worker; what the job had
    reached (a VQE's best energy so far) is its partial result."""
    with db.write(exclusive=False) as conn:
        advisory_lock(conn, f"qcb.job.{job_id}")
        job = conn.execute(select(jobs).where(jobs.c.id == job_id)).one_or_none()
        if job is None or TaskState(job.state).final:
            return
        transitions.cancel_job_tasks(conn, job_id)
        message = f"cancelled by {user}"
        end_job(conn, job_id, TaskState.CANCELLED, message, revision, result=partial(job.progress))
        record_audit(conn, user, "cancel", job_id)

"""Holding a job (``qcb hold``, Slurm's ``scontrol hold``): its pending tasks are not
released until ``qcb release``; tasks already queued or running go on. The hold is the
job row's ``held_by`` (who holds it), which the dispatcher's pending query skips."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from backends.states import TaskState
from broker.core import transitions
from broker.errors import NotFound
from broker.store.audit import record_audit
from broker.store.db import advisory_lock
from broker.store.schema import jobs, tasks

if TYPE_CHECKING:
    from broker.core.orchestrator import Broker


def _held(broker: Broker, job_id: str, user: str, held_by: str | None) -> bool:
    """Set the job's hold; whether anything changed (a final job changes nothing)."""
    with broker.db.write(exclusive=False) as conn:
        advisory_lock(conn, f"qcb.job.{job_id}")
        if conn.execute(select(jobs.c.id).where(jobs.c.id == job_id)).first() is None:
            raise NotFound(f"no job {job_id!r}", hint="`qcb jobs` lists your jobs")
        if not transitions.set_hold(conn, job_id, held_by):
            return False
        record_audit(conn, user, "hold" if held_by else "release", job_id)
    return True


def hold(broker: Broker, job_id: str, user: str) -> bool:
    """Hold the job for ``user``; whether it was not held (and not final) before."""
    return _held(broker, job_id, user, user)


def release(broker: Broker, job_id: str, user: str) -> bool:
    """Let the job's pending tasks go, at once where this process sends; whether it was
    held before."""
    if not _held(broker, job_id, user, None):
        return False
    dispatch = broker.dispatch
    engine = dispatch.engine()
    with broker.db.write(exclusive=False) as conn:
        waiting = conn.execute(
            select(tasks.c.backend)
            .where(tasks.c.job_id == job_id, tasks.c.state == TaskState.PENDING)
            .distinct()
        ).scalars()
        released = dispatch.release_ready(conn, engine, set(waiting))
    dispatch.send(released)
    return True

"""Resuming a job from its checkpoint (``qcb retry``, as Braket Hybrid Jobs' checkpoints):
a failed or cancelled job runs on under a new id from the last step it reached, not from
the start.

Every step of a job is a checkpoint already: the store keeps the algorithm's state at each
step (``algorithm_states``: a VQE's parameters, its optimizer's moments, its best energy)
and each task of the step with its result. The new job starts at that step, with that
state, its seed and its progress; the step's tasks that completed are copied with their
results (not run, nor charged, again) and the others run anew. It is admitted as any job,
under the policy in force, on ``backend`` if given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Row, select

from backends.states import TaskState
from broker.algorithms.base import StepOutcome
from broker.core.models import JobSpec, TaskRequest
from broker.errors import BrokerError, NotFound
from broker.store.db import Database, new_id
from broker.store.schema import algorithm_states, jobs, tasks

_COPIED = (
    "step",
    "key",
    "kind",
    "backend",
    "queue",
    "payload",
    "native_id",
    "backend_version",
    "attempts",
    "message",
    "result",
    "run_seconds",
    "size",
    "packages",
    "created_at",
    "dispatched_at",
    "started_at",
    "finished_at",
)


@dataclass
class Checkpoint:
    """Where a stopped job got to: the job it was, its spec, and its last step."""

    job_id: str
    spec: JobSpec
    seed: int
    step: int
    outcome: StepOutcome
    done: list[Row[Any]] = field(default_factory=list)
    """The step's completed tasks, copied into the new job as they are."""

    def copy_done(self, conn: Connection, job_id: str) -> None:
        """Record the completed tasks of the step as tasks of job ``job_id`` (in its
        admitting transaction): final, with their results, charged to the old job only."""
        for row in self.done:
            values = {name: getattr(row, name) for name in _COPIED}
            conn.execute(
                tasks.insert().values(
                    id=new_id("t"),
                    job_id=job_id,
                    state=TaskState.COMPLETED,
                    cancel_requested=False,
                    **values,
                )
            )


def checkpoint(db: Database, job_id: str, user: str, backend: str | None = None) -> Checkpoint:
    """The checkpoint of ``user``'s job ``job_id``, to resume on ``backend`` if given.
    ``NotFound`` for a job that is not theirs; ``BrokerError`` for one that has not stopped
    or that completed (nothing to resume)."""
    with db.read() as conn:
        job = conn.execute(select(jobs).where(jobs.c.id == job_id)).one_or_none()
        if job is None or job.user != user:
            raise NotFound(f"no job {job_id!r}", hint="`qcb jobs` lists your jobs")
        state = TaskState(job.state)
        if not state.final:
            raise BrokerError(
                f"job {job_id} is {state}: it has not stopped",
                hint=f"`qcb cancel {job_id}` stops it; then `qcb retry {job_id}` resumes it",
            )
        if state == TaskState.COMPLETED:
            raise BrokerError(
                f"job {job_id} completed: there is nothing to resume",
                hint=f"`qcb requeue {job_id}` runs it again from the start",
            )
        saved = conn.execute(
            select(algorithm_states.c.state).where(
                algorithm_states.c.job_id == job_id, algorithm_states.c.step == job.step
            )
        ).scalar_one()
        rows = conn.execute(
            select(tasks)
            .where(tasks.c.job_id == job_id, tasks.c.step == job.step)
            .order_by(tasks.c.created_at, tasks.c.key)
        ).all()
    old = JobSpec.model_validate(job.spec)
    spec = old if backend is None else old.model_copy(update={"backend": backend})
    spec = JobSpec.model_validate(spec.model_dump(by_alias=True))
    again = [_request(row, old) for row in rows if row.state != TaskState.COMPLETED]
    return Checkpoint(
        job_id=job_id,
        spec=spec,
        seed=job.seed,
        step=job.step,
        outcome=StepOutcome(state=dict(saved), tasks=again, progress=dict(job.progress or {})),
        done=[row for row in rows if row.state == TaskState.COMPLETED],
    )


def _request(row: Row[Any], old: JobSpec) -> TaskRequest:
    """The task ``row`` as its algorithm asked for it (on the job's backends by default,
    so that a resume on another backend moves it)."""
    body = {"quantum" if row.kind == "quantum" else "classical": row.payload}
    own = row.backend not in (old.backend, old.classical_backend)
    return TaskRequest.model_validate(
        {"key": row.key, "kind": row.kind, "backend": row.backend if own else None, **body}
    )

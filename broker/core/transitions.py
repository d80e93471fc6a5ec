"""Where task and job state changes: the transition table and the named transitions.

Every change of a task's or a job's state in the store goes through a function here (a test
greps the rest of the package for ``update(tasks)`` and ``update(jobs)``). Each named
transition is a compare-and-set: it names the states it moves from (:data:`NAMED`), writes
only rows still in one of them, and reports what it moved, so two processes racing for one
task move it once. The table says what may follow what; :func:`check` refuses the rest, and
a test drives every edge of it.

    task:  PENDING ─release→ QUEUED ─claim→ RUNNING ─record→ COMPLETED|FAILED|TIMEOUT|CANCELLED
           RUNNING ─hand_back | retry→ QUEUED        (any active) ─requeue_orphans→ QUEUED
           PENDING | QUEUED ─cancel→ CANCELLED       RUNNING ─fail→ FAILED
    job:   PENDING ─start→ RUNNING;  PENDING | RUNNING ─finish→ COMPLETED | FAILED | CANCELLED
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from backends.states import TaskState
from broker.store.db import utcnow
from broker.store.schema import jobs, tasks

P, Q, R = TaskState.PENDING, TaskState.QUEUED, TaskState.RUNNING
C, F, X, T = TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELLED, TaskState.TIMEOUT

TASK_MAY_FOLLOW: Mapping[TaskState, frozenset[TaskState]] = {
    P: frozenset({Q, X}),
    Q: frozenset({Q, R, X}),  # Q→Q: a dead worker's claim on a released task is dropped
    R: frozenset({Q, C, F, X, T}),
    **{final: frozenset() for final in TaskState.finals()},
}
"""What a task's state may become next; a final state is followed by nothing."""

JOB_MAY_FOLLOW: Mapping[TaskState, frozenset[TaskState]] = {
    P: frozenset({R, C, F, X}),
    R: frozenset({C, F, X}),
    Q: frozenset(),  # a job is never queued: its tasks are
    **{final: frozenset() for final in TaskState.finals()},
}
"""What a job's state may become next."""

NAMED: Mapping[str, tuple[frozenset[TaskState], frozenset[TaskState]]] = {
    "release": (frozenset({P}), frozenset({Q})),
    "claim": (frozenset({Q}), frozenset({R})),
    "cancel_unstarted": (frozenset({Q}), frozenset({X})),
    "hand_back": (frozenset({R}), frozenset({Q})),
    "retry": (frozenset({R}), frozenset({Q})),
    "fail": (frozenset({R}), frozenset({F})),
    "record": (frozenset({R}), frozenset({C, F, X, T})),
    "requeue_orphans": (frozenset({Q, R}), frozenset({Q})),
    "cancel_pending": (frozenset({P}), frozenset({X})),
    "job.start": (frozenset({P}), frozenset({R})),
    "job.finish": (frozenset({P, R}), frozenset({C, F, X})),
}
"""Each named transition: the states it moves from and those it may move to."""


class IllegalTransition(ValueError):
    """A state change that the table does not allow."""


def check(before: TaskState, after: TaskState, *, job: bool = False) -> None:
    """Raise :class:`IllegalTransition` unless ``after`` may follow ``before``."""
    table = JOB_MAY_FOLLOW if job else TASK_MAY_FOLLOW
    if after not in table[before]:
        what = "job" if job else "task"
        allowed = ", ".join(sorted(table[before])) or "nothing (final)"
        raise IllegalTransition(f"a {what} in {before} cannot become {after}; allowed: {allowed}")


def _moving(name: str, to: TaskState) -> list[TaskState]:
    """The from-states of transition ``name``, checked against the table for ``to``."""
    sources, targets = NAMED[name]
    if to not in targets:
        raise IllegalTransition(f"{name} does not lead to {to}; it leads to {sorted(targets)}")
    for before in sources:
        check(before, to, job=name.startswith("job."))
    return sorted(sources)


@dataclass(frozen=True)
class TaskRow:
    """A task as the worker and the scheduler read it."""

    id: str
    job_id: str
    step: int
    key: str
    kind: str
    backend: str
    queue: str
    state: TaskState
    payload: dict[str, Any]
    native_id: str | None
    attempts: int
    cancel_requested: bool
    size: float | None
    started_at: datetime | None

    @classmethod
    def of(cls, row: Any) -> TaskRow:
        """The typed view of a row of ``tasks``."""
        values = {f.name: getattr(row, f.name) for f in fields(cls)}
        values["state"] = TaskState(values["state"])
        return cls(**values)


def read_task(conn: Connection, task_id: str) -> TaskRow | None:
    """The task, or None if there is no such task."""
    row = conn.execute(select(tasks).where(tasks.c.id == task_id)).one_or_none()
    return None if row is None else TaskRow.of(row)


def _move(conn: Connection, name: str, to: TaskState, where: Iterable[Any], **values: Any) -> int:
    moved = conn.execute(
        update(tasks).where(tasks.c.state.in_(_moving(name, to)), *where).values(state=to, **values)
    )
    return int(moved.rowcount)


# --- tasks: the scheduler -------------------------------------------------------------------


def release(conn: Connection, task_ids: list[str]) -> set[str]:
    """PENDING → QUEUED for those of ``task_ids`` still pending; the ids released."""
    if not task_ids:
        return set()
    moved = conn.execute(
        update(tasks)
        .where(tasks.c.id.in_(task_ids), tasks.c.state.in_(_moving("release", Q)))
        .values(state=Q, dispatched_at=utcnow())
        .returning(tasks.c.id)
    )
    return set(moved.scalars())


def resend(conn: Connection, task_ids: list[str]) -> None:
    """Note that released tasks nobody claimed were sent again (no change of state)."""
    if task_ids:
        conn.execute(
            update(tasks)
            .where(tasks.c.id.in_(task_ids), tasks.c.state == Q, tasks.c.worker_id.is_(None))
            .values(dispatched_at=utcnow())
        )


def requeue_orphans(conn: Connection, live_workers: Any) -> list[tuple[str, str]]:
    """QUEUED or RUNNING → QUEUED for the tasks of workers not in ``live_workers`` (a
    subquery of worker ids); ``(task id, queue)`` of each.

    One statement, so a task its slow (not dead) worker records meanwhile is not taken back.
    """
    moved = conn.execute(
        update(tasks)
        .where(
            tasks.c.state.in_(_moving("requeue_orphans", Q)),
            tasks.c.worker_id.is_not(None),
            tasks.c.worker_id.not_in(live_workers),
        )
        .values(state=Q, worker_id=None, dispatched_at=utcnow())
        .returning(tasks.c.id, tasks.c.queue)
    ).all()
    return [(t.id, t.queue) for t in moved]


# --- tasks: the worker ----------------------------------------------------------------------


def claim(conn: Connection, task_id: str, worker_id: str) -> TaskRow | None:
    """QUEUED → RUNNING for ``worker_id`` (its job PENDING → RUNNING with it); the task as
    claimed, or None when it is not there to claim (another worker's claim won, or it was
    cancelled before it started: QUEUED → CANCELLED then)."""
    row = read_task(conn, task_id)
    if row is None or row.state != Q:
        return None
    if row.cancel_requested and row.native_id is None:
        _move(conn, "cancel_unstarted", X, [tasks.c.id == task_id], **_ended("cancelled"))
        return None
    claimed = _move(
        conn,
        "claim",
        R,
        [tasks.c.id == task_id],
        worker_id=worker_id,
        attempts=row.attempts + 1,
        started_at=row.started_at or utcnow(),
    )
    if claimed != 1:
        return None
    if row.step == 0:  # a later step's job runs already (or has ended)
        start_job(conn, row.job_id)
    return row


def note(conn: Connection, task_id: str, **values: Any) -> None:
    """Record facts about a running task (its native id...) without changing its state."""
    if "state" in values:
        raise IllegalTransition("note() records facts; a state changes by a named transition")
    conn.execute(update(tasks).where(tasks.c.id == task_id, tasks.c.state == R).values(**values))


def hand_back(conn: Connection, task_id: str) -> bool:
    """RUNNING → QUEUED: its worker can no longer follow it; the scheduler re-sends it."""
    where = [tasks.c.id == task_id]
    return _move(conn, "hand_back", Q, where, worker_id=None, dispatched_at=utcnow()) == 1


def retry(conn: Connection, task_id: str, message: str) -> bool:
    """RUNNING → QUEUED after a transient backend error; tried again when re-sent."""
    return _move(conn, "retry", Q, [tasks.c.id == task_id], worker_id=None, message=message) == 1


def fail(conn: Connection, task_id: str, message: str) -> bool:
    """RUNNING → FAILED: its backend refused or lost it for good."""
    return _move(conn, "fail", F, [tasks.c.id == task_id], **_ended(message)) == 1


def record(conn: Connection, task_id: str, state: TaskState, **values: Any) -> bool:
    """RUNNING → a final ``state`` with its result; False when it was no longer running (a
    duplicate worker's record, or a dead worker's task taken back meanwhile)."""
    where = [tasks.c.id == task_id]
    return _move(conn, "record", state, where, finished_at=utcnow(), **values) == 1


def _ended(message: str) -> dict[str, Any]:
    return {"message": message, "finished_at": utcnow()}


# --- jobs -----------------------------------------------------------------------------------


def start_job(conn: Connection, job_id: str) -> bool:
    """PENDING → RUNNING when its first task starts."""
    moved = conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.state.in_(_moving("job.start", R)))
        .values(state=R, updated_at=utcnow())
    )
    return moved.rowcount == 1


def finish_job(
    conn: Connection,
    job_id: str,
    state: TaskState,
    message: str,
    result: dict[str, Any] | None = None,
) -> bool:
    """A job still active → final ``state``; False if it had already ended."""
    now = utcnow()
    moved = conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.state.in_(_moving("job.finish", state)))
        .values(state=state, message=message, result=result, finished_at=now, updated_at=now)
    )
    return moved.rowcount == 1


def cancel_job_tasks(conn: Connection, job_id: str) -> None:
    """A job's tasks on its cancellation: PENDING → CANCELLED; the active ones are asked to
    stop (their worker cancels them at the backend and records how they ended)."""
    _move(conn, "cancel_pending", X, [tasks.c.job_id == job_id], **_ended("cancelled"))
    conn.execute(
        update(tasks)
        .where(tasks.c.job_id == job_id, tasks.c.state.in_([Q, R]))
        .values(cancel_requested=True)
    )


def set_step(conn: Connection, job_id: str, step: int, progress: dict[str, Any]) -> None:
    """Record the step a job is at and its progress (no change of state)."""
    conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id)
        .values(step=step, progress=progress, updated_at=utcnow())
    )


def set_client_key(conn: Connection, job_id: str, client_key: str) -> None:
    """Record the idempotency key a job was submitted with."""
    conn.execute(update(jobs).where(jobs.c.id == job_id).values(client_key=client_key))


def set_hold(conn: Connection, job_id: str, held_by: str | None) -> bool:
    """Hold a job that is not final (``held_by``: who) or release it (None); whether the
    row changed (a final job, or one already so, is left as it is)."""
    was = jobs.c.held_by.is_(None) if held_by else jobs.c.held_by.is_not(None)
    moved = conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.state.not_in(list(TaskState.finals())), was)
        .values(held_by=held_by, updated_at=utcnow())
    )
    return bool(moved.rowcount)

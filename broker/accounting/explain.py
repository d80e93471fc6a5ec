"""``qcb explain``: one task's priority and why it waits, from the store's current state."""

from __future__ import annotations

import time

from sqlalchemy import Connection, select

from backends.states import TaskState
from broker.core import dependencies
from broker.core.orchestrator import Broker
from broker.core.snapshot import AllocationState, snapshot
from broker.errors import BrokerError, NotFound
from broker.store.schema import jobs, tasks
from policies.engine import Engine
from policies.explain import Explanation


def explain(broker: Broker, ident: str, user: str | None) -> list[Explanation]:
    """Explain a pending task of ``user`` (any user's with ``None``), or every pending task
    of a job."""
    with broker.db.read() as conn:
        job = conn.execute(select(jobs.c.user).where(jobs.c.id == ident)).one_or_none()
        if job is None:
            return _explain(broker, [ident], user)
        if user is not None and job.user != user:
            raise NotFound(f"no job {ident!r} of yours", hint="`qcb jobs` lists your jobs")
        ids = conn.execute(
            select(tasks.c.id)
            .where(tasks.c.job_id == ident, tasks.c.state == TaskState.PENDING)
            .order_by(tasks.c.key)
        ).scalars()
        task_ids = list(ids)
    if not task_ids:
        raise BrokerError(
            f"job {ident} has no task waiting to start",
            hint=f"`qcb status {ident}` shows where it stands",
        )
    return _explain(broker, task_ids, user)


def _explain(broker: Broker, task_ids: list[str], user: str | None) -> list[Explanation]:
    """Explain pending tasks against one snapshot of the store."""
    loaded = broker.policy
    engine = Engine(loaded.policy, loaded.revision, broker.dispatch.backend_size)
    state = AllocationState()
    with broker.db.read() as conn:
        for task_id in task_ids:
            _check_waits(conn, task_id, user)
        now = time.time()
        snap = snapshot(conn, loaded.policy, state, broker.capacity, now=now)
    out = []
    for task_id in task_ids:
        if task_id not in snap.queues:
            reason = next(iter(snap.blocked.values()), "its proposal is blocked")
            raise BrokerError(
                f"task {task_id} waits for its job to be allowed to start: {reason}",
                hint="`qcb usage` shows the proposal's budgets and standing",
            )
        out.append(
            engine.explain(
                task_id,
                snap.pending,
                snap.usage,
                now,
                free=snap.free,
                capacity=snap.capacity,
                penalties=snap.penalties,
            )
        )
    return out


def _check_waits(conn: Connection, task_id: str, user: str | None) -> None:
    """``NotFound`` unless the task is ``user``'s; ``BrokerError`` unless it is pending."""
    row = conn.execute(
        select(tasks.c.state, tasks.c.message, jobs.c.user, jobs.c.id, jobs.c.held_by)
        .join(jobs, jobs.c.id == tasks.c.job_id)
        .where(tasks.c.id == task_id)
    ).one_or_none()
    if row is None or (user is not None and row.user != user):
        raise NotFound(
            f"no task {task_id!r} of yours",
            hint="give a task id or a job id (`qcb jobs` lists your jobs)",
        )
    if row.state != TaskState.PENDING:
        raise BrokerError(
            f"task {task_id} does not wait: it is {row.state}"
            + (f" ({row.message})" if row.message else ""),
            hint="only pending tasks have a priority to explain",
        )
    if row.held_by:
        raise BrokerError(
            f"task {task_id} waits because its job {row.id} is held by {row.held_by}",
            hint=f"`qcb release {row.id}` lets it start",
        )
    waits = dependencies.waits_for(conn, [row.id]).get(row.id)
    if waits:
        raise BrokerError(
            f"task {task_id} waits because its job {row.id} waits for {', '.join(waits)}",
            hint="it starts when those jobs end as its dependency asks, and is cancelled "
            "if they cannot",
        )

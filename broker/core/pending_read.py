"""The scheduler's read of the pending tasks, as columns.

One query reads each pending task that may start (its job not held, waiting on no other
job) with what the engine needs of its job; the rows become columns at once, and the tasks
of blocked proposals are left out by their codes, not row by row. On PostgreSQL the
database turns the creation times into epoch seconds (the same floats as
:func:`broker.store.ledger.epoch_of`), so no ``datetime`` is made per row.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Connection, Float, cast, exists, extract, select

from backends.states import TaskState
from broker.store.ledger import epoch_of
from broker.store.schema import job_dependencies, jobs, tasks
from policies.pending import PendingTasks, encode


@dataclass(frozen=True)
class PendingRead:
    """The pending tasks that may start, column by column (one entry per task)."""

    ids: tuple[str, ...]
    backend: tuple[str, ...]
    queue: tuple[str, ...]
    created: tuple[float, ...]
    size: tuple[float | None, ...]
    proposal: tuple[str, ...]
    user: tuple[str, ...]
    qos: tuple[str | None, ...]
    hybrid: tuple[bool, ...]
    started: tuple[bool, ...]
    """Whether the task's job is under way (it finishes its steps whatever its standing)."""

    def columns(self, blocked: Mapping[str, str]) -> tuple[PendingTasks, dict[str, str]]:
        """The tasks as the engine's columns and each one's queue, without those of jobs
        not started whose proposal (``proposal`` or ``proposal/qos`` in ``blocked``) may
        not start now."""
        if not self.ids:
            return PendingTasks.empty(), {}
        proposal, proposals = encode(self.proposal)
        qos, names = encode(self.qos)
        stopped = np.array([[p in blocked or f"{p}/{q}" in blocked for q in names]
                            for p in proposals])  # fmt: skip
        keep = ~stopped[proposal, qos] | np.array(self.started, dtype=bool)
        kept = np.flatnonzero(keep)
        every = len(kept) == len(self.ids)

        def pick(column: tuple[Any, ...]) -> list[Any] | tuple[Any, ...]:
            return column if every else [column[i] for i in kept.tolist()]

        ids = pick(self.ids)
        size = np.array([1.0 if s is None else s for s in pick(self.size)], dtype=np.float64)
        pending = PendingTasks.from_columns(
            ids, pick(self.backend), pick(self.proposal), pick(self.user), pick(self.qos),
            np.asarray(pick(self.created), dtype=np.float64), size, pick(self.hybrid),
        )  # fmt: skip
        return pending, dict(zip(ids, pick(self.queue), strict=True))


def read_pending(conn: Connection, backends: Collection[str] | None) -> PendingRead:
    """The pending tasks (of ``backends``, if given) whose jobs may run now, each with its
    job's proposal, user, QOS, whether a step completed and whether the job started."""
    waiting = exists().where(job_dependencies.c.job_id == tasks.c.job_id)
    where: ColumnElement[bool] = (
        (tasks.c.state == TaskState.PENDING) & jobs.c.held_by.is_(None) & ~waiting
    )
    if backends is not None:
        where = where & tasks.c.backend.in_(list(backends))
    postgres = conn.dialect.name == "postgresql"
    created = (
        cast(extract("epoch", tasks.c.created_at), Float(53)) if postgres else tasks.c.created_at
    )
    result = conn.execute(
        select(
            tasks.c.id, tasks.c.backend, tasks.c.queue, created, tasks.c.size, jobs.c.proposal,
            jobs.c.user, jobs.c.qos, jobs.c.step > 0, jobs.c.state != TaskState.PENDING,
        )
        .join(jobs, jobs.c.id == tasks.c.job_id)
        .where(where)
    )  # fmt: skip
    # PostgreSQL's values need no conversion here: the driver's tuples, without a Row each.
    rows: Sequence[Any] = result.cursor.fetchall() if postgres else result.all()
    result.close()
    if not rows:
        return PendingRead((), (), (), (), (), (), (), (), (), ())
    # One column at a time: much faster than transposing with zip(*rows).
    columns = [
        tuple(map(itemgetter(k), rows)) for k in range(len(PendingRead.__dataclass_fields__))
    ]
    if not postgres:
        columns[3] = tuple(map(epoch_of, columns[3]))
    return PendingRead(*columns)

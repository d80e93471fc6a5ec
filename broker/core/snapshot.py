"""What the policy engine needs from the store, for the scheduler and for ``qcb explain``.

:class:`AllocationState` keeps the usage book (budget charges) and the decayed fair-share
usage up to date incrementally, by the ids of ledger and occupancy lines already read.
:func:`snapshot` reads the pending tasks, the free capacity per backend and each
proposal's standing (overrun band age penalty; blocked when stopped or at its running-jobs
limit), ready for :meth:`policies.engine.Engine.cycle`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Connection, func, select

from backends.states import TaskState
from broker.core.pending_read import read_pending
from broker.store import ledger
from broker.store.ledger import epoch_of
from broker.store.schema import jobs, occupancy, tasks
from policies.budgets import UsageBook, budget_states, standing
from policies.fairshare import DecayedUsage, accrued
from policies.pending import PendingTasks
from policies.schema import Policy

_ACTIVE = (TaskState.QUEUED, TaskState.RUNNING)


class AllocationState:
    """Budget usage and decayed fair-share usage, read from the store incrementally."""

    def __init__(self) -> None:
        self.book = UsageBook()
        self.usage = DecayedUsage(7 * 86400.0)
        self._ledger_id = 0
        self._occupancy_id = 0

    def refresh(self, conn: Connection, policy: Policy) -> None:
        """Read the charges and occupancy recorded since the last refresh."""
        last = ledger.add_to_book(self.book, ledger.charges_since(conn, self._ledger_id))
        self._ledger_id = max(self._ledger_id, last)
        if self.usage.half_life != policy.fairshare.half_life:
            self.usage = DecayedUsage(policy.fairshare.half_life)
            self._occupancy_id = 0
        rows = conn.execute(
            select(
                occupancy.c.id,
                occupancy.c.backend,
                occupancy.c.proposal,
                occupancy.c.user,
                occupancy.c.seconds,
                occupancy.c.at,
                tasks.c.kind,
                tasks.c.size,
            )
            .select_from(occupancy.outerjoin(tasks, tasks.c.id == occupancy.c.task_id))
            .where(occupancy.c.id > self._occupancy_id)
            .order_by(occupancy.c.id)
        ).all()
        half_life = self.usage.half_life
        for r in rows:
            amount = accrued(r.seconds, _rate(r.kind, r.size), half_life)
            self.usage.add(r.backend, r.proposal, r.user, amount, epoch_of(r.at))
            self._occupancy_id = r.id


@dataclass
class Snapshot:
    """One scheduling cycle's inputs."""

    pending: PendingTasks
    queues: dict[str, str]
    free: dict[str, int]
    capacity: dict[str, int]
    penalties: dict[str, float] = field(default_factory=dict)
    blocked: dict[str, str] = field(default_factory=dict)
    """Jobs not started yet that may not start now: ``proposal`` or ``proposal/qos`` -> why."""
    held_back: int = 0
    """Pending tasks left out of the cycle because their proposal is blocked."""
    usage: DecayedUsage = field(default_factory=lambda: DecayedUsage(7 * 86400.0))
    """Fair-share usage for this cycle: what ended tasks left, and running tasks so far."""


def snapshot(
    conn: Connection,
    policy: Policy,
    state: AllocationState,
    capacity: Callable[[str], int],
    now: float | None = None,
    backends: Collection[str] | None = None,
    busy: dict[str, int] | None = None,
) -> Snapshot:
    """Read what a scheduling cycle needs (in the caller's transaction), for the pending
    tasks of ``backends`` (None: of every backend); ``busy``: their :func:`busy_counts`,
    if the caller read them in this transaction already."""
    now = time.time() if now is None else now
    read = read_pending(conn, backends)
    if not read.ids and backends is not None:  # a scoped release with nothing to release
        empty = PendingTasks.empty()
        return Snapshot(pending=empty, queues={}, free={}, capacity={}, usage=state.usage)
    state.refresh(conn, policy)
    busy = busy_counts(conn, backends) if busy is None else busy
    caps = {b: capacity(b) for b in set(read.backend)}
    free = {b: max(cap - busy.get(b, 0), 0) for b, cap in caps.items()}
    penalties, blocked = _standings(conn, policy, state.book, set(read.proposal), now)
    blocked.update(_qos_limits(conn, policy))
    pending, queues = read.columns(blocked)
    running = _running(conn, backends, now, state.usage.half_life)
    return Snapshot(
        pending=pending,
        queues=queues,
        free=free,
        capacity=caps,
        penalties=penalties,
        blocked=blocked,
        held_back=len(read.ids) - len(pending),
        usage=state.usage.plus(running, now),
    )


def _rate(kind: str | None, size: float | None) -> float:
    """Backend-seconds a task occupies per second: its nodes if classical, else 1."""
    return (size or 1.0) if kind == "classical" else 1.0


def _running(
    conn: Connection, backends: Collection[str] | None, now: float, half_life: float
) -> list[tuple[str, str, str, float]]:
    """Each running task's fair-share usage so far (Slurm adds a running job's usage as it
    runs): ``(backend, proposal, user, amount)`` at ``now``."""
    where: ColumnElement[bool] = (tasks.c.state == TaskState.RUNNING) & tasks.c.started_at.isnot(
        None
    )
    if backends is not None:
        where = where & tasks.c.backend.in_(list(backends))
    rows = conn.execute(
        select(
            tasks.c.backend,
            tasks.c.kind,
            tasks.c.size,
            tasks.c.started_at,
            jobs.c.proposal,
            jobs.c.user,
        )
        .join(jobs, jobs.c.id == tasks.c.job_id)
        .where(where)
    ).all()
    out = []
    for r in rows:
        rate = _rate(r.kind, r.size)
        seconds = max(now - epoch_of(r.started_at), 0.0) * rate
        out.append((r.backend, r.proposal, r.user, accrued(seconds, rate, half_life)))
    return out


def busy_counts(conn: Connection, backends: Collection[str] | None = None) -> dict[str, int]:
    """Tasks released or running, per backend (of ``backends``, if given)."""
    active: ColumnElement[bool] = tasks.c.state.in_(_ACTIVE)
    if backends is not None:
        active = active & tasks.c.backend.in_(list(backends))
    query = select(tasks.c.backend, func.count()).where(active).group_by(tasks.c.backend)
    return {backend: int(n) for backend, n in conn.execute(query).all()}


def _standings(
    conn: Connection, policy: Policy, book: UsageBook, proposals: set[str], now: float
) -> tuple[dict[str, float], dict[str, str]]:
    running: dict[str, int] = dict(
        conn.execute(
            select(jobs.c.proposal, func.count())
            .where(jobs.c.state == TaskState.RUNNING, jobs.c.proposal.in_(proposals))
            .group_by(jobs.c.proposal)
        ).all()
    )
    penalties: dict[str, float] = {}
    blocked: dict[str, str] = {}
    for pid in proposals:
        proposal = policy.proposal(pid)
        if proposal is None:
            continue
        stand = standing(policy, budget_states(policy, proposal, book, {}, now))
        if stand.age_penalty:
            penalties[pid] = stand.age_penalty
        if stand.stopped:
            blocked[pid] = f"proposal {pid!r} {stand.reason}"
        elif stand.max_running_jobs is not None and running.get(pid, 0) >= stand.max_running_jobs:
            blocked[pid] = (
                f"proposal {pid!r} {stand.reason}: at most {stand.max_running_jobs} running "
                f"jobs, and {running[pid]} run"
            )
    return penalties, blocked


def _qos_limits(conn: Connection, policy: Policy) -> dict[str, str]:
    """``proposal/qos`` -> why, for QOS levels whose running-jobs limit a proposal reached."""
    limited = {name: q.max_running_jobs for name, q in policy.qos.items() if q.max_running_jobs}
    if not limited:
        return {}
    rows = conn.execute(
        select(jobs.c.proposal, jobs.c.qos, func.count())
        .where(jobs.c.state == TaskState.RUNNING, jobs.c.qos.in_(list(limited)))
        .group_by(jobs.c.proposal, jobs.c.qos)
    ).all()
    return {
        f"{proposal}/{qos}": (
            f"QOS {qos!r} allows {limited[qos]} running jobs per proposal; {proposal!r} runs {n}"
        )
        for proposal, qos, n in rows
        if n >= limited[qos]
    }

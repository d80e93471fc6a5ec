"""``qcb explain TASK``: a pending task's factors, priority, rank, and why it waits."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from policies.fairshare import DecayedUsage, Level
from policies.pending import PendingTasks, TaskRow
from policies.priority import Factors
from policies.sections import Weights
from policies.types import format_duration

if TYPE_CHECKING:
    from policies.engine import Engine, Scored


@dataclass(frozen=True)
class Explanation:
    """Where one pending task stands, and why."""

    task_id: str
    backend: str
    proposal: str
    user: str
    revision: str
    factors: Factors
    weights: Weights
    priority: float
    rank: int | None
    """1-based, among the tasks of its backend that may start; None if it may not."""
    competing: int
    """How many tasks of its backend may start (it included, if it may)."""
    releasable: bool
    """Whether a cycle now would start it."""
    reasons: list[str] = field(default_factory=list)
    """Why it waits (empty when it would start now)."""
    notes: list[str] = field(default_factory=list)
    fairshare_path: list[Level] = field(default_factory=list)

    def rows(self) -> list[tuple[str, float, float, float]]:
        """``(factor, value, weight, contribution)`` rows."""
        return self.factors.breakdown(self.weights)

    def format(self) -> str:
        """The explanation as text."""
        lines = [
            f"task {self.task_id} on backend {self.backend!r} "
            f"(proposal {self.proposal!r}, user {self.user!r}); policy {self.revision}",
            f"{'factor':<10} {'value':>7} {'weight':>9} {'contribution':>13}",
        ]
        for name, value, weight, contribution in self.rows():
            lines.append(f"{name:<10} {value:>7.3f} {weight:>9g} {contribution:>13.1f}")
        lines.append(f"{'priority':<10} {'':>7} {'':>9} {self.priority:>13.1f}")
        if self.rank is not None:
            lines.append(f"rank {self.rank} of {self.competing} on backend {self.backend!r}")
        for level in self.fairshare_path:
            lines.append(
                f"fair share, {level.level} {level.name!r}: shares {level.shares:.3f}, "
                f"usage {level.usage:.3f}, level fair share {level.level_fs:.3g}"
            )
        lines += [f"note: {n}" for n in self.notes]
        if self.releasable:
            lines.append("starts in this cycle")
        lines += [f"waits: {r}" for r in self.reasons]
        return "\n".join(lines)


def explain(
    engine: Engine,
    task: TaskRow | str,
    pending: PendingTasks,
    usage: DecayedUsage,
    now: float,
    *,
    free: Mapping[str, int] | None = None,
    capacity: Mapping[str, int] | None = None,
    penalties: Mapping[str, float] | None = None,
    blocked: Collection[str] = (),
) -> Explanation:
    """Explain ``task`` (a row, or the id of a pending task) among ``pending``."""
    pending, i = _with_task(task, pending)
    s = engine.score(pending, usage, now, penalties=penalties or {}, blocked=blocked)
    row = pending.row(i)
    same = s.eligible & (pending.backend == pending.backend[i])
    rank = _rank(s.priority, pending, same, i) if s.eligible[i] else None
    reasons = _blocking(engine, row, s, i, blocked)
    releasable = False
    if rank is not None:
        k = None if free is None else int(free.get(row.backend, 0))
        releasable = k is not None and rank <= k
        if k is not None and not releasable:
            reasons.append(_full(row.backend, k, rank - 1, capacity))
    notes = []
    if s.penalty[i] > 0:
        notes.append(
            f"proposal {row.proposal!r} is in an overrun band: its tasks look "
            f"{format_duration(float(s.penalty[i]))} younger"
        )
    return Explanation(
        task_id=row.id,
        backend=row.backend,
        proposal=row.proposal,
        user=row.user,
        revision=engine.revision,
        factors=_factors(s, i),
        weights=engine.weights,
        priority=float(s.priority[i]),
        rank=rank,
        competing=int(same.sum()),
        releasable=releasable,
        reasons=reasons,
        notes=notes,
        fairshare_path=_fairshare_path(engine, pending, usage, row, i),
    )


def _with_task(task: TaskRow | str, pending: PendingTasks) -> tuple[PendingTasks, int]:
    """``pending`` with ``task`` in it (a row not pending yet is added), and its index."""
    task_id = task if isinstance(task, str) else task.id
    try:
        return pending, pending.index(task_id)
    except KeyError:
        if isinstance(task, str):
            raise KeyError(f"task {task_id!r} is not pending") from None
        rows = [*(pending.row(j) for j in range(len(pending))), task]
        return PendingTasks.from_rows(rows), len(rows) - 1


def _factors(s: Scored, i: int) -> Factors:
    return Factors(
        age=float(s.age[i]),
        fairshare=float(s.fairshare[i]),
        score=float(s.score[i]),
        qos=float(s.qos[i]),
        size=float(s.size[i]),
        hybrid=float(s.hybrid[i]),
    )


def _fairshare_path(
    engine: Engine, pending: PendingTasks, usage: DecayedUsage, row: TaskRow, i: int
) -> list[Level]:
    """The task's way down the Fair Tree of its backend, among that backend's pending
    (proposal, user) leaves."""
    on_backend = pending.backend == pending.backend[i]
    leaves = [
        (pending.proposals[p], pending.users[u])
        for p, u in zip(
            pending.proposal[on_backend].tolist(), pending.user[on_backend].tolist(), strict=True
        )
    ]
    return engine.tree.path(
        row.backend, usage.raw(row.backend), set(leaves), (row.proposal, row.user)
    )


def _rank(priority: np.ndarray, pending: PendingTasks, same: np.ndarray, i: int) -> int:
    p, c = priority[i], pending.created[i]
    ahead = int((same & ((priority > p) | ((priority == p) & (pending.created < c)))).sum())
    ties = np.flatnonzero(same & (priority == p) & (pending.created == c))
    ahead += sum(1 for j in ties.tolist() if str(pending.ids[j]) < str(pending.ids[i]))
    return ahead + 1


def _blocking(
    engine: Engine, row: TaskRow, s: Scored, i: int, blocked: Collection[str]
) -> list[str]:
    reasons = []
    if not s.known[i]:
        reasons.append(f"proposal {row.proposal!r} is unknown to policy revision {engine.revision}")
        return reasons
    if not s.domain_ok[i]:
        proposal = engine.policy.proposal(row.proposal)
        domain = proposal.security_domain if proposal else "?"
        reasons.append(f"security domain {domain!r} does not allow backend {row.backend!r}")
    if s.blocked[i]:
        why = blocked.get(row.proposal) if isinstance(blocked, Mapping) else None
        reasons.append(
            f"proposal {row.proposal!r} is blocked: {why}"
            if why
            else f"proposal {row.proposal!r} is blocked (hard stop, or its maximum of "
            "running jobs reached)"
        )
    return reasons


def _full(backend: str, free: int, ahead: int, capacity: Mapping[str, int] | None) -> str:
    cap = capacity.get(backend) if capacity is not None else None
    ahead_text = f"{ahead} task{'s' if ahead != 1 else ''} ahead"
    if free <= 0:
        size = f" (capacity {cap})" if cap is not None else ""
        return f"backend {backend!r} is full{size}; {ahead_text}"
    return f"backend {backend!r} has {free} free slot{'s' if free != 1 else ''}; {ahead_text}"

"""``qcb policy simulate NEW --trace T``: replay a recorded workload under a policy.

A discrete-event replay. Jobs arrive at their submission time and go through admission
(:func:`policies.admission.admit`, with holds); an admitted job's first step becomes
pending, and each later step when the one before ends. Whenever something happened, the
backends with room release their best pending tasks, in the order
:meth:`policies.engine.Engine.cycle` would give (same factors, same floats, same ties).
A task that ends adds its occupancy (duration, x size for a classical task) to the decayed
fair-share usage and charges its usage to the budgets; a job's hold is released when the
job ends.

Speed: tasks of the same (backend, proposal, user, QOS, size, hybrid) differ only in age,
so within such a group the order is first in, first out, and only each group's oldest task
competes (``group heads``). The Fair Tree is kept up to date leaf by leaf
(:class:`policies.livetree.LiveTree`). Overrun standing (age penalties, hard stops, maximum
running jobs) is recomputed for proposals charged on a soft budget at most every
``standing_every`` simulated seconds, and for every proposal with a soft budget every
``refresh_every``. A proposal at its maximum of running jobs (its overrun band's, or its
QOS level's per proposal) keeps new jobs waiting until one of its jobs ends; a job counts
as running from its first step's queueing to its end. The replay ends when nothing runs
and no job is left to arrive (work still blocked then is reported as left), or at
``until``. Charges follow :mod:`policies.charging`.
"""

from __future__ import annotations

import heapq
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from policies.admission import Decision, Need, admit
from policies.budgets import UsageBook, budget_states, standing
from policies.charging import charge_factors, charged_units, charges, occupancy
from policies.engine import Engine
from policies.fairshare import DecayedUsage, accrued
from policies.pending import TaskRow
from policies.schema import Policy
from policies.simreport import SimReport, Tally, build_report, reason_kind
from policies.simstate import Backend, Entry
from policies.trace import Job, Task, Trace
from policies.types import CLASSICAL_UNITS

AdmitFn = Callable[..., Decision]
ChargeFn = Callable[[Policy, str, "str | None", Mapping[str, float]], dict[str, float]]


@dataclass(frozen=True)
class CycleView:
    """One scheduling point of a replay, for checks: what was pending, what was free,
    and what the replay released (per backend, in order)."""

    now: float
    pending: list[TaskRow]
    free: dict[str, int]
    penalties: dict[str, float]
    blocked: frozenset[str]
    released: dict[str, list[str]]
    usage: DecayedUsage


class Run:
    """An admitted job in the replay."""

    __slots__ = ("index", "job", "left", "proposal", "qos", "released", "step", "tally", "user")

    def __init__(self, job: Job, proposal: int, qos: str | None, tally: Tally) -> None:
        self.job = job
        self.index = proposal
        self.proposal = job.proposal
        self.user = job.user
        self.qos = qos
        self.tally = tally
        self.step = -1
        self.left = 0
        self.released = False


def simulate(
    policy: Policy,
    trace: Trace,
    *,
    revision: str = "",
    admit_fn: AdmitFn = admit,
    charge_fn: ChargeFn = charges,
    standing_every: float = 300.0,
    refresh_every: float = 86400.0,
    on_cycle: Callable[[CycleView], None] | None = None,
    until: float | None = None,
) -> SimReport:
    """Replay ``trace`` under ``policy``; see the module's description.

    ``admit_fn`` and ``charge_fn`` replace admission and charging (same signatures as
    :func:`policies.admission.admit` and :func:`charges`); ``on_cycle`` sees every
    scheduling point; the replay stops at ``until`` (default: the header's ``end``, else
    when all is done), and tasks still running then are not counted.
    """
    stop = until if until is not None else trace.header.end
    return _Sim(policy, trace, revision, admit_fn, charge_fn, on_cycle).run(
        standing_every, refresh_every, math.inf if stop is None else stop
    )


class _Sim:
    def __init__(
        self,
        policy: Policy,
        trace: Trace,
        revision: str,
        admit_fn: AdmitFn,
        charge_fn: ChargeFn,
        on_cycle: Callable[[CycleView], None] | None,
    ) -> None:
        self.policy, self.trace = policy, trace
        self.engine = engine = Engine(policy, revision)
        self.admit_fn, self.charge_fn, self.on_cycle = admit_fn, charge_fn, on_cycle
        self.w = policy.priority.weights
        self.max_age = policy.priority.max_age
        self.usage = DecayedUsage(policy.fairshare.half_life)
        self.book = UsageBook()
        self.rebases = 0
        n = len(engine.tree.ids)
        self.penalty = [0.0] * n
        self.blocked = [False] * n
        self.n_blocked = 0
        self.backends = {
            name: Backend(name, cap, engine, policy.priority.favor)
            for name, cap in trace.header.backends.items()
        }
        self.domain_ok = {
            pid: {b: policy.domain_allows(p, b) for b in self.backends}
            for pid, p in ((p.id, p) for p in policy.proposals)
        }
        self.heap: list[tuple[float, int, Backend, Entry]] = []
        self.seq = 0
        self.tallies: dict[str, Tally] = {}
        self.slot_seconds = dict.fromkeys(self.backends, 0.0)
        self.held: dict[str, dict[tuple[str, str], float]] = {}
        self.running: dict[str, int] = {}
        self.running_qos: dict[tuple[str, str | None], int] = {}
        self.max_jobs: dict[str, int | None] = {}
        self.qos_limit = {q: level.max_running_jobs for q, level in policy.qos.items()}
        self.waiting: dict[str, deque[Run]] = {}
        self.soft = {
            p.id: {(b.backend, b.unit) for b in p.budgets if b.enforcement == "soft"}
            for p in policy.proposals
        }
        self.soft = {pid: keys for pid, keys in self.soft.items() if keys}
        overrun = policy.overrun
        self.standing_on = bool(self.soft) and bool(
            overrun.bands or overrun.hard_stop_pct is not None
        )
        self.dirty: set[str] = set()
        self.touched: set[Backend] = set()
        self._factors: dict[tuple[str, str | None], tuple[float, float, frozenset[str] | None]] = {}
        self.backend_list = list(self.backends.values())

    # -- the loop --------------------------------------------------------------------------

    def run(self, standing_every: float, refresh_every: float, until: float) -> SimReport:
        began = time.perf_counter()
        jobs = self.trace.jobs()
        nxt = next(jobs, None)
        start = end = self.trace.header.start
        next_standing = next_refresh = -math.inf
        while True:
            t_arrive = nxt.submitted if nxt is not None else math.inf
            t = min(t_arrive, self.heap[0][0] if self.heap else math.inf)
            if t == math.inf or t > until:
                end = until if t != math.inf else end
                break
            end = t
            while self.heap and self.heap[0][0] == t:
                _, _, backend, entry = heapq.heappop(self.heap)
                self._complete(backend, entry, t)
            if self.standing_on and t >= next_standing:
                due = set(self.soft) if t >= next_refresh else self.dirty
                if t >= next_refresh:
                    next_refresh = t + refresh_every
                self._refresh(due, t)
                next_standing = t + standing_every
            while nxt is not None and nxt.submitted == t:
                self._arrive(nxt, t)
                nxt = next(jobs, None)
            self._cycle(t)
        return build_report(
            self.engine.revision,
            start,
            end,
            dict(self.trace.header.backends),
            self.slot_seconds,
            self.tallies,
            time.perf_counter() - began,
        )

    def _tally(self, proposal: str) -> Tally:
        tally = self.tallies.get(proposal)
        if tally is None:
            tally = self.tallies[proposal] = Tally()
        return tally

    # -- admission and jobs ----------------------------------------------------------------

    def _arrive(self, job: Job, t: float) -> None:
        tally = self._tally(job.proposal)
        tally.submitted += 1
        held = self.held.setdefault(job.proposal, {})
        decision = self.admit_fn(
            self.policy,
            user=job.user,
            proposal_id=job.proposal,
            needs=[Need(b, u, a) for b, u, a in job.needs],
            book=self.book,
            held=held,
            now=t,
            qos=job.qos,
            backends={task.backend for step in job.steps for task in step},
        )
        if not decision.admitted:
            tally.refused[reason_kind(decision.reason)] += 1
            tally.refused_ids.append(job.id)
            return
        tally.admitted += 1
        tally.tasks_admitted += sum(len(step) for step in job.steps)
        for b, u, a in job.needs:
            held[(b, u)] = held.get((b, u), 0.0) + a
        index = self.engine.tree.index.get(job.proposal, -1)
        qos = job.qos
        if index >= 0:
            qos = self.policy.qos_of(self.policy.proposals[index], job.qos)
        run = Run(job, index, qos, tally)
        if self._may_start(run):
            self._start(run, t)
        else:
            self.waiting.setdefault(job.proposal, deque()).append(run)

    def _may_start(self, run: Run) -> bool:
        limit = self.max_jobs.get(run.proposal)
        if limit is not None and self.running.get(run.proposal, 0) >= limit:
            return False
        qos_limit = self.qos_limit.get(run.qos or "")
        key = (run.proposal, run.qos)
        return qos_limit is None or self.running_qos.get(key, 0) < qos_limit

    def _start(self, run: Run, t: float) -> None:
        self.running[run.proposal] = self.running.get(run.proposal, 0) + 1
        key = (run.proposal, run.qos)
        self.running_qos[key] = self.running_qos.get(key, 0) + 1
        self._next_step(run, t)

    def _start_waiting(self, proposal: str, t: float) -> None:
        queue = self.waiting.get(proposal)
        if not queue:
            return
        kept: deque[Run] = deque()
        while queue:
            run = queue.popleft()
            if self._may_start(run):
                self._start(run, t)
            else:
                kept.append(run)
        self.waiting[proposal] = kept

    def _next_step(self, run: Run, t: float) -> None:
        run.step += 1
        job = run.job
        if run.step < len(job.steps):
            step = job.steps[run.step]
            run.left = len(step)
            for k, task in enumerate(step):
                self._enqueue(run, task, f"{job.id}/{run.step}/{k}", t)
            return
        held = self.held[run.proposal]
        for b, u, a in job.needs:
            held[(b, u)] = max(held.get((b, u), 0.0) - a, 0.0)
        self.running[run.proposal] -= 1
        self.running_qos[(run.proposal, run.qos)] -= 1
        run.tally.completed += 1
        self._start_waiting(run.proposal, t)

    def _enqueue(self, run: Run, task: Task, task_id: str, t: float) -> None:
        backend = self.backends[task.backend]
        if run.index < 0 or not self.domain_ok[run.proposal][task.backend]:
            return  # the engine never releases it: the job stays unfinished
        backend.push(run, task, task_id, t)
        self.touched.add(backend)

    # -- completions and standing ----------------------------------------------------------

    def _charges(self, backend: str, qos: str | None, usage: dict[str, float]) -> dict[str, float]:
        if self.charge_fn is not charges:
            return self.charge_fn(self.policy, backend, qos, usage)
        key = (backend, qos)
        factors = self._factors.get(key)
        if factors is None:
            factor, usage_factor = charge_factors(self.policy, backend, qos)
            factors = self._factors[key] = (
                factor,
                usage_factor,
                charged_units(self.policy, backend),
            )
        factor, usage_factor, units = factors
        return {
            unit: amount * factor * (usage_factor if unit in CLASSICAL_UNITS else 1.0)
            for unit, amount in usage.items()
            if units is None or unit in units
        }

    def _complete(self, backend: Backend, entry: Entry, t: float) -> None:
        _, _, run, task = entry
        backend.busy -= 1
        self.touched.add(backend)
        pid, user, name = run.proposal, run.user, backend.name
        rate = task.size if task.kind == "classical" else 1.0
        used = task.duration * rate
        usage = self.usage
        w = usage.add(name, pid, user, accrued(used, rate, usage.half_life), t)
        if usage.rebases != self.rebases:
            self.rebases = usage.rebases
            for b in self.backends.values():
                b.rescale(usage.raw(b.name))
        else:
            backend.used(run.index, user, w)
        tally = run.tally
        tally.busy[name] = tally.busy.get(name, 0.0) + used
        tally.tasks_run += 1
        self.slot_seconds[name] += task.duration
        soft = self.soft.get(pid, ())
        for unit, amount in self._charges(name, run.qos, task.usage).items():
            self.book.add(pid, name, unit, amount, t)
            if (name, unit) in soft:
                self.dirty.add(pid)
        run.left -= 1
        if run.left == 0:
            self._next_step(run, t)

    def _refresh(self, proposals: set[str], t: float) -> None:
        for pid in proposals:
            i = self.engine.tree.index.get(pid, -1)
            if i < 0:
                continue
            proposal = self.policy.proposals[i]
            states = budget_states(self.policy, proposal, self.book, self.held.get(pid, {}), t)
            stand = standing(self.policy, states)
            self.penalty[i] = stand.age_penalty
            self.blocked[i] = stand.stopped
            before = self.max_jobs.get(pid)
            self.max_jobs[pid] = stand.max_running_jobs
            if before is not None and (stand.max_running_jobs or math.inf) > before:
                self._start_waiting(pid, t)
        self.n_blocked = sum(self.blocked)
        self.dirty.clear()
        self.touched.update(self.backends.values())

    # -- scheduling ------------------------------------------------------------------------

    def _cycle(self, t: float) -> None:
        view = self._view(t) if self.on_cycle is not None else None
        released: dict[str, list[str]] = {}
        touched, self.touched = self.touched, set()
        for backend in self.backend_list:
            if backend in touched and backend.busy < backend.capacity and backend.active:
                entries = backend.decide(t, self.penalty, self.blocked if self.n_blocked else None)
                released[backend.name] = [e[1] for e in entries]
                for entry in entries:
                    self._release(backend, entry, t)
        if view is not None and self.on_cycle is not None and released:
            self.on_cycle(
                CycleView(view[0], view[1], view[2], view[3], view[4], released, self.usage)
            )

    def _view(self, t: float) -> tuple[Any, ...]:
        rows = [row for b in self.backends.values() for row in b.rows()]
        ids = self.engine.tree.ids
        return (
            t,
            rows,
            {b.name: b.capacity - b.busy for b in self.backends.values()},
            {ids[i]: v for i, v in enumerate(self.penalty) if v},
            frozenset(ids[i] for i, b in enumerate(self.blocked) if b),
        )

    def _release(self, backend: Backend, entry: Entry, t: float) -> None:
        created, _, run, task = entry
        backend.busy += 1
        self.seq += 1
        heapq.heappush(self.heap, (t + task.duration, self.seq, backend, entry))
        tally = run.tally
        tally.waits.append(t - created)
        if not run.released:
            run.released = True
            tally.start_delays.append(t - run.job.submitted)


__all__ = ["CycleView", "Run", "charges", "occupancy", "simulate"]

"""Synthetic policies and traces: for the benchmarks, the tests, and trying a policy out
before a real trace exists.

The workload: each proposal has a home quantum backend and a home classical backend, with
budgets on both. Jobs arrive as a Poisson process; a job is quantum (steps of one to three
quantum tasks, like a VQE's batches), classical, or hybrid (classical and quantum steps in
turn). Arrivals are paced so that the offered work on the busier kind of backend is
``load`` times its capacity.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from policies.schema import Policy
from policies.trace import Job, Task, Trace, TraceHeader


@dataclass(frozen=True)
class Shape:
    """The size of a synthetic setting."""

    proposals: int = 100
    users: int = 3
    programs: int = 4
    quantum: int = 5
    """Quantum backends (``qpu0``...); the others are classical (``hpc0``...)."""
    classical: int = 5
    capacity: int = 4
    soft_every: int = 10
    """Every n-th proposal has soft budgets, tight enough to reach the overrun bands."""
    hard_every: int = 25
    """Every n-th proposal has hard budgets tight enough to refuse some jobs."""

    def backends(self) -> dict[str, int]:
        """Backend name -> capacity (tasks at once)."""
        names = [f"qpu{i}" for i in range(self.quantum)] + [
            f"hpc{i}" for i in range(self.classical)
        ]
        return dict.fromkeys(names, self.capacity)


def _homes(shape: Shape, i: int) -> tuple[str, str]:
    return f"qpu{i % max(shape.quantum, 1)}", f"hpc{i % max(shape.classical, 1)}"


def policy_data(shape: Shape, seed: int = 0) -> dict[str, Any]:
    """A policy (as data) for ``shape``: programs, QOS levels, overrun bands, proposals."""
    rng = random.Random(seed)
    backends: dict[str, Any] = {}
    for name in shape.backends():
        units = ["qpu_seconds"] if name.startswith("qpu") else ["node_hours"]
        backends[name] = {"units": units}
    proposals = []
    for i in range(shape.proposals):
        qpu, hpc = _homes(shape, i)
        scale = 1e9
        enforcement = "hard"
        if shape.soft_every and i % shape.soft_every == 1:
            scale, enforcement = 2e4, "soft"
        elif shape.hard_every and i % shape.hard_every == 2:
            scale = 2e4
        proposals.append(
            {
                "id": f"P{i:04d}",
                "pi": f"u{i}-0",
                "members": [f"u{i}-{k}" for k in range(shape.users)],
                "program": f"prog{i % shape.programs}",
                "shares": rng.choice([1, 1, 2, 3, 5]),
                "committee_score": round(rng.random(), 2),
                "allowed_qos": ["normal", "high"],
                "budgets": [
                    {
                        "backend": qpu,
                        "unit": "qpu_seconds",
                        "amount": scale,
                        "enforcement": enforcement,
                    },
                    {
                        "backend": hpc,
                        "unit": "node_hours",
                        "amount": scale / 100,
                        "enforcement": enforcement,
                    },
                ],
            }
        )
    return {
        "apiVersion": "qcbroker/v1",
        "kind": "Policy",
        "metadata": {"name": "synthetic", "revision": str(seed)},
        "backends": backends,
        "qos": {"normal": {}, "high": {"priority": 100, "usage_factor": 2.0}},
        "fairshare": {
            "half_life": "2d",
            "programs": {f"prog{g}": 1 + g for g in range(shape.programs)},
        },
        "overrun": {
            "bands": [
                {"above_pct": 100, "age_penalty": "1d"},
                {"above_pct": 125, "age_penalty": "7d", "max_running_jobs": 2},
            ],
            "hard_stop_pct": 150,
        },
        "proposals": proposals,
    }


def synthetic_policy(shape: Shape, seed: int = 0) -> Policy:
    """:func:`policy_data`, validated."""
    return Policy.model_validate(policy_data(shape, seed))


def _task(rng: random.Random, backend: str) -> Task:
    if backend.startswith("qpu"):
        duration = round(min(rng.lognormvariate(3.8, 0.6), 600.0), 3)
        return Task(backend, "quantum", duration, 1.0, {"qpu_seconds": duration})
    duration = round(min(rng.lognormvariate(4.5, 0.7), 3600.0), 3)
    nodes = float(rng.choice([1, 1, 2, 4, 8]))
    return Task(backend, "classical", duration, nodes, {"node_hours": nodes * duration / 3600})


def synthetic_jobs(
    shape: Shape, tasks: int, start: float, *, load: float = 0.9, seed: int = 0
) -> Iterator[Job]:
    """Jobs with ``tasks`` tasks in all (about), in order of submission."""
    rng = random.Random(seed)
    # A job has 1-7 steps (4 on average) of 1-2 tasks (1.5); it is quantum (60 %), hybrid
    # (25 %: odd steps quantum, 12/7 of its steps on average) or classical (15 %); quantum
    # tasks last ~54 s, classical ~115 s on average.
    quantum_s = 1.5 * (0.6 * 4 + 0.25 * 12 / 7) * 54.0 / max(shape.quantum, 1)
    classical_s = 1.5 * (0.15 * 4 + 0.25 * 16 / 7) * 115.0 / max(shape.classical, 1)
    rate = load * shape.capacity / max(quantum_s, classical_s)
    t, made, n = start, 0, 0
    while made < tasks:
        t += rng.expovariate(rate)
        i = rng.randrange(shape.proposals)
        qpu, hpc = _homes(shape, i)
        kind = rng.random()
        steps = []
        for s in range(rng.randint(1, 7)):
            backend = qpu if kind < 0.6 or (kind < 0.85 and s % 2) else hpc
            steps.append(tuple(_task(rng, backend) for _ in range(rng.randint(1, 2))))
        totals: dict[tuple[str, str], float] = {}
        for step in steps:
            for task in step:
                for unit, amount in task.usage.items():
                    key = (task.backend, unit)
                    totals[key] = totals.get(key, 0.0) + amount
        needs = tuple((b, u, round(a * 1.25, 6)) for (b, u), a in totals.items())
        qos = "high" if rng.random() < 0.1 else None
        user = f"u{i}-{rng.randrange(shape.users)}"
        yield Job(f"j{n}", f"P{i:04d}", user, qos, round(t, 3), needs, tuple(steps))
        made += sum(len(step) for step in steps)
        n += 1


def synthetic_trace(
    shape: Shape,
    tasks: int,
    start: float = 1_767_225_600.0,
    *,
    load: float = 0.9,
    seed: int = 0,
) -> Trace:
    """A trace in memory (jobs generated again on each pass, the same each time)."""
    header = TraceHeader(
        format="qcbroker-trace",
        version=1,
        backends=shape.backends(),
        start=start,
        description=f"synthetic: {tasks} tasks, load {load}, seed {seed}",
    )
    return Trace(header, lambda: synthetic_jobs(shape, tasks, start, load=load, seed=seed))

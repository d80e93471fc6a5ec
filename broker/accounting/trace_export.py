"""Export the store's recorded workload as a trace for ``qcb policy simulate``.

Each finished job becomes one trace line: who submitted it under which proposal and QOS,
when, what admission held, and its steps with every task's backend, kind, run time, size
and raw usage (before QOS and charge factors, so a new policy can charge it its own way).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from backends.base import ClassicalResult, QuantumResult
from backends.states import TaskState
from broker.core.execution import raw_usage
from broker.core.orchestrator import Broker
from broker.store.ledger import epoch_of
from broker.store.schema import jobs, ledger, tasks
from policies.trace import Job, Task, TraceHeader, write_trace


def _task(row: Any) -> Task | None:
    if row.run_seconds is None:
        return None
    result: QuantumResult | ClassicalResult | None = None
    if row.result is not None:
        model = QuantumResult if row.kind == "quantum" else ClassicalResult
        try:
            result = model.model_validate(row.result)
        except ValidationError:
            result = None
    return Task(
        backend=row.backend,
        kind=row.kind,
        duration=max(float(row.run_seconds), 0.0),
        size=float(row.size or 1.0),
        usage=raw_usage(result),
    )


def export_trace(
    broker: Broker,
    path: Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[int, int]:
    """Write the finished jobs submitted in [since, until) to ``path``; (jobs, tasks)."""
    finals = [s.value for s in TaskState.finals()]
    query = select(jobs).where(jobs.c.state.in_(finals))
    if since is not None:
        query = query.where(jobs.c.created_at >= since)
    if until is not None:
        query = query.where(jobs.c.created_at < until)
    with broker.db.read() as conn:
        job_rows = conn.execute(query.order_by(jobs.c.created_at)).all()
        ids = [j.id for j in job_rows]
        task_rows = conn.execute(
            select(tasks).where(tasks.c.job_id.in_(ids)).order_by(tasks.c.step, tasks.c.key)
        ).all()
        hold_rows = conn.execute(
            select(ledger.c.job_id, ledger.c.backend, ledger.c.unit, ledger.c.amount).where(
                ledger.c.job_id.in_(ids), ledger.c.kind == "hold"
            )
        ).all()
    steps: dict[str, dict[int, list[Task]]] = defaultdict(lambda: defaultdict(list))
    for row in task_rows:
        task = _task(row)
        if task is not None:
            steps[row.job_id][row.step].append(task)
    needs: dict[str, list[tuple[str, str, float]]] = defaultdict(list)
    for h in hold_rows:
        needs[h.job_id].append((h.backend, h.unit, float(h.amount)))
    out = [
        Job(
            id=j.id,
            proposal=j.proposal,
            user=j.user,
            qos=j.qos,
            submitted=epoch_of(j.created_at),
            needs=tuple(needs[j.id]),
            steps=tuple(tuple(s) for _, s in sorted(steps[j.id].items())),
        )
        for j in job_rows
        if steps[j.id]
    ]
    backends = sorted({t.backend for j in out for s in j.steps for t in s})
    header = TraceHeader(
        format="qcbroker-trace",
        version=1,
        backends={b: broker.capacity(b) for b in backends} or {"aer": 1},
        start=min((j.submitted for j in out), default=0.0),
        source="qcbroker store",  # never the store's host or database
    )
    return len(out), write_trace(path, header, out)

"""Phases of the broker's jobs and tasks, from the store's timestamps.

The store keeps naive UTC times: a job's ``created_at`` / ``finished_at``, a task's
``created_at`` -> ``dispatched_at`` -> ``started_at`` (claimed) -> ``finished_at``
(recorded). The client's own clock (``time.time()``) joins them at both ends.
"""

from __future__ import annotations

import itertools
import statistics
from datetime import UTC, datetime
from typing import Any


def utc(epoch: float) -> datetime:
    """Epoch seconds as the store's naive UTC."""
    return datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None)


def ms(later: datetime, earlier: datetime) -> float:
    """``later - earlier`` in milliseconds."""
    return (later - earlier).total_seconds() * 1000


# What each phase of a trivial job covers, in order; they add up to the client's wall time.
JOB_PHASES = {
    "submit": "client submit -> job row created (HTTP, auth, parse, admission)",
    "release": "job created -> task dispatched (the API's release after the commit)",
    "deliver": "dispatched -> claimed by a worker (Celery over Redis, claim)",
    "worker": "claimed -> recorded, less run_seconds (payload, native id, result, charges)",
    "run": "the backend's run_seconds",
    "advance": "task recorded -> job COMPLETED (advance: re-parse the job, step, persist)",
    "notice": "job COMPLETED -> client's wait() returns (events stream, status)",
    "result": "GET result (lineage)",
}


def job_phases(sample: dict[str, Any], job: Any, task: Any) -> dict[str, float]:
    """The phases (ms) of one trivial job: see :data:`JOB_PHASES`. ``sample`` is
    :func:`.measure.broker_sample`'s, ``job`` and ``task`` the store's rows."""
    t0 = utc(sample["t0"])
    waited = utc(sample["t0"] + sample["submit"] + sample["wait"])
    run_ms = (task.run_seconds or 0.0) * 1000
    return {
        "submit": ms(job.created_at, t0),
        "release": ms(task.dispatched_at, job.created_at),
        "deliver": ms(task.started_at, task.dispatched_at),
        "worker": ms(task.finished_at, task.started_at) - run_ms,
        "run": run_ms,
        "advance": ms(job.finished_at, task.finished_at),
        "notice": ms(waited, job.finished_at),
        "result": sample["result"] * 1000,
    }


# What each phase of a step of the long job covers (from step 1 on).
STEP_PHASES = {
    "advance": "previous task recorded -> this task created (advance)",
    "release": "created -> dispatched (the worker's release)",
    "deliver": "dispatched -> claimed (Celery over Redis, claim)",
    "worker": "claimed -> recorded, less run_seconds",
    "run": "the backend's run_seconds",
}


def step_phases(quantum: list[Any]) -> list[dict[str, float]]:
    """The phases (ms) of each step from the third on (see :data:`STEP_PHASES`): the second
    step's task also waits for the first step's classical reference task."""
    out = []
    for prev, task in itertools.pairwise(quantum[1:]):
        run_ms = (task.run_seconds or 0.0) * 1000
        out.append(
            {
                "advance": ms(task.created_at, prev.finished_at),
                "release": ms(task.dispatched_at, task.created_at),
                "deliver": ms(task.started_at, task.dispatched_at),
                "worker": ms(task.finished_at, task.started_at) - run_ms,
                "run": run_ms,
            }
        )
    return out


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def burst_phases(rows: list[Any], submitted_at: datetime) -> dict[str, dict[str, float]]:
    """Median phases (ms) of a burst's tasks that started during its submission and after.

    ``gap`` is from the previous task's record (whichever worker ran it) to this task's
    claim: the whole deployment's idle time between tasks while at most one runs at a time
    (negative when tasks overlap). ``worker_gap`` is from the same worker's previous record
    to this claim: a worker's idle time between two tasks, whatever the capacity.
    ``deliver``, ``worker`` and ``run`` are as in :data:`JOB_PHASES`.
    """
    ordered = sorted(rows, key=lambda r: r.started_at)
    by_worker: dict[str, list[Any]] = {}
    for row in ordered:
        by_worker.setdefault(row.worker_id, []).append(row)
    out: dict[str, dict[str, float]] = {}
    for name, during in (("during_submission", True), ("after_submission", False)):
        picked = [
            (prev, r)
            for prev, r in itertools.pairwise(ordered)
            if (r.started_at < submitted_at) == during
        ]
        if not picked:
            continue
        same_worker = [
            ms(r.started_at, prev.finished_at)
            for own in by_worker.values()
            for prev, r in itertools.pairwise(own)
            if (r.started_at < submitted_at) == during
        ]
        out[name] = {
            "n": len(picked),
            "gap": _median([ms(r.started_at, p.finished_at) for p, r in picked]),
            "worker_gap": _median(same_worker) if same_worker else 0.0,
            "deliver": _median([ms(r.started_at, r.dispatched_at) for _, r in picked]),
            "worker": _median(
                [ms(r.finished_at, r.started_at) - (r.run_seconds or 0.0) * 1000 for _, r in picked]
            ),
            "run": _median([(r.run_seconds or 0.0) * 1000 for _, r in picked]),
        }
    return out


def max_running(rows: list[Any]) -> int:
    """The most tasks of ``rows`` that were running (claimed, not yet recorded) at once."""
    events = sorted(
        [(r.started_at, 1) for r in rows] + [(r.finished_at, -1) for r in rows],
        key=lambda e: (e[0], e[1]),
    )
    running = most = 0
    for _, change in events:
        running += change
        most = max(most, running)
    return most

"""The scheduler's whole tick at 100,000 pending tasks, store read included, on PostgreSQL.

A fresh PostgreSQL database (:func:`tests.harness.stack.create_database`) holds the
synthetic policy's 1,000 proposals (3 users each, 4 programs, 10 backends of 3 free slots;
the backends file gives each that capacity), 100,000 pending tasks in 20,000 jobs, and
30,000 occupancy lines (fair-share usage). One :class:`~broker.core.scheduler.Scheduler`
whose sender only collects task ids ticks: it reads the dead workers, the queued tasks
to re-send, the pending tasks with their jobs, the usage and each proposal's standing,
runs the engine's cycle and marks the 30 chosen tasks queued. Between samples the
released tasks are put back to pending, so every tick sees the same queue.

The parts are timed inside the same ticks: ``snapshot`` (the store read of the release
cycle) and ``cycle`` (:meth:`policies.engine.Engine.cycle`); the rest of the tick is the
other reads and the release's writes. Aim: a tick at most 250 ms.

    .venv/bin/python benchmarks/scheduler_tick.py [--pending 100000] [--repeats 7]

Writes ``scheduler_tick.json`` next to itself and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from service import ROOT  # noqa: F401  (puts the checkout's tests/harness on sys.path)
from sqlalchemy import insert, update

from backends.states import TaskState
from broker.config import Settings
from broker.core import dispatch as dispatch_module
from broker.core import snapshot as snapshot_module
from broker.core.orchestrator import Broker
from broker.core.scheduler import Scheduler
from broker.store.schema import jobs, occupancy, tasks
from policies.engine import Engine
from policies.synthetic import Shape, policy_data
from tests.harness.stack import create_database, drop_database

HERE = Path(__file__).resolve().parent


def fill(broker: Broker, shape: Shape, pending: int, seed: int = 1) -> None:
    """Jobs of ``pending // 5`` x 5 pending tasks, and 30,000 occupancy lines."""
    rng = random.Random(seed)
    backends = list(shape.backends())
    now = datetime.now(UTC).replace(tzinfo=None)
    job_rows, task_rows, used = [], [], []
    for j in range(pending // 5):
        p = rng.randrange(shape.proposals)
        job_id = f"j-{j:012d}"
        created = now - timedelta(seconds=rng.random() * 3 * 86400)
        job_rows.append(
            {
                "id": job_id, "proposal": f"P{p:04d}", "user": f"u{p}-{rng.randrange(shape.users)}",
                "algorithm": "graph", "backend": backends[0], "spec": {}, "spec_sha256": "0" * 64,
                "state": TaskState.PENDING, "step": 0, "progress": {}, "message": "",
                "policy_revision": "bench", "created_at": created, "updated_at": created,
            }
        )  # fmt: skip
        for k in range(5):
            backend = backends[rng.randrange(len(backends))]
            task_rows.append(
                {
                    "id": f"t-{j:012d}-{k}", "job_id": job_id, "step": 0, "key": f"k{k}",
                    "kind": "classical" if backend.startswith("hpc") else "quantum",
                    "backend": backend, "queue": f"q.{backend}", "state": TaskState.PENDING,
                    "payload": {}, "attempts": 0, "cancel_requested": False, "message": "",
                    "size": float(rng.choice([1, 1, 2, 4, 8])), "created_at": created,
                }
            )  # fmt: skip
    for i in range(30_000):
        p = rng.randrange(shape.proposals)
        used.append(
            {
                "task_id": f"done-{i}", "backend": backends[rng.randrange(len(backends))],
                "proposal": f"P{p:04d}", "user": f"u{p}-{rng.randrange(shape.users)}",
                "seconds": rng.random() * 600, "at": now - timedelta(seconds=rng.random() * 864000),
            }
        )  # fmt: skip
    with broker.db.write() as conn:
        for rows, table in ((job_rows, jobs), (task_rows, tasks), (used, occupancy)):
            for start in range(0, len(rows), 5000):
                conn.execute(insert(table), rows[start : start + 5000])


def timed_parts() -> dict[str, list[float]]:
    """Wrap the snapshot and the engine's cycle to time them inside each tick."""
    parts: dict[str, list[float]] = {"snapshot": [], "cycle": []}
    real_snapshot, real_cycle = snapshot_module.snapshot, Engine.cycle

    def snapshot(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        out = real_snapshot(*args, **kwargs)
        parts["snapshot"].append(time.perf_counter() - t0)
        return out

    def cycle(self: Engine, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        out = real_cycle(self, *args, **kwargs)
        parts["cycle"].append(time.perf_counter() - t0)
        return out

    setattr(dispatch_module, "snapshot", snapshot)  # noqa: B010 (the module's own name)
    Engine.cycle = cycle  # type: ignore[method-assign]
    return parts


def measure(pending: int, repeats: int) -> dict[str, Any]:
    """Ticks over ``pending`` pending tasks on a fresh database."""
    shape = Shape(proposals=1000, users=3)
    home = Path(tempfile.mkdtemp(prefix="qcb-tick-"))
    os.environ["QCB_HOME"] = str(home)
    policy = home / "policy.yaml"
    policy.write_text(yaml.safe_dump(policy_data(shape, 1)))
    backends_file = home / "backends.yaml"
    backends_file.write_text("".join(f"{b}: {{capacity: 3}}\n" for b in shape.backends()))
    backends_file.chmod(0o600)
    url = create_database()
    broker = Broker(
        Settings(database_url=url, home=home, policy_file=policy, backends_file=backends_file)
    )
    try:
        fill(broker, shape, pending)
        sent: list[str] = []
        scheduler = Scheduler(broker, lambda task_id, _queue: sent.append(task_id))
        parts = timed_parts()
        ticks, released = [], []
        for _ in range(repeats + 1):  # the first builds the engine and reads all usage
            sent.clear()
            t0 = time.perf_counter()
            scheduler.tick()
            ticks.append(time.perf_counter() - t0)
            released.append(len(sent))
            with broker.db.write() as conn:  # the same queue for the next tick
                conn.execute(
                    update(tasks).where(tasks.c.id.in_(sent)).values(state=TaskState.PENDING)
                )
        return {
            "pending_tasks": pending,
            "proposals": shape.proposals,
            "backends": len(shape.backends()),
            "released_per_tick": released[1:],
            "first_tick_s": round(ticks[0], 4),
            "tick_s_median": round(statistics.median(ticks[1:]), 4),
            "tick_s_all": [round(t, 4) for t in ticks[1:]],
            "snapshot_s_median": round(statistics.median(parts["snapshot"][1:]), 4),
            "cycle_s_median": round(statistics.median(parts["cycle"][1:]), 4),
            "aim_s": 0.25,
        }
    finally:
        broker.db.engine.dispose()
        drop_database(url)


def main() -> None:
    """Measure, write ``scheduler_tick.json``, print it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", type=Path, default=HERE / "scheduler_tick.json")
    args = parser.parse_args()
    result = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "date": datetime.now(UTC).date().isoformat(),
        "tick": measure(args.pending, args.repeats),
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    json.dump(result, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()

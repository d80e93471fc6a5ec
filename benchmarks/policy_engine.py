"""Policy engine benchmark: one scheduling cycle over 100,000 pending tasks, and the replay
of a 1,000,000-task trace.

(a) ``Engine.cycle`` over 100,000 pending tasks of 1,000 proposals (3 users each) on 10
    backends with 3 free slots each, after 30,000 usage records; median of several runs.
    Also ``PendingTasks.from_rows`` for the same rows, and, as the baseline measured in the
    same run, Python's ``sorted()`` of the 100,000 tasks by a precomputed key.
(b) A synthetic trace (1,000 proposals, 5 quantum and 5 classical backends of capacity 4,
    offered load 0.9) is generated and written as JSON Lines; then read back with full
    checks (``check_trace``), read with plain ``json.loads`` only (the baseline), and
    replayed from the file by ``simulate``. As a floor, the same trace is also replayed
    with no policy at all (``fifo_replay``: first in, first out per backend), which no
    replay of this event model can beat.

Run from the repository root::

    .venv/bin/python benchmarks/policy_engine.py

It writes ``benchmarks/policy_engine.json``. Timings are wall-clock seconds
(``time.perf_counter``) and CPU seconds of this process (``time.process_time``).
"""

from __future__ import annotations

import argparse
import heapq
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from policies.engine import Engine, PendingTasks, TaskRow  # noqa: E402
from policies.fairshare import DecayedUsage  # noqa: E402
from policies.simulate import simulate  # noqa: E402
from policies.synthetic import Shape, synthetic_jobs, synthetic_policy  # noqa: E402
from policies.trace import Job, Task, Trace, TraceHeader, check_trace, write_trace  # noqa: E402

NOW = 1_767_225_600.0 + 30 * 86400


def _timed(fn: Any) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def cycle_benchmark(tasks: int, repeats: int, seed: int = 1) -> dict[str, Any]:
    """(a): one cycle over ``tasks`` pending tasks."""
    shape = Shape(proposals=1000, users=3)
    policy = synthetic_policy(shape, seed)
    backends = list(shape.backends())
    rng = random.Random(seed)
    rows = []
    for i in range(tasks):
        p = rng.randrange(shape.proposals)
        rows.append(
            TaskRow(
                f"t{i:07d}",
                backends[rng.randrange(len(backends))],
                f"P{p:04d}",
                f"u{p}-{rng.randrange(shape.users)}",
                rng.choice([None, None, "normal", "high"]),
                NOW - rng.random() * 3 * 86400,
                float(rng.choice([1, 1, 2, 4, 8])),
                rng.random() < 0.3,
            )
        )
    usage = DecayedUsage(policy.fairshare.half_life)
    for _ in range(30_000):
        p = rng.randrange(shape.proposals)
        usage.add(
            backends[rng.randrange(len(backends))],
            f"P{p:04d}",
            f"u{p}-{rng.randrange(shape.users)}",
            rng.random() * 600,
            NOW - 10 * 86400 + rng.random() * 10 * 86400,
        )
    free = dict.fromkeys(backends, 3)
    engine = Engine(policy)
    builds, cycles, sorts = [], [], []
    released: list[Any] = []
    for _ in range(repeats):
        wall, _, pending = _timed(lambda: PendingTasks.from_rows(rows))
        builds.append(wall)
        wall, _, released = _timed(lambda p=pending: engine.cycle(p, free, usage, NOW))
        cycles.append(wall)
    scored = engine.score(pending, usage, NOW)
    keys = list(
        zip(
            (-scored.priority).tolist(),
            pending.created.tolist(),
            pending.ids.tolist(),
            strict=True,
        )
    )
    for _ in range(repeats):
        wall, _, _ = _timed(lambda: sorted(range(len(keys)), key=keys.__getitem__))
        sorts.append(wall)
    cycle_s, sort_s = statistics.median(cycles), statistics.median(sorts)
    return {
        "pending_tasks": tasks,
        "proposals": shape.proposals,
        "users_per_proposal": shape.users,
        "backends": len(backends),
        "free_per_backend": 3,
        "usage_records": 30_000,
        "repeats": repeats,
        "released": len(released),
        "from_rows_s_median": statistics.median(builds),
        "cycle_s_median": cycle_s,
        "cycle_s_all": cycles,
        "baseline_sorted_s_median": sort_s,
        "cycle_over_sorted": cycle_s / sort_s,
    }


def fifo_replay(trace: Trace) -> int:
    """The floor of a replay: the same trace read with its checks, each job's steps in
    order, each task a queueing, a release and a completion event, but no policy (no
    admission, no fair share, no priorities, no charges): first in, first out per backend,
    with only the usage per (proposal, user) summed. Returns the tasks completed."""
    capacity = dict(trace.header.backends)
    busy = dict.fromkeys(capacity, 0)
    queues: dict[str, deque[tuple[Job, int, Task]]] = {b: deque() for b in capacity}
    events: list[tuple[float, int, Job, int, Task]] = []
    usage: dict[tuple[str, str], float] = {}
    left: dict[tuple[str, int], int] = {}
    seq = done = 0

    def enqueue(job: Job, step: int) -> None:
        left[(job.id, step)] = len(job.steps[step])
        for task in job.steps[step]:
            queues[task.backend].append((job, step, task))

    jobs = trace.jobs()
    nxt = next(jobs, None)
    while True:
        t = min(nxt.submitted if nxt else float("inf"), events[0][0] if events else float("inf"))
        if t == float("inf"):
            return done
        while events and events[0][0] == t:
            _, _, job, step, task = heapq.heappop(events)
            busy[task.backend] -= 1
            key = (job.proposal, job.user)
            usage[key] = usage.get(key, 0.0) + task.duration
            done += 1
            left[(job.id, step)] -= 1
            if not left[(job.id, step)]:
                del left[(job.id, step)]
                if step + 1 < len(job.steps):
                    enqueue(job, step + 1)
        while nxt is not None and nxt.submitted == t:
            enqueue(nxt, 0)
            nxt = next(jobs, None)
        for backend, queue in queues.items():
            while queue and busy[backend] < capacity[backend]:
                job, step, task = queue.popleft()
                busy[backend] += 1
                seq += 1
                heapq.heappush(events, (t + task.duration, seq, job, step, task))


def replay_benchmark(tasks: int, folder: Path, seed: int = 0) -> dict[str, Any]:
    """(b): generate, write, read and replay a ``tasks``-task trace."""
    shape = Shape(proposals=1000, users=3, capacity=4)
    policy = synthetic_policy(shape, seed)
    start = 1_767_225_600.0
    path = folder / "trace.jsonl"
    gen_wall, _, jobs = _timed(lambda: list(synthetic_jobs(shape, tasks, start, seed=seed)))
    header = TraceHeader(format="qcbroker-trace", version=1, backends=shape.backends(), start=start)
    write_wall, _, written = _timed(lambda jobs=jobs: write_trace(path, header, jobs))
    n_jobs = len(jobs)
    del jobs
    check_wall, check_cpu, (checked_jobs, checked_tasks) = _timed(lambda: check_trace(path))

    def plain() -> int:
        count = 0
        with path.open() as f:
            f.readline()
            for line in f:
                job = json.loads(line)
                count += sum(len(step) for step in job["steps"])
        return count

    plain_wall, plain_cpu, plain_tasks = _timed(plain)
    trace = Trace.open(path)
    floor_wall, floor_cpu, floor_tasks = _timed(lambda: fifo_replay(trace))
    sim_wall, sim_cpu, report = _timed(lambda: simulate(policy, trace))
    refused = sum(r.jobs_refused for r in report.proposals.values())
    return {
        "tasks": written,
        "jobs": n_jobs,
        "backends": shape.backends(),
        "trace_bytes": path.stat().st_size,
        "generate_s": gen_wall,
        "write_s": write_wall,
        "read_checked_s": check_wall,
        "read_checked_cpu_s": check_cpu,
        "read_checked_tasks": checked_tasks,
        "read_checked_jobs": checked_jobs,
        "baseline_json_loads_s": plain_wall,
        "baseline_json_loads_cpu_s": plain_cpu,
        "baseline_tasks": plain_tasks,
        "floor_fifo_replay_s": floor_wall,
        "floor_fifo_replay_cpu_s": floor_cpu,
        "floor_fifo_replay_tasks": floor_tasks,
        "floor_over_json_loads": floor_wall / plain_wall,
        "simulate_s": sim_wall,
        "simulate_cpu_s": sim_cpu,
        "simulate_us_per_task": 1e6 * sim_wall / max(written, 1),
        "simulate_over_json_loads": sim_wall / plain_wall,
        "simulated_days": (report.end - report.start) / 86400,
        "tasks_run": report.tasks,
        "jobs_refused": refused,
        "utilization": {b: round(u, 3) for b, u in report.utilization.items()},
    }


def main() -> None:
    """Run both parts and write the JSON file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "policy_engine.json")
    args = parser.parse_args()
    result: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "platform": platform.platform(),
            "cpus": __import__("os").cpu_count(),
        },
        "date": time.strftime("%Y-%m-%d"),
    }
    result["cycle"] = cycle_benchmark(args.pending, args.repeats)
    print(json.dumps(result["cycle"], indent=1), flush=True)
    with tempfile.TemporaryDirectory() as folder:
        result["replay"] = replay_benchmark(args.tasks, Path(folder))
    print(json.dumps(result["replay"], indent=1), flush=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""Statistics, the figures (the JSON file's content) and the Markdown table."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

from .phases import (
    JOB_PHASES,
    STEP_PHASES,
    burst_phases,
    job_phases,
    max_running,
    ms,
    step_phases,
)


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between order statistics."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    k = (len(ordered) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(values: list[float]) -> dict[str, float]:
    """Median, p10, p90, p99, min and max, rounded to 0.01."""
    return {
        "n": len(values),
        "median": round(statistics.median(values), 2),
        "p10": round(pct(values, 10), 2),
        "p90": round(pct(values, 90), 2),
        "p99": round(pct(values, 99), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
    }


def medians(rows: list[dict[str, float]]) -> dict[str, float]:
    """Per key, the median over ``rows`` (ms, rounded to 0.01)."""
    return {k: round(statistics.median(r[k] for r in rows), 2) for k in rows[0]} if rows else {}


def environment() -> dict[str, Any]:
    """The machine and the software measured."""
    redis_version = subprocess.run(
        ["redis-server", "--version"], capture_output=True, text=True, check=False
    ).stdout.split()
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "redis_server": next((w[2:] for w in redis_version if w.startswith("v=")), "?"),
        "packages": {
            p: version(p)
            for p in ("celery", "kombu", "redis", "qiskit-aer", "sqlalchemy", "psycopg")
        },
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
    }


def _latency(m: dict[str, Any], by_job: dict[str, list[Any]]) -> dict[str, Any]:
    """The latency figures: overhead per task on both sides, the broker's phases."""
    b_samples, r_samples, job_rows = m["b_samples"], m["r_samples"], m["job_rows"]
    phases = [job_phases(s, job_rows[s["job_id"]], by_job[s["job_id"]][0]) for s in b_samples]
    tenth = max(len(phases) // 10, 1)
    submit_trend = {
        "first_tenth_median_ms": round(statistics.median(p["submit"] for p in phases[:tenth]), 2),
        "last_tenth_median_ms": round(statistics.median(p["submit"] for p in phases[-tenth:]), 2),
    }
    b_over = [(s["wall"] - s["run"]) / s["quantum_tasks"] * 1000 for s in b_samples]
    b_store = [
        ms(job_rows[s["job_id"]].finished_at, job_rows[s["job_id"]].created_at) - s["run"] * 1000
        for s in b_samples
    ]
    r_over = [(s["wall"] - s["run"]) * 1000 for s in r_samples]
    return {
        "broker_ms_per_task": summary(b_over),
        "raw_celery_ms": summary(r_over),
        "broker_store_ms_per_task": summary(b_store),
        "broker_wall_ms": summary([s["wall"] * 1000 for s in b_samples]),
        "raw_wall_ms": summary([s["wall"] * 1000 for s in r_samples]),
        "broker_run_ms": summary([s["run"] * 1000 for s in b_samples]),
        "raw_run_ms": summary([s["run"] * 1000 for s in r_samples]),
        "raw_task_body_ms": summary([s["task"] * 1000 for s in r_samples]),
        "broker_phases_median_ms": medians(phases),
        "broker_phases_p99_ms": {k: round(pct([p[k] for p in phases], 99), 2) for k in JOB_PHASES},
        "phases": JOB_PHASES,
        "submit_phase_trend": submit_trend,
        "admission_read": m["admission"],
        "load": m["latency_load"],
        "samples": {
            "broker_ms_per_task": [round(x, 2) for x in b_over],
            "raw_celery_ms": [round(x, 2) for x in r_over],
            "broker_phases_ms": [{k: round(v, 2) for k, v in p.items()} for p in phases],
        },
    }


def _long_job(m: dict[str, Any], by_job: dict[str, list[Any]]) -> dict[str, Any]:
    """The long job's figures: overhead per step, the first step, the steady steps' phases."""
    long = m["long"]
    long_tasks = by_job[long["job_id"]]
    quantum = sorted((t for t in long_tasks if t.kind == "quantum"), key=lambda t: t.step)
    steps = long["quantum_tasks"]
    long_steps = step_phases(quantum)
    steady = [sum(p.values()) - p["run"] for p in long_steps]
    created = m["job_rows"][long["job_id"]].created_at
    first = ms(quantum[1].created_at, created) if steps > 1 else None
    return {
        "steps": steps,
        "iterations": long["iterations"],
        "wall_s": round(long["wall"], 3),
        "quantum_run_s": round(long["run"], 3),
        "reference_run_s": round(long["other_run"], 3),
        "overhead_ms_per_step": round((long["wall"] - long["run"]) / steps * 1000, 2),
        "first_step_ms": round(first, 2) if first is not None else None,
        "steady_overhead_ms_per_step": summary(steady) if steady else None,
        "step_phases_median_ms": medians(long_steps),
        "step_phases": STEP_PHASES,
        "load": m["long_load"],
    }


def analyse(m: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The figures (ms, tasks/s, ratios) from :func:`.measure.measure`'s samples and rows."""
    by_job: dict[str, list[Any]] = {}
    for row in m["task_rows"]:
        by_job.setdefault(row.job_id, []).append(row)
    latency = _latency(m, by_job)
    long_out = _long_job(m, by_job)

    bursts = m["bursts"]
    b_rates = [r["tasks"] / r["elapsed_s"] for r in bursts["broker"]]
    r_rates = [r["tasks"] / r["elapsed_s"] for r in bursts["raw"]]
    of_burst = {job_id: n for n, ids in enumerate(m["burst_ids"]) for job_id in ids}
    for n, run in enumerate(bursts["broker"]):
        rows = [t for t in m["burst_tasks"] if of_burst[t.job_id] == n]
        run["phases_median_ms"] = burst_phases(rows, run["submitted_at"])
    throughput: dict[str, Any] = {
        "broker": bursts["broker"],
        "raw": bursts["raw"],
        "broker_tasks_per_s": [round(x, 1) for x in b_rates],
        "raw_tasks_per_s": [round(x, 1) for x in r_rates],
        "broker_median_tasks_per_s": round(statistics.median(b_rates), 1),
        "raw_median_tasks_per_s": round(statistics.median(r_rates), 1),
        "broker_workers_used": len({t.worker_id for t in m["burst_tasks"]}),
        "broker_max_tasks_running_at_once": max_running(m["burst_tasks"]),
        "threads": args.threads,
    }
    lb, lr = latency["broker_ms_per_task"], latency["raw_celery_ms"]
    ratios = {
        "overhead_median": round(lb["median"] / lr["median"], 2),
        "overhead_p99": round(lb["p99"] / lr["p99"], 2),
        "throughput": round(statistics.median(b_rates) / statistics.median(r_rates), 3),
    }
    aims = {
        "overhead_median_under_5_ms": lb["median"] < 5.0,
        "throughput_at_least_half_of_raw": ratios["throughput"] >= 0.5,
    }
    return {
        "backends_file": m["backends_file"],
        "latency": latency,
        "long_job": long_out,
        "throughput": throughput,
        "ratios": ratios,
        "aims": aims,
    }


def print_report(results: dict[str, Any]) -> None:
    """The table (Markdown) and the figures behind it."""
    latency, long_out = results["latency"], results["long_job"]
    throughput, ratios = results["throughput"], results["ratios"]
    lb, lr = latency["broker_ms_per_task"], latency["raw_celery_ms"]
    repeats = len(throughput["broker"])
    print()
    print(f"backends file: {results['backends_file']}")
    print("| measure | broker (service) | raw Celery | ratio |")
    print("|---|---|---|---|")
    print(f"| overhead per quantum task, median ms (n={lb['n']}) | {lb['median']} | "
          f"{lr['median']} | {ratios['overhead_median']} |")  # fmt: skip
    print(f"| overhead per quantum task, p99 ms | {lb['p99']} | {lr['p99']} | "
          f"{ratios['overhead_p99']} |")  # fmt: skip
    print(f"| throughput, quantum tasks/s (median of {repeats}) | "
          f"{throughput['broker_median_tasks_per_s']} | {throughput['raw_median_tasks_per_s']} | "
          f"{ratios['throughput']} |")  # fmt: skip
    print()
    print(f"broker overhead per task: {lb}")
    print(f"raw Celery overhead: {lr}")
    print(f"store-side (job created -> finished, less run): {latency['broker_store_ms_per_task']}")
    print(f"broker phases, median ms: {latency['broker_phases_median_ms']}")
    print(f"broker phases, p99 ms: {latency['broker_phases_p99_ms']}")
    print(f"submit phase, first and last tenth of the samples: {latency['submit_phase_trend']}")
    print(f"admission's ledger read (standing_inputs), after warm-up and at the end: "
          f"{latency['admission_read']}")  # fmt: skip
    print(f"run_seconds, broker {latency['broker_run_ms']}, raw {latency['raw_run_ms']}")
    print(f"long job: {long_out['steps']} steps, wall {long_out['wall_s']} s, quantum run "
          f"{long_out['quantum_run_s']} s: {long_out['overhead_ms_per_step']} ms/step overhead; "
          f"first step {long_out['first_step_ms']} ms (reference task "
          f"{long_out['reference_run_s']} s)")  # fmt: skip
    print(f"long job from step 3: overhead per step {long_out['steady_overhead_ms_per_step']}")
    print(f"long job from step 3: phases, median ms {long_out['step_phases_median_ms']}")
    print(f"bursts: broker {throughput['broker_tasks_per_s']} tasks/s on "
          f"{throughput['broker_workers_used']} workers, at most "
          f"{throughput['broker_max_tasks_running_at_once']} task(s) running at once; "
          f"raw {throughput['raw_tasks_per_s']} tasks/s")  # fmt: skip
    after = [round(b["tasks_per_s_after_submission"], 1) for b in throughput["broker"]]
    during = [b["done_during_submission"] for b in throughput["broker"]]
    submit = [round(b["submit_s"], 2) for b in throughput["broker"]]
    raw_submit = [round(r["submit_s"], 2) for r in throughput["raw"]]
    print(f"broker bursts: submission took {submit} s ({during} jobs done meanwhile), then "
          f"{after} tasks/s; raw Celery's submission took {raw_submit} s")  # fmt: skip
    for run in throughput["broker"]:
        print(f"broker burst: lock waiters {run['lock_waiters_during_submission']} during "
              f"submission, {run['lock_waiters_after_submission']} after; task phases "
              f"{run['phases_median_ms']}")  # fmt: skip
    print(f"aims: {results['aims']}")

"""A trivial job's path in one process, with no HTTP and no transport: what the broker's own
Python and SQL cost, against the store's bare round trip in the same run.

A fresh PostgreSQL database (:func:`tests.harness.stack.create_database`), one
:class:`~broker.core.orchestrator.Broker` on it whose sender only collects task ids, and one
:class:`~broker.core.execution.Executor` in the same process. Each sample is the job of
``service_overhead.py`` (``vqe_h2.yaml`` cut to one quantum task):

- ``submit``: ``Broker.submit`` (validation, admission, the first step, its release);
- ``execute``: ``Executor.execute`` of its task less the backend's own ``run_seconds``
  (claim, record, charge, advance, end of the job, release of the freed backend);
- ``read``: ``job_status`` then ``job_result``, as the API's two reads of a finished job.

Every statement is counted (SQLAlchemy's ``before_cursor_execute``). The baseline is the
bare round trip of the same connection pool, interleaved with the samples: one ``SELECT 1``
inside an open transaction, and an empty transaction. ``floor`` is statements x the first
plus transactions x the second: what the path would cost if each of its statements cost
no more than ``SELECT 1`` (no Python around them, no work in PostgreSQL).

    .venv/bin/python benchmarks/store_path.py [--samples 100]

Writes ``store_path.json`` next to itself and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from service import ROOT  # noqa: F401  (puts the checkout's tests/harness on sys.path)
from service.measure import load, trivial_job
from sqlalchemy import event, text

from broker.config import Settings
from broker.core import queries
from broker.core.execution import Executor
from broker.core.orchestrator import Broker
from broker.jobfile import validate_job
from tests.harness.stack import create_database, drop_database

PHASES = ("submit", "execute", "read")


def median_ms(values: list[float]) -> float:
    """The median of ``values`` (seconds) in milliseconds, rounded."""
    return round(1e3 * statistics.median(values), 2)


def sample(broker: Broker, executor: Executor, sent: list[str], n: int) -> dict[str, float]:
    """One job through the three phases; seconds per phase."""
    data = trivial_job()
    sent.clear()
    t0 = time.perf_counter()
    job_id = broker.submit(validate_job(data), "bench", client_key=f"k{n}")
    t1 = time.perf_counter()
    for task_id in list(sent):
        executor.execute(task_id)
    t2 = time.perf_counter()
    queries.job_status(broker.db, job_id)
    result = queries.job_result(broker.db, job_id)
    t3 = time.perf_counter()
    run = sum(r.run_seconds or 0.0 for r in result.lineage.tasks)
    return {"submit": t1 - t0, "execute": t2 - t1 - run, "read": t3 - t2, "run": run}


def round_trip(broker: Broker) -> tuple[float, float]:
    """Seconds of one ``SELECT 1`` inside an open transaction of the broker's pool (the
    mean of 20), and of an empty transaction (``BEGIN``, ``COMMIT``) on it."""
    with broker.db.engine.connect() as conn:
        t0 = time.perf_counter()
        conn.begin()
        t1 = time.perf_counter()
        for _ in range(20):
            conn.execute(text("SELECT 1"))
        t2 = time.perf_counter()
        conn.commit()
        t3 = time.perf_counter()
    return (t2 - t1) / 20, (t1 - t0) + (t3 - t2)


def measure(samples: int, warmup: int) -> dict[str, Any]:
    """Run the samples on a fresh database; the figures per phase."""
    url = create_database()
    home = tempfile.mkdtemp(prefix="qcb-store-path-")
    os.environ["QCB_HOME"] = home
    broker = Broker(Settings(database_url=url, home=Path(home)))
    try:
        sent: list[str] = []
        broker.dispatch.sender = lambda task_id, queue: sent.append(task_id)
        executor = Executor(broker, "bench-worker")
        for n in range(warmup):
            sample(broker, executor, sent, n)
            round_trip(broker)
        times: dict[str, list[float]] = {p: [] for p in (*PHASES, "run", "statement", "txn")}
        for n in range(warmup, warmup + samples):
            got = sample(broker, executor, sent, n)
            for key, value in got.items():
                times[key].append(value)
            statement, txn = round_trip(broker)
            times["statement"].append(statement)
            times["txn"].append(txn)
        return times
    finally:
        broker.db.engine.dispose()
        drop_database(url)


def per_phase_counts(warmup: int) -> Counter[tuple[str, str]]:
    """Statements and transactions of each phase of one job (after ``warmup`` jobs), on a
    fresh database: ``{(phase, "statements" or "transactions"): count}``."""
    url = create_database()
    home = tempfile.mkdtemp(prefix="qcb-store-path-")
    os.environ["QCB_HOME"] = home
    broker = Broker(Settings(database_url=url, home=Path(home)))
    try:
        sent: list[str] = []
        broker.dispatch.sender = lambda task_id, queue: sent.append(task_id)
        executor = Executor(broker, "bench-worker")
        for n in range(warmup):
            sample(broker, executor, sent, n)
        counts: Counter[tuple[str, str]] = Counter()
        phase = ["submit"]

        @event.listens_for(broker.db.engine, "before_cursor_execute")
        def _statement(*_: Any) -> None:
            counts[phase[0], "statements"] += 1

        @event.listens_for(broker.db.engine, "begin")
        def _transaction(*_: Any) -> None:
            counts[phase[0], "transactions"] += 1

        sent.clear()
        job_id = broker.submit(validate_job(trivial_job()), "bench", client_key="one")
        phase[0] = "execute"
        for task_id in list(sent):
            executor.execute(task_id)
        phase[0] = "read"
        queries.job_status(broker.db, job_id)
        queries.job_result(broker.db, job_id)
        return counts
    finally:
        broker.db.engine.dispose()
        drop_database(url)


def main() -> None:
    """Measure, write the JSON file, print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("store_path.json"))
    args = parser.parse_args()
    started_load = load()
    counts = per_phase_counts(args.warmup)
    times = measure(args.samples, args.warmup)
    statement, txn = statistics.median(times["statement"]), statistics.median(times["txn"])
    rows = []
    for name in PHASES:
        ms = median_ms(times[name])
        n, t = counts[name, "statements"], counts[name, "transactions"]
        floor = (n * statement + t * txn) * 1e3
        rows.append(
            {
                "phase": name,
                "median_ms": ms,
                "statements": n,
                "transactions": t,
                "floor_ms": round(floor, 2),
                "ratio_to_floor": round(ms / floor, 2) if floor else None,
            }
        )
    total = sum(r["median_ms"] for r in rows)
    result = {
        "load_at_start": started_load,
        "samples": args.samples,
        "statement_ms": round(statement * 1e3, 3),
        "transaction_ms": round(txn * 1e3, 3),
        "run_ms": median_ms(times["run"]),
        "phases": rows,
        "total_ms": round(total, 2),
        "python": sys.version.split()[0],
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"SELECT 1 in an open transaction {result['statement_ms']} ms; "
        f"an empty transaction {result['transaction_ms']} ms (medians)"
    )
    print("| phase | median ms | statements | transactions | floor ms | ratio to floor |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['phase']} | {r['median_ms']} | {r['statements']} | {r['transactions']} "
            f"| {r['floor_ms']} | {r['ratio_to_floor']} |"
        )
    print(f"total {result['total_ms']} ms per job (the backend's run: {result['run_ms']} ms)")


if __name__ == "__main__":
    main()

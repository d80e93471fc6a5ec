"""Admission's budget check against a proposal's history, on PostgreSQL: flat from 10 to
10,000 jobs of history.

At each size, a fresh PostgreSQL database (:func:`tests.harness.stack.create_database`)
takes one proposal's jobs, written in time order through the ledger's own functions (each
holds three resources, is charged three times on each, and is released, but for the first
five, which still hold), at times spread over the 300 days before now. The proposal has an
allocation-year budget with a use-it-or-lose-it checkpoint, a monthly budget and a rolling
7-day budget, so the check reads whole days, a checkpoint's days and the part of a day
where the rolling window starts.

Timed, at each size, in a write transaction like a submission's (median of ``--calls``),
after ``VACUUM ANALYZE`` (what autovacuum does after churn; ``check_ms_before_vacuum`` is
the check right after the history was written, before it):

- ``check``: :func:`broker.core.admission.membership_and_budget`, what admission runs in
  the store: the running totals (``broker.store.ledger_totals``) and the policy's decision.
- ``whole_ledger``: the baseline, the read admission made before the running totals: every
  charge line of the proposal into a ``UsageBook``, and the holds summed over every line,
  then the same decision.

A last size puts the whole 10,000-job history inside one day: the day the rolling window
starts in, the one read the totals cannot bound (it reads that day's lines past the start).

    .venv/bin/python benchmarks/admission_history.py [--sizes 10,100,1000,10000] [--calls 200]

Writes ``admission_history.json`` next to itself and prints it.
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
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from service import ROOT
from sqlalchemy import Connection, case, func, insert, select

from broker.core import admission
from broker.jobfile import parse_job
from broker.limits import Limits
from broker.store import ledger
from broker.store.db import Database
from broker.store.schema import jobs
from broker.store.schema import ledger as lines
from policies.admission import Need, admit
from policies.budgets import UsageBook
from policies.loader import parse_policy
from tests.harness.stack import create_database, drop_database

HERE = Path(__file__).resolve().parent
RESOURCES = (("aer", "evaluations"), ("aer", "shots"), ("slurm", "node_hours"))
NEEDS = [Need("aer", "evaluations", 300.0), Need("aer", "shots", 3e5)]


def policy_text(now: datetime) -> str:
    """One proposal with an allocation year (and a checkpoint 60 days ago), a month and a
    rolling week."""
    start = (now - timedelta(days=300)).date()
    checkpoint = (now - timedelta(days=60)).date()
    return f"""
apiVersion: qcbroker/v1
kind: Policy
metadata: {{name: bench, revision: "1"}}
backends:
  aer: {{units: [evaluations, shots]}}
  slurm: {{units: [node_hours]}}
checkpoints:
  - {{date: {checkpoint}, if_used_below_pct: 10, remove_pct_of_unused: 25}}
proposals:
  - id: p
    title: Admission benchmark
    pi: pi
    members: [u]
    start: {start}
    budgets:
      - {{backend: aer, unit: evaluations, amount: 1.0e12}}
      - {{backend: aer, unit: shots, amount: 1.0e15, period: rolling, window: 7d}}
      - {{backend: slurm, unit: node_hours, amount: 1.0e9, period: month}}
"""


def add_history(db: Database, count: int, times: Iterator[datetime]) -> None:
    """``count`` jobs with their ledger lines, at ``times`` (in order, as a ledger is)."""
    clock = {"at": datetime(2000, 1, 1)}
    real_now = ledger.utcnow
    ledger.utcnow = lambda: clock["at"]  # type: ignore[assignment]  # the history's times
    try:
        with db.write() as conn:
            for j in range(count):
                job_id, at = f"j{j:08d}", next(times)
                clock["at"] = at
                conn.execute(insert(jobs).values(
                    id=job_id, proposal="p", user="u", algorithm="vqe", backend="aer",
                    spec={}, spec_sha256="0" * 64, state="COMPLETED", step=0, progress={},
                    message="", policy_revision="1", created_at=at, updated_at=at,
                ))  # fmt: skip
                for backend, unit in RESOURCES:
                    kw: dict[str, Any] = {"proposal": "p", "job_id": job_id, "backend": backend,
                                          "unit": unit, "revision": "1"}  # fmt: skip
                    ledger.hold(conn, amount=100.0, **kw)
                    for t in range(3):
                        clock["at"] = at + timedelta(microseconds=t + 1)
                        ledger.charge(conn, task_id=f"t{t}", amount=10.0 + t, **kw)
                if j >= 5:  # the first five still hold, as running jobs
                    ledger.release(conn, job_id=job_id, revision="1")
    finally:
        ledger.utcnow = real_now  # type: ignore[assignment]


def vacuum(db: Database) -> None:
    """``VACUUM ANALYZE``, as autovacuum does after churn: the history's released holds
    leave dead rows in ``ledger_open`` until then."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")


def whole_ledger_inputs(
    conn: Connection, proposal: str
) -> tuple[UsageBook, dict[tuple[str, str], float]]:
    """The read admission made before the running totals (the baseline)."""
    book = UsageBook()
    ledger.add_to_book(book, ledger.charges_since(conn, 0, proposal))
    signed = case(
        (lines.c.kind == "hold", lines.c.amount),
        (lines.c.kind == "charge", -lines.c.amount),
        else_=0.0,
    )
    released = func.max(case((lines.c.kind == "release", 1), else_=0))
    per_job = (
        select(lines.c.backend, lines.c.unit, func.sum(signed).label("rest"),
               released.label("released"))
        .where(lines.c.proposal == proposal)
        .group_by(lines.c.job_id, lines.c.backend, lines.c.unit)
        .subquery()
    )  # fmt: skip
    positive = case((per_job.c.rest > 0, per_job.c.rest), else_=0.0)
    rows = conn.execute(
        select(per_job.c.backend, per_job.c.unit, func.sum(positive))
        .where(per_job.c.released == 0)
        .group_by(per_job.c.backend, per_job.c.unit)
    ).all()
    return book, {(r[0], r[1]): float(r[2]) for r in rows}


def timed(db: Database, calls: int, run: Callable[[Connection], Any]) -> tuple[float, Any]:
    """Median milliseconds of ``run`` in a write transaction, and its last answer."""
    times, answer = [], None
    for _ in range(calls):
        with db.write() as conn:
            t0 = time.perf_counter()
            answer = run(conn)
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), answer


def measure(sizes: list[int], calls: int) -> dict[str, Any]:
    """Both reads at each history size, then at the largest with one dense day."""
    now = datetime.now(UTC).replace(tzinfo=None)
    loaded = parse_policy(policy_text(now))
    job = (ROOT / "examples" / "vqe_h2.yaml").read_text()
    spec = parse_job(job, "vqe_h2.yaml", overrides={"proposal": "p"})
    rng = random.Random(1)

    def candidate(conn: Connection) -> admission.Candidate:
        return admission.Candidate(
            spec=spec, user="u", requests=(), policy=loaded.policy, backend=lambda _: None,  # type: ignore[arg-type, return-value]
            limits=Limits(), now=time.time(), needs=NEEDS, conn=conn,
        )  # fmt: skip

    def check(conn: Connection) -> Any:
        return admission.membership_and_budget(candidate(conn))

    def baseline(conn: Connection) -> Any:
        book, held = whole_ledger_inputs(conn, "p")
        return admit(loaded.policy, user="u", proposal_id="p", needs=NEEDS, book=book,
                     held=held, now=time.time(), backends={"aer"})  # fmt: skip

    def spread(size: int) -> Iterator[datetime]:
        return iter(sorted(now - timedelta(days=300 * rng.random()) for _ in range(size)))

    def dense(size: int) -> Iterator[datetime]:
        return iter(sorted(_edge_day(now, rng, size)))

    rows = []
    cases = [("spread over 300 days", spread, size) for size in sizes]
    cases.append(("all in the rolling window's first day", dense, max(sizes)))
    for label, times, size in cases:
        url = create_database()
        db = Database(url)
        try:
            add_history(db, size, times(size))
            fresh_ms, _ = timed(db, calls, check)
            vacuum(db)
            check_ms, refusal = timed(db, calls, check)
            whole_ms, decision = timed(db, calls, baseline)
            assert refusal is None and decision.admitted, (refusal, decision)
            rows.append({"history": label, "jobs": size, "check_ms": round(check_ms, 3),
                         "whole_ledger_ms": round(whole_ms, 3),
                         "check_ms_before_vacuum": round(fresh_ms, 3)})  # fmt: skip
            print(rows[-1], file=sys.stderr)
        finally:
            db.dispose()
            drop_database(url)
    spread_rows = [r for r in rows if r["history"].startswith("spread")]
    return {
        "rows": rows,
        "check_ratio_largest_to_smallest": round(
            spread_rows[-1]["check_ms"] / spread_rows[0]["check_ms"], 2
        ),
        "whole_ledger_ratio_largest_to_smallest": round(
            spread_rows[-1]["whole_ledger_ms"] / spread_rows[0]["whole_ledger_ms"], 2
        ),
    }


def _edge_day(now: datetime, rng: random.Random, size: int) -> list[datetime]:
    """Times inside the day the rolling 7-day window starts in, after its start."""
    first = now - timedelta(days=7) + timedelta(minutes=10)
    end = datetime.combine(first.date() + timedelta(days=1), datetime.min.time())
    span = max(end - first - timedelta(minutes=5), timedelta(0))
    return [first + span * rng.random() for _ in range(size)]


def main() -> None:
    """Measure, write ``admission_history.json``, print it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--out", type=Path, default=HERE / "admission_history.json")
    args = parser.parse_args()
    os.environ.setdefault("QCB_HOME", tempfile.mkdtemp(prefix="qcb-admission-"))
    result = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "date": datetime.now(UTC).date().isoformat(),
        "calls": args.calls,
        "admission": measure([int(s) for s in args.sizes.split(",")], args.calls),
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    json.dump(result, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()

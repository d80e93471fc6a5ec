"""Throughput with 1, 2 and 4 worker processes, broker against raw Celery, and what the
store does per task.

For each worker count N, one run of: a :class:`tests.harness.stack.LocalStack` (private
Redis, fresh PostgreSQL database, API, scheduler) with N ``qcb worker`` processes and a
backends file ``aer: {capacity: N}``; ``--burst`` trivial jobs (``vqe_h2.yaml`` cut to one
quantum task, as in ``service_overhead.py``) submitted at once from 8 client threads, timed
until the store has all of them final; then raw Celery (``service/rawcelery.py``) with N
worker processes on the same Redis, the same number of tasks. Beside each rate:

- transactions per task: the stack database's commits and rollbacks
  (``pg_stat_database``) over the burst, less this script's own polling and less what the
  idle deployment does in as long (its rate measured just before), read after PostgreSQL
  has flushed every session's counters (within 10 s of going idle);
- lock waits per task: sessions of the stack's database seen waiting for any lock,
  sampled every 20 ms from a connection to another database (their mean, and their sum
  over the burst divided by tasks, a rough count of waits).

    .venv/bin/python benchmarks/service_scaling.py [--burst 200] [--workers 1 2 4]

Writes ``service_scaling.json`` next to itself and prints the table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import yaml
from service import USER
from service.measure import backends_config, first_batch, load, trivial_job
from service.rawcelery import RawCelery

SETTLE_S = 11.0
"""PostgreSQL flushes an idle session's statistics within 10 s."""


def _engine(url: str, database: str | None = None) -> Any:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    parsed = make_url(url).set(drivername="postgresql+psycopg")
    if database is not None:
        parsed = parsed.set(database=database)
    return create_engine(parsed, isolation_level="AUTOCOMMIT")


def transactions(url: str) -> int:
    """Commits and rollbacks of the database of ``url`` so far (read from another one)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    engine = _engine(url, "postgres")
    with engine.connect() as conn:
        n = conn.execute(
            text("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = :d"),
            {"d": make_url(url).database},
        ).scalar_one()
    engine.dispose()
    return int(n)


class LockSampler(threading.Thread):
    """Sessions of one database waiting for a lock, every 20 ms, from another database."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.samples: list[int] = []
        self.stop = threading.Event()

    def run(self) -> None:
        """Sample until :attr:`stop` is set."""
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        query = text(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
            "WHERE NOT l.granted AND d.datname = :d"
        )
        engine = _engine(self.url, "postgres")
        with engine.connect() as conn:
            while not self.stop.wait(0.02):
                found = conn.execute(query, {"d": make_url(self.url).database}).scalar_one()
                self.samples.append(int(found))
        engine.dispose()


def burst(stack: Any, job: dict[str, Any], count: int, threads: int) -> dict[str, Any]:
    """``count`` jobs at once from ``threads`` clients: seconds until all are final, and
    how many polling transactions this took."""
    from sqlalchemy import func, select

    from backends.states import TaskState
    from broker.store.db import Database
    from broker.store.schema import jobs

    clients = [stack.client(USER) for _ in range(threads)]
    ids: list[list[str]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []

    def submit(c: int) -> None:
        try:
            for _ in range(c, count, threads):
                ids[c].append(clients[c].submit(job))
        except BaseException as exc:  # re-raised below
            errors.append(exc)

    db = Database(stack.database_url)
    polls = 0
    started = time.perf_counter()
    senders = [threading.Thread(target=submit, args=(c,)) for c in range(threads)]
    for t in senders:
        t.start()
    for t in senders:
        t.join()
    if errors:
        raise errors[0]
    every = [i for chunk in ids for i in chunk]
    finals = list(TaskState.finals())
    while True:
        polls += 1
        with db.read() as conn:
            left = conn.execute(
                select(func.count()).where(jobs.c.id.in_(every), jobs.c.state.not_in(finals))
            ).scalar_one()
        if left == 0:
            break
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    db.dispose()
    for client in clients:
        client.close()
    return {"tasks": count, "elapsed_s": elapsed, "polls": polls}


def one_count(workers: int, args: argparse.Namespace, root: Path) -> dict[str, Any]:
    """Broker and raw Celery with ``workers`` worker processes."""
    from tests.harness.stack import LocalStack

    workdir = root / f"workers-{workers}"
    workdir.mkdir(mode=0o711)
    job = trivial_job()
    batch = first_batch(job)
    (workdir / "backends.yaml").write_text(yaml.safe_dump(backends_config(workers)))
    env = {"QCB_BACKENDS_FILE": str(workdir / "backends.yaml")}
    with LocalStack(workdir, workers=workers, env=env) as stack:
        client = stack.client(USER)
        for _ in range(args.warmup):  # every worker process imports and loads aer
            client.wait(client.submit(job))
        time.sleep(SETTLE_S)
        idle_from, idle_t = transactions(stack.database_url), time.perf_counter()
        time.sleep(SETTLE_S)
        idle_rate = (transactions(stack.database_url) - idle_from) / (time.perf_counter() - idle_t)
        before = transactions(stack.database_url)
        sampler = LockSampler(stack.database_url)
        sampler.start()
        measured = burst(stack, job, args.burst, args.threads)
        sampler.stop.set()
        sampler.join()
        time.sleep(SETTLE_S)
        spent = transactions(stack.database_url) - before
        own = measured["polls"] + idle_rate * (measured["elapsed_s"] + SETTLE_S)
        raw = RawCelery(stack.redis.url, workdir / "logs", workers=workers)
        raw.start()
        try:
            raw.wait_ready(batch)
            raw_burst = raw.burst(batch, args.burst, args.threads)
        finally:
            raw.stop()
    tasks = measured["tasks"]
    waits = sampler.samples
    return {
        "workers": workers,
        "broker_tasks_per_s": tasks / measured["elapsed_s"],
        "raw_tasks_per_s": raw_burst["tasks"] / raw_burst["elapsed_s"],
        "transactions_per_task": (spent - own) / tasks,
        "idle_transactions_per_s": idle_rate,
        "lock_waiters_mean": statistics.mean(waits) if waits else 0.0,
        "lock_waits_per_task": sum(waits) / tasks,
        "load": load(),
    }


def main() -> None:
    """Measure each worker count, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--burst", type=int, default=200, help="jobs (and raw tasks) at once")
    parser.add_argument("--threads", type=int, default=8, help="client threads")
    parser.add_argument("--warmup", type=int, default=10, help="unmeasured jobs first")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_suffix(".json"))
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="qcb-scaling-"))
    root.chmod(0o711)  # classical tasks run as other accounts pass through it
    rows = []
    try:
        for n in args.workers:
            rows.append(one_count(n, args, root))
            print(json.dumps(rows[-1]), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        "| worker processes | broker tasks/s | raw Celery tasks/s | ratio | store "
        "transactions per task | lock waiters (mean) | lock waits per task |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['workers']} | {r['broker_tasks_per_s']:.1f} | {r['raw_tasks_per_s']:.1f} | "
            f"{r['broker_tasks_per_s'] / r['raw_tasks_per_s']:.3f} | "
            f"{r['transactions_per_task']:.1f} | {r['lock_waiters_mean']:.2f} | "
            f"{r['lock_waits_per_task']:.2f} |"
        )
    args.out.write_text(
        json.dumps({"args": vars(args) | {"out": str(args.out)}, "rows": rows}, indent=2)
    )


if __name__ == "__main__":
    main()

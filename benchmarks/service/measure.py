"""The broker's side: the stack, the jobs, the latency samples, the bursts and the store's rows.

:func:`measure` runs every measurement, the baseline's (:mod:`.rawcelery`) interleaved, on
one :class:`tests.harness.stack.LocalStack`; :mod:`.report` turns what it returns into figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from . import EXAMPLE, ROOT, USER
from .phases import ms, utc
from .rawcelery import RawCelery

STACK_WORKERS = 2
"""``qcb worker`` processes of the stack (each Celery ``--pool threads -c 2``)."""


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages (to spot a disturbed run)."""
    return [round(x, 2) for x in os.getloadavg()]


def trivial_job(seed: int = 42) -> dict[str, Any]:
    """``examples/vqe_h2.yaml`` cut to one Adam iteration and no reference: one quantum task."""
    job: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    job["name"] = "svc-bench"
    job["seed"] = seed
    job["algorithm"]["inputs"]["optimizer"] = {"name": "adam", "maxiter": 1}
    job["algorithm"]["inputs"]["reference"] = False
    return job


def long_job(maxiter: int | None) -> dict[str, Any]:
    """``examples/vqe_h2.yaml`` as it is (or with ``maxiter`` steps at most)."""
    job: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    job["name"] = "svc-bench-long"
    if maxiter is not None:
        job["algorithm"]["inputs"]["optimizer"]["maxiter"] = maxiter
    return job


def first_batch(job: dict[str, Any]) -> dict[str, Any]:
    """The payload of the job's first quantum task, as the broker builds it."""
    from broker.algorithms.vqe import VQE, VQEInputs
    from broker.core.models import JobSpec

    spec = JobSpec.model_validate(job)
    inputs = VQEInputs.model_validate(spec.algorithm.inputs)
    outcome = VQE().start(inputs, spec, int(job["seed"]))
    quantum = [t for t in outcome.tasks if t.kind == "quantum"]
    assert len(quantum) == 1 and quantum[0].quantum is not None
    batch: dict[str, Any] = quantum[0].quantum.model_dump(mode="json")
    return batch


def backends_config(capacity: int) -> dict[str, Any]:
    """The stack's backends file: ``aer`` at ``capacity`` tasks at once in the deployment
    (empty for 0: ``aer``'s own ``max_concurrency``, 1)."""
    return {"aer": {"capacity": capacity}} if capacity else {}


def broker_sample(client: Any, job: dict[str, Any]) -> dict[str, Any]:
    """Submit one job, wait for it, fetch its result: times (seconds) and its task times."""
    t0 = time.time()
    started = time.perf_counter()
    job_id = client.submit(job)
    submitted = time.perf_counter()
    status = client.wait(job_id)
    waited = time.perf_counter()
    result = client.result(job_id)
    done = time.perf_counter()
    assert status.state == "COMPLETED", status.message
    quantum = [t for t in result.lineage.tasks if t.kind == "quantum"]
    return {
        "job_id": job_id,
        "t0": t0,
        "wall": done - started,
        "submit": submitted - started,
        "wait": waited - submitted,
        "result": done - waited,
        "quantum_tasks": len(quantum),
        "run": sum(t.run_seconds or 0.0 for t in quantum),
        "other_run": sum(t.run_seconds or 0.0 for t in result.lineage.tasks if t.kind != "quantum"),
        "iterations": (result.result or {}).get("iterations"),
    }


def store_rows(database_url: str, job_ids: list[str]) -> tuple[dict[str, Any], list[Any]]:
    """The jobs (by id) and their tasks (by job and step) as the store has them."""
    from sqlalchemy import select

    from broker.store.db import Database
    from broker.store.schema import jobs, tasks

    db = Database(database_url)
    with db.read() as conn:
        job_rows = conn.execute(select(jobs).where(jobs.c.id.in_(job_ids))).all()
        task_rows = conn.execute(
            select(tasks).where(tasks.c.job_id.in_(job_ids)).order_by(tasks.c.job_id, tasks.c.step)
        ).all()
    db.dispose()
    return {r.id: r for r in job_rows}, list(task_rows)


class LockWaiters(threading.Thread):
    """Samples, every 20 ms, how many transactions of the stack's database wait for an
    advisory lock (the store's write lock and the per-proposal admission lock)."""

    QUERY = (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )

    def __init__(self, database_url: str) -> None:
        super().__init__(daemon=True)
        self.database_url = database_url
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        """Sample until :attr:`stop` is set."""
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        url = make_url(self.database_url).set(drivername="postgresql+psycopg")
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            while not self.stop.wait(0.02):
                n = conn.execute(text(self.QUERY)).scalar_one()
                self.samples.append((time.perf_counter(), int(n)))
        engine.dispose()

    def mean(self, start: float, end: float) -> float:
        """The mean number of waiters sampled between ``start`` and ``end`` (perf_counter)."""
        found = [n for t, n in self.samples if start <= t <= end]
        return round(statistics.mean(found), 2) if found else 0.0


def broker_burst(
    stack: Any, job: dict[str, Any], count: int, threads: int
) -> tuple[dict[str, Any], list[str]]:
    """``count`` jobs submitted at once from ``threads`` client threads; seconds until the
    store has every one final (polled every 20 ms), and the rate once submission ended."""
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
        except BaseException as exc:  # reported below
            errors.append(exc)

    db = Database(stack.database_url)
    waiters = LockWaiters(stack.database_url)
    waiters.start()
    t0 = time.time()
    started = time.perf_counter()
    senders = [threading.Thread(target=submit, args=(c,)) for c in range(threads)]
    for t in senders:
        t.start()
    for t in senders:
        t.join()
    submitted = time.perf_counter() - started
    submitted_at = utc(time.time())
    submitted_perf = time.perf_counter()
    if errors:
        raise errors[0]
    every = [i for chunk in ids for i in chunk]
    finals = list(TaskState.finals())
    while True:
        with db.read() as conn:
            left = conn.execute(
                select(func.count()).where(jobs.c.id.in_(every), jobs.c.state.not_in(finals))
            ).scalar_one()
        if left == 0:
            break
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    waiters.stop.set()
    waiters.join()
    with db.read() as conn:
        states: dict[str, int] = dict(
            conn.execute(
                select(jobs.c.state, func.count())
                .where(jobs.c.id.in_(every))
                .group_by(jobs.c.state)
            ).all()
        )
        last = conn.execute(select(func.max(jobs.c.finished_at)).where(jobs.c.id.in_(every)))
        last_finished = last.scalar_one()
        after = conn.execute(
            select(func.count()).where(jobs.c.id.in_(every), jobs.c.finished_at > submitted_at)
        ).scalar_one()
    db.dispose()
    for client in clients:
        client.close()
    assert states == {"COMPLETED": count}, states
    return {
        "tasks": count,
        "submit_s": submitted,
        "elapsed_s": elapsed,
        "store_elapsed_s": ms(last_finished, utc(t0)) / 1000,
        "submitted_at": submitted_at,
        "done_during_submission": count - after,
        "lock_waiters_during_submission": waiters.mean(started, submitted_perf),
        "lock_waiters_after_submission": waiters.mean(submitted_perf, started + elapsed),
        "tasks_per_s_after_submission": after / max(ms(last_finished, submitted_at) / 1000, 1e-9),
    }, every


def admission_read(database_url: str, proposal: str = "local") -> dict[str, float]:
    """How long admission's read of a proposal's standing (``ledger.standing_inputs`` and the
    budgets it answers, done in every submission's write transaction) takes now: median of
    20 calls (ms), and the proposal's ledger lines and jobs."""
    from sqlalchemy import func, select

    from broker.store import ledger
    from broker.store.db import Database
    from broker.store.schema import jobs
    from broker.store.schema import ledger as lines
    from policies.budgets import budget_states
    from policies.loader import load_policy

    policy = load_policy(ROOT / "policies" / "examples" / "default.yaml").policy
    chosen = policy.proposal(proposal)
    assert chosen is not None
    db = Database(database_url)
    times = []
    with db.read() as conn:
        for _ in range(20):
            started = time.perf_counter()
            book, held = ledger.standing_inputs(conn, proposal)
            budget_states(policy, chosen, book, held, time.time())
            times.append((time.perf_counter() - started) * 1000)
        count = conn.execute(select(func.count()).where(lines.c.proposal == proposal))
        n_lines = count.scalar_one()
        n_jobs = conn.execute(select(func.count()).where(jobs.c.proposal == proposal)).scalar_one()
    db.dispose()
    return {"ms": round(statistics.median(times), 2), "ledger_lines": n_lines, "jobs": n_jobs}


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Run every measurement on one stack and one set of raw Celery workers; the samples,
    the bursts and the store's rows of the measured jobs. ``args`` are the command's
    (``warmup``, ``samples``, ``long_maxiter``, ``burst``, ``threads``, ``repeats``,
    ``capacity``)."""
    from tests.harness.stack import LocalStack

    job = trivial_job()
    batch = first_batch(job)
    backends = workdir / "backends.yaml"
    backends.write_text(yaml.safe_dump(backends_config(args.capacity)))
    env = {"QCB_BACKENDS_FILE": str(backends)}
    with LocalStack(workdir, workers=STACK_WORKERS, env=env) as stack:
        raw = RawCelery(stack.redis.url, workdir / "logs")
        raw.start()
        try:
            client = stack.client(USER)
            pids = raw.wait_ready(batch)
            # Warm-up: both paths, every worker process (import, backend, transpile).
            for _ in range(args.warmup):
                broker_sample(client, job)
                raw.sample(batch)
            print(f"warm; raw workers {sorted(pids)}; load {load()}", flush=True)
            admission = [admission_read(stack.database_url)]

            # 1 and 3a: latency, one job then one raw task, and so on.
            latency_load = load()
            b_samples: list[dict[str, Any]] = []
            r_samples: list[dict[str, float]] = []
            for _ in range(args.samples):
                b_samples.append(broker_sample(client, job))
                r_samples.append(raw.sample(batch))
            assert all(s["quantum_tasks"] == 1 for s in b_samples)
            print(f"latency done; load {load()}", flush=True)

            # 1: the long job.
            long_load = load()
            long = broker_sample(client, long_job(args.long_maxiter))
            print(f"long job done ({long['quantum_tasks']} steps); load {load()}", flush=True)

            # 2 and 3b: bursts, broker then raw, repeated.
            bursts: dict[str, list[dict[str, Any]]] = {"broker": [], "raw": []}
            burst_ids: list[list[str]] = []
            for _ in range(args.repeats):
                b, ids = broker_burst(stack, job, args.burst, args.threads)
                b["load"] = load()
                bursts["broker"].append(b)
                burst_ids.append(ids)
                r = raw.burst(batch, args.burst, args.threads)
                r["load"] = load()
                bursts["raw"].append(r)
                print(f"bursts: broker {b}, raw {r}", flush=True)

            job_rows, task_rows = store_rows(
                stack.database_url, [s["job_id"] for s in b_samples] + [long["job_id"]]
            )
            admission.append(admission_read(stack.database_url))
            _, burst_tasks = store_rows(stack.database_url, [i for ids in burst_ids for i in ids])
        finally:
            raw.stop()
    return {
        "b_samples": b_samples,
        "r_samples": r_samples,
        "long": long,
        "bursts": bursts,
        "job_rows": job_rows,
        "task_rows": task_rows,
        "burst_tasks": burst_tasks,
        "burst_ids": burst_ids,
        "admission": admission,
        "latency_load": latency_load,
        "long_load": long_load,
        "backends_file": backends_config(args.capacity),
    }

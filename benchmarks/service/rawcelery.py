"""The baseline: a minimal Celery app on the stack's Redis, its one task and its workers.

The worker processes import this module as ``service.rawcelery`` (``celery -A
service.rawcelery worker``, with ``benchmarks/`` and the repository root on ``PYTHONPATH``)
and find :data:`app`, made from ``QCB_BENCH_REDIS_URL``. In the benchmark's own process
:data:`app` is None and :class:`RawCelery` makes the client's app.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from celery import Celery

from . import ROOT

URL_VARIABLE = "QCB_BENCH_REDIS_URL"
"""Where the worker processes find Redis."""
APP_MODULE = f"{Path(__file__).resolve().parent.name}.{Path(__file__).stem}"
"""This module as the workers import it (``service.rawcelery``)."""
APP_PATH = Path(__file__).resolve().parent.parent
"""The folder that holds this package (``benchmarks/``): on the workers' ``PYTHONPATH``."""
RAW_QUEUE = "bench.raw"
RAW_TASK = "bench.evaluate"
RAW_WORKERS = 2
RAW_THREADS = 2


def _db(url: str, number: int) -> str:
    """``url`` (``redis://host:port/N``) with database ``number``."""
    return f"{url.rsplit('/', 1)[0]}/{number}"


def make_raw_app(redis_url: str) -> Celery:
    """The baseline's Celery app: messages on ``redis_url``'s server (database 1), results
    in database 2 (the stack's own Celery uses database 0)."""
    raw = Celery("bench", broker=_db(redis_url, 1), backend=_db(redis_url, 2))
    raw.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        worker_enable_remote_control=False,  # as the broker's app
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        task_default_queue=RAW_QUEUE,
        result_expires=3600,
    )
    raw.task(name=RAW_TASK)(evaluate)
    return raw


_aer: Any = None
_aer_lock = threading.Lock()


def evaluate(batch: dict[str, Any], hold_s: float = 0.0) -> dict[str, Any]:
    """Run one quantum batch on this process's ``aer`` backend, as a broker worker does
    (validate the payload, ``submit``, ``result``); return the expectation values, the
    backend's ``run_seconds``, the task body's own seconds and this process's id.
    ``hold_s`` keeps the thread busy afterwards (to see every worker thread at start-up)."""
    global _aer
    started = time.perf_counter()
    from backends.aer import AerBackend
    from backends.base import QuantumBatch

    with _aer_lock:
        if _aer is None:
            _aer = AerBackend()
    spec = QuantumBatch.model_validate(batch)
    native_id = _aer.submit(spec, task_id="raw")
    result = _aer.result(native_id)
    body = time.perf_counter() - started
    if hold_s:
        time.sleep(hold_s)
    return {
        "values": result.items[0].expectation_values,
        "run_seconds": result.run_seconds,
        "task_seconds": body,
        "pid": os.getpid(),
    }


app: Celery | None = make_raw_app(os.environ[URL_VARIABLE]) if URL_VARIABLE in os.environ else None
"""The app ``celery -A service.rawcelery worker`` finds (None in the benchmark's process)."""


class RawCelery:
    """The baseline's worker processes (subprocesses of this one) and its client app."""

    def __init__(self, redis_url: str, logs: Path, workers: int = RAW_WORKERS) -> None:
        self.redis_url = redis_url
        self.logs = logs
        self.workers = workers
        self.app = make_raw_app(redis_url)
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        """Start the worker processes (:meth:`wait_ready` waits for them)."""
        env = {
            **os.environ,
            URL_VARIABLE: self.redis_url,
            "PYTHONPATH": os.pathsep.join([str(APP_PATH), str(ROOT)]),
        }
        self.logs.mkdir(parents=True, exist_ok=True)
        for n in range(self.workers):
            argv = [
                sys.executable, "-m", "celery", "-A", APP_MODULE, "worker",
                "--pool", "threads", "--concurrency", str(RAW_THREADS), "--queues", RAW_QUEUE,
                "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
                "--hostname", f"raw{n + 1}@%h",
            ]  # fmt: skip
            log = open(self.logs / f"raw{n + 1}.log", "ab")  # noqa: SIM115 - the child keeps it
            self.processes.append(
                subprocess.Popen(argv, env=env, stdout=log, stderr=log, start_new_session=True)
            )

    def wait_ready(self, batch: dict[str, Any], timeout: float = 120.0) -> set[int]:
        """Send rounds of slow tasks (one per worker thread) until every worker process has
        run one: every process then has its backend and the transpiled circuit."""
        pids: set[int] = set()
        deadline = time.monotonic() + timeout
        while len(pids) < self.workers:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {len(pids)} raw Celery worker(s) answered")
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"a raw Celery worker exited: see {self.logs}")
            sent = [
                self.app.send_task(RAW_TASK, args=[batch, 0.3])
                for _ in range(self.workers * RAW_THREADS)
            ]
            pids |= {r.get(timeout=timeout)["pid"] for r in sent}
        return pids

    def sample(self, batch: dict[str, Any]) -> dict[str, float]:
        """One task, sent and waited on: wall time and the task's own times (seconds)."""
        started = time.perf_counter()
        out = self.app.send_task(RAW_TASK, args=[batch]).get(timeout=60)
        wall = time.perf_counter() - started
        return {"wall": wall, "run": out["run_seconds"], "task": out["task_seconds"]}

    def burst(self, batch: dict[str, Any], count: int, threads: int) -> dict[str, Any]:
        """``count`` tasks sent at once from ``threads`` threads; seconds until every result
        is in (collected by this thread)."""
        ids: list[list[str]] = [[] for _ in range(threads)]

        def send(c: int) -> None:
            for _ in range(c, count, threads):
                ids[c].append(self.app.send_task(RAW_TASK, args=[batch]).id)

        started = time.perf_counter()
        senders = [threading.Thread(target=send, args=(c,)) for c in range(threads)]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        submitted = time.perf_counter() - started
        pids = {
            self.app.AsyncResult(task_id).get(timeout=600)["pid"]
            for task_id in (i for chunk in ids for i in chunk)
        }
        elapsed = time.perf_counter() - started
        return {
            "tasks": count,
            "submit_s": submitted,
            "elapsed_s": elapsed,
            "worker_processes": len(pids),
        }

    def stop(self) -> None:
        """SIGTERM the workers (SIGKILL after 30 s)."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes = []

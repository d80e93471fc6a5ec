"""The program inside a pilot job: a broker worker on the cluster, for its wall time.

:func:`run` is the entry point that the pilot manager submits to Slurm. It starts a Celery
worker consuming the hosted backend's queue (``classical.slurm-pilot``) with the broker's
settings from the environment, and stops it warmly (running tasks finish, nothing new is
taken) ``drain_s`` before the wall time ends, or after ``idle_s`` without work when it is a
burst pilot. The tasks it runs are started by :class:`backends.slurm.pilot.SlurmPilotBackend`
inside this job's allocation.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from backends.states import TaskState
from broker.config import Settings, private_files
from broker.store.db import Database
from broker.store.schema import tasks


class PilotPayload(BaseModel):
    """What the manager tells a pilot."""

    model_config = ConfigDict(extra="forbid")

    backend: str = "slurm-pilot"
    queue: str = "classical.slurm-pilot"
    slots: int = Field(default=2, ge=1)
    walltime_s: float = Field(gt=0)
    drain_s: float = Field(default=120, ge=0)
    idle_s: float | None = Field(default=None, description="None: stay for the wall time.")


def worker_command(payload: PilotPayload) -> list[str]:
    """The Celery worker this pilot hosts."""
    job = os.environ.get("SLURM_JOB_ID", str(os.getpid()))
    return [
        sys.executable, "-m", "celery", "-A", "broker.processes.celery_app", "worker",
        "--pool", "threads", "--concurrency", str(payload.slots),
        "--queues", payload.queue, "--loglevel", "WARNING",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
        "--hostname", f"qcb-pilot-{job}@{socket.gethostname()}",
    ]  # fmt: skip


def open_work(db: Database, backend: str) -> dict[str, int]:
    """Tasks of ``backend`` not yet final, by queue (a hosted backend has one queue for open
    work and one per controlled security domain)."""
    with db.read() as conn:
        rows = conn.execute(
            select(tasks.c.queue, func.count())
            .where(
                tasks.c.backend == backend,
                tasks.c.state.in_([TaskState.PENDING, TaskState.QUEUED, TaskState.RUNNING]),
            )
            .group_by(tasks.c.queue)
        ).all()
    return {str(queue): int(count) for queue, count in rows}


def run(raw: dict[str, Any]) -> dict[str, Any]:
    """Host a worker until the drain point, idleness, or a stop signal; say why it ended."""
    private_files()
    payload = PilotPayload.model_validate(raw)
    started = time.monotonic()
    db = Database(Settings().store_url)
    worker = subprocess.Popen(worker_command(payload), stdin=subprocess.DEVNULL)
    stop = {"signal": False}

    def _stop(*_: Any) -> None:
        stop["signal"] = True

    signal.signal(signal.SIGTERM, _stop)
    idle_since: float | None = None
    reason = "stopped by signal"
    while not stop["signal"]:
        now = time.monotonic()
        if worker.poll() is not None:
            reason = f"worker exited with {worker.returncode}"
            break
        if now - started >= payload.walltime_s - payload.drain_s:
            reason = "drained before the wall time"
            break
        if payload.idle_s is not None:
            busy = open_work(db, payload.backend).get(payload.queue, 0) > 0
            idle_since = None if busy else (idle_since or now)
            if idle_since is not None and now - idle_since >= payload.idle_s:
                reason = f"idle for {payload.idle_s:.0f} s"
                break
        time.sleep(0.5)
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)  # warm shutdown: running tasks finish
        try:
            worker.wait(timeout=max(payload.drain_s, 5))
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    print(f"pilot ends: {reason}", flush=True)
    return {"reason": reason, "seconds": round(time.monotonic() - started, 3)}

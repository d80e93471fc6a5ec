"""The embedded runtime for real: a scheduler process and a Celery worker process over the
filesystem transport, driven through the SDK."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from broker import Client
from broker.config import Settings
from broker.processes import runtime
from broker.store.db import Database
from broker.store.schema import ledger, tasks
from circuits.observables import PauliSum
from tests.conftest import EXAMPLES, H2_TERMS

pytestmark = pytest.mark.integration

EXACT = PauliSum.from_list(H2_TERMS).ground_energy() + 0.7199689944489797


def test_sdk_runs_the_h2_example_to_chemical_accuracy(qcb_home: Path) -> None:
    client = Client()
    job_id = client.submit(EXAMPLES / "vqe_h2.yaml")
    assert runtime.is_running(client.settings)
    seen_steps: list[int] = []
    status = client.wait(job_id, timeout=240, on_progress=lambda s: seen_steps.append(s.step))
    assert status.state == "COMPLETED", status.message
    assert seen_steps == sorted(seen_steps) and seen_steps[-1] > 10
    result = client.result(job_id)
    assert result.result is not None
    assert abs(result.result["energy"] - EXACT) < 1.6e-3
    assert [j.id for j in client.jobs()] == [job_id]
    assert client.shutdown()
    assert not runtime.is_running(client.settings)


def _worker_pid(settings: Settings) -> int:
    return int((settings.run_dir / "worker.pid").read_text())


def test_sigkill_of_the_worker_loses_nothing_and_charges_once(qcb_home: Path) -> None:
    client = Client()
    job_id = client.submit(EXAMPLES / "vqe_h2.yaml")
    deadline = time.monotonic() + 120
    while client.status(job_id).step < 30:
        assert time.monotonic() < deadline, "the job made no progress"
        time.sleep(0.05)
    killed = _worker_pid(client.settings)
    os.kill(killed, signal.SIGKILL)
    step_at_kill = client.status(job_id).step
    status = client.wait(job_id, timeout=240)
    assert status.state == "COMPLETED", status.message
    assert _worker_pid(client.settings) != killed  # the supervisor started a new worker
    result = client.result(job_id)
    assert result.result is not None
    assert abs(result.result["energy"] - EXACT) < 1.6e-3
    assert result.result["iterations"] > step_at_kill  # it continued, not restarted
    db = Database(client.settings.store_url)
    with db.read() as conn:
        charges = conn.execute(
            select(ledger.c.task_id, ledger.c.unit, func.count())
            .where(ledger.c.job_id == job_id, ledger.c.kind == "charge")
            .group_by(ledger.c.task_id, ledger.c.unit)
        ).all()
        n_tasks = conn.execute(
            select(func.count()).where(tasks.c.job_id == job_id, tasks.c.state == "COMPLETED")
        ).scalar_one()
    assert all(count == 1 for _, _, count in charges)
    assert len({task_id for task_id, _, _ in charges}) == n_tasks
    assert result.result["iterations"] + 1 == n_tasks  # one quantum task per step + reference

"""Restarts in the middle of a job: Redis, then the scheduler, then a worker killed with
SIGKILL while it follows a provider job, then the API under a client that follows the job's
events. The job finishes with the result of an undisturbed run of the same job, each task is
charged once, no provider job is submitted twice, and the follower sees the end."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from backends.states import TaskState
from tests.harness.stack import LocalStack
from tests.integration.providers.ionq_standin import IonQStandIn
from tests.integration.service.conftest import charge_lines, h2, logs, task_rows

pytestmark = pytest.mark.integration

STEPS = 24


def _job() -> dict[str, Any]:
    optimizer = {"name": "adam", "learning_rate": 0.1, "maxiter": STEPS, "gtol": 1e-12}
    return h2(backend="ionq", seed=11, inputs={"shots": 100, "optimizer": optimizer})


def _at_step(stack: LocalStack, client: Any, job_id: str, step: int) -> None:
    deadline = time.monotonic() + 120
    while client.status(job_id).step < step:
        assert time.monotonic() < deadline, f"job stuck before step {step}\n{logs(stack)}"
        time.sleep(0.05)


def _worker_running(stack: LocalStack, job_id: str, ionq: IonQStandIn) -> str:
    """The stack's name of the worker that follows a provider job of the job now, one
    with at least 0.2 s left to run (so that the task cannot finish before the kill)."""

    def busy(native_id: str) -> bool:
        left = ionq.queue_s + ionq.run_s - 0.2
        return all(time.time() - ionq.jobs[i].created < left for i in native_id.split(","))

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for row in task_rows(stack, job_id):
            if (
                row.state == TaskState.RUNNING
                and row.worker_id
                and row.native_id
                and busy(row.native_id)
            ):
                pid = int(row.worker_id.rsplit(":", 1)[1])
                for name in stack.workers:
                    process = stack.processes.get(name)
                    if process is not None and process.pid == pid:
                        return name
        time.sleep(0.02)
    raise AssertionError("no task of the job is running\n" + logs(stack))


def test_a_job_survives_restarts_of_redis_scheduler_and_worker(
    stack: LocalStack, ionq: IonQStandIn
) -> None:
    client = stack.client("dave")
    queue_s, run_s = ionq.queue_s, ionq.run_s
    try:
        # The baseline: the same job undisturbed (the stand-in's timing does not change
        # its results, only how long it takes).
        ionq.queue_s, ionq.run_s = 0.0, 0.01
        baseline = client.wait(client.submit(_job()), timeout=300)
        assert baseline.state == TaskState.COMPLETED, baseline.message + logs(stack)
        expected = client.result(baseline.id).result
        posted = len(ionq.posted)
        ionq.queue_s, ionq.run_s = 0.1, 0.4  # each step takes half a second at the "provider"

        job_id = client.submit(_job())
        followed: list[Any] = []
        follower = threading.Thread(
            target=lambda: followed.append(stack.client("dave").wait(job_id, timeout=300))
        )
        follower.start()
        _at_step(stack, client, job_id, 3)
        stack.restart("redis")
        _at_step(stack, client, job_id, 8)
        stack.restart("scheduler")
        _at_step(stack, client, job_id, 13)
        victim = _worker_running(stack, job_id, ionq)
        stack.restart(victim, kill=True)
        _at_step(stack, client, job_id, 18)
        stack.restart("api")
        status = client.wait(job_id, timeout=300)
        follower.join(timeout=60)
    finally:
        ionq.queue_s, ionq.run_s = queue_s, run_s

    assert status.state == TaskState.COMPLETED, status.message + logs(stack)
    assert [s.state for s in followed] == [TaskState.COMPLETED]  # through the API's restart
    result = client.result(job_id).result
    assert expected is not None and result is not None
    assert result["history"] == expected["history"], logs(stack)
    assert result["energy"] == expected["energy"]
    rows = task_rows(stack, job_id)
    quantum = [r for r in rows if r.kind == "quantum"]
    assert len(quantum) == STEPS
    provider_jobs = sum(len(r.native_id.split(",")) for r in quantum)
    assert len(ionq.posted) - posted == provider_jobs, "a provider job was submitted twice"
    assert max(r.attempts for r in quantum) >= 2, "no task was taken over\n" + logs(stack)
    lines = charge_lines(stack, job_id)
    keys = [(c.task_id, c.unit) for c in lines]
    assert len(keys) == len(set(keys))
    assert {c.task_id for c in lines} == {r.id for r in rows}

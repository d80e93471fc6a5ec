"""Cancellation end to end: a job with a Slurm job and a provider job under way is
cancelled through the API; afterwards Slurm, the provider and the ledger are asked
directly, and none has anything of the job left."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from backends.states import TaskState
from tests.conftest import SlurmCluster
from tests.harness.stack import LocalStack
from tests.integration.providers.ionq_standin import IonQStandIn
from tests.integration.service.conftest import h2, logs, task_rows

pytestmark = pytest.mark.integration


def _until(check: Callable[[], bool], timeout: float, what: str, stack: LocalStack) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} within {timeout} s\n{logs(stack)}"
        time.sleep(0.2)


def test_cancel_reaches_slurm_the_provider_and_the_ledger(
    stack: LocalStack, slurm_cluster: SlurmCluster, ionq: IonQStandIn
) -> None:
    # Every node busy, so the job's classical task waits in Slurm's queue as a real Slurm
    # job; the provider runs each job for ten minutes.
    blocker = slurm_cluster.tool(
        "sbatch",
        "--parsable",
        "-N",
        "3",
        "--exclusive",
        "-J",
        "blocker",
        "-o",
        "/dev/null",
        "--wrap",
        "sleep 600",
    ).strip()
    run_s, ionq.run_s = ionq.run_s, 600.0
    try:
        client = stack.client("carol")
        job = h2(backend="ionq", classical_backend="slurm", inputs={"shots": 100})
        job_id = client.submit(job)

        def both_submitted() -> bool:
            rows = {r.key: r for r in task_rows(stack, job_id)}
            return all(k in rows and rows[k].native_id for k in ("energy", "reference"))

        _until(both_submitted, 60, "the Slurm and the provider job are submitted", stack)
        rows = {r.key: r for r in task_rows(stack, job_id)}
        slurm_ids = [rows["reference"].native_id.split("@")[0]]  # "JOBID@TASK_DIR"
        ionq_ids = rows["energy"].native_id.split(",")
        assert rows["reference"].backend == "slurm"
        assert all(i in slurm_cluster.active_jobs() for i in slurm_ids), slurm_cluster.jobs()
        assert all(ionq.status_of(ionq.jobs[i]) in ("submitted", "ready", "started")
                   for i in ionq_ids)  # fmt: skip
        assert any(u.held > 0 for p in client.usage("local") for u in p.budgets)

        status = client.cancel(job_id)
        assert status.state == TaskState.CANCELLED

        def nothing_left() -> bool:
            return all(TaskState(r.state).final for r in task_rows(stack, job_id)) and not (
                set(slurm_ids) & set(slurm_cluster.active_jobs())
            )

        _until(nothing_left, 60, "every task is final and Slurm has no job of it", stack)
        assert all(ionq.status_of(ionq.jobs[i]) == "canceled" for i in ionq_ids)
        assert {r.state for r in task_rows(stack, job_id)} == {TaskState.CANCELLED}
        assert all(u.held == 0 for p in client.usage("local") for u in p.budgets)
    finally:
        ionq.run_s = run_s
        slurm_cluster.tool("scancel", blocker)

"""Hybrid jobs whose classical steps run on the real Slurm: the example, refusals,
cancellation, and a broker killed while a Slurm task runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from broker import Client
from broker.errors import JobRefused
from broker.processes import runtime
from broker.store.db import Database
from broker.store.schema import jobs, ledger, tasks
from tests.conftest import EXAMPLES, SlurmCluster
from tests.integration.slurm.conftest import h2_job

pytestmark = pytest.mark.integration

SLOW_PROBLEM = {"builder": "tests.integration.slurm.helpers:slow_h2"}


def _tasks(client: Client, job_id: str) -> list[Any]:
    with Database(client.settings.store_url).read() as conn:
        return list(conn.execute(select(tasks).where(tasks.c.job_id == job_id)).all())


def _ledger(client: Client, job_id: str) -> list[Any]:
    with Database(client.settings.store_url).read() as conn:
        return list(conn.execute(select(ledger).where(ledger.c.job_id == job_id)).all())


def _wait_running_on_slurm(
    client: Client, cluster: SlurmCluster, job_id: str, key: str, timeout: float = 60
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = next((t for t in _tasks(client, job_id) if t.key == key), None)
        if task is not None and task.native_id:
            slurm_id = task.native_id.partition("@")[0]
            if (
                slurm_id in cluster.active_jobs()
                and cluster.tool("squeue", "-h", "-j", slurm_id, "-o", "%T").strip() == "RUNNING"
            ):
                return task
        time.sleep(0.1)
    raise AssertionError(f"task {key!r} of {job_id} never ran on Slurm")


def _wait_used(cluster: SlurmCluster, slurm_id: str, seconds: int) -> None:
    """Until Slurm counts ``seconds`` of run time for the job (``squeue %M``: [H:]M:SS)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        used = cluster.tool("squeue", "-h", "-j", slurm_id, "-o", "%M").strip()
        parts = [int(p) for p in used.replace("-", ":").split(":") if p.isdigit()]
        if parts and sum(p * 60**i for i, p in enumerate(reversed(parts))) >= seconds:
            return
        time.sleep(0.2)
    raise AssertionError(f"Slurm job {slurm_id} did not run {seconds} s")


@pytest.mark.parametrize("backend", ["slurm", "slurmrest", "slurm-pilot"])
def test_the_slurm_example_runs_its_classical_steps_on_slurm(
    slurm_client: Client, slurm_cluster: SlurmCluster, backend: str
) -> None:
    """``examples/vqe_h2_slurm.yaml`` as written (``slurm``), and on the other two."""
    job = yaml.safe_load((EXAMPLES / "vqe_h2_slurm.yaml").read_text())
    assert job["classical_backend"] == "slurm"
    job_id = slurm_client.submit(
        EXAMPLES / "vqe_h2_slurm.yaml" if backend == "slurm" else h2_job(backend)
    )
    status = slurm_client.wait(job_id, timeout=300)
    assert status.state == "COMPLETED", status.message
    result = slurm_client.result(job_id).result
    assert result is not None
    analysis = result["analysis"]
    assert abs(result["energy"] - analysis["exact_energy"]) < 1.6e-3  # chemical accuracy
    assert analysis["ground_state_fidelity"] > 0.99
    assert result["problem"]["hf_energy"] > result["energy"]  # correlation energy recovered
    classical = {t.key: t for t in _tasks(slurm_client, job_id) if t.kind == "classical"}
    assert set(classical) == {"problem", "reference", "analysis"}
    for task in classical.values():
        assert task.backend == backend and task.state == "COMPLETED"
        if backend != "slurm-pilot":  # a pilot's task is no Slurm job of its own
            slurm_id = task.native_id.partition("@")[0]
            assert slurm_cluster.job_state(slurm_id) == "COMPLETED"
    charges = [e for e in _ledger(slurm_client, job_id) if e.kind == "charge"]
    slurm_charges = [e for e in charges if e.backend == backend]
    assert sorted(e.task_id for e in slurm_charges) == sorted(t.id for t in classical.values())
    assert all(e.unit == "node_hours" for e in slurm_charges)


@pytest.mark.parametrize(
    ("resources", "words"),
    [
        ({"nodes": 4}, ["4 nodes", "at most 3", "MaxNodes"]),
        ({"time_limit_s": 7200}, ["7200 s", "1800 s", "MaxTime"]),
        ({"mem_mb": 4096}, ["4096 MB", "2048 MB", "MaxMemPerNode"]),
        ({"partition": "nope"}, ["'nope' does not exist", "debug"]),
    ],
)
def test_a_task_larger_than_the_partition_is_refused_at_submission(
    slurm_client: Client,
    slurm_cluster: SlurmCluster,
    resources: dict[str, Any],
    words: list[str],
) -> None:
    before = set(slurm_cluster.active_jobs())
    with pytest.raises(JobRefused) as refused:
        slurm_client.submit(h2_job(classical_resources=resources))
    for word in words:
        assert word in str(refused.value)
    assert slurm_client.jobs() == []
    assert set(slurm_cluster.active_jobs()) <= before


@pytest.mark.parametrize("backend", ["slurm", "slurmrest"])
def test_the_backend_reports_its_partitions_nodes_for_the_size_factor(
    slurm_client: Client, backend: str
) -> None:
    # the test cluster's default partition (debug) has three nodes: a lone one-node task
    # gets Slurm's job size factor (3 - 1) / 3 favouring small tasks, not 0
    broker = slurm_client._broker
    assert broker.backend(backend).capabilities().size == 3.0
    assert broker.dispatch.backend_size(backend) == 3.0


def test_qcb_cancel_leaves_no_slurm_job_and_no_hold(
    slurm_client: Client, slurm_cluster: SlurmCluster
) -> None:
    job_id = slurm_client.submit(
        h2_job(inputs={"problem": {**SLOW_PROBLEM, "args": {"seconds": 120}}})
    )
    task = _wait_running_on_slurm(slurm_client, slurm_cluster, job_id, "problem")
    slurm_id = task.native_id.partition("@")[0]
    cli = subprocess.run(
        [str(Path(sys.executable).parent / "qcb"), "cancel", job_id],
        capture_output=True,
        text=True,
        env=os.environ,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr
    deadline = time.monotonic() + 30
    while slurm_id in slurm_cluster.active_jobs() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert slurm_id not in slurm_cluster.active_jobs()
    assert slurm_client.status(job_id).state == "CANCELLED"
    while time.monotonic() < deadline:
        states = {t.key: t.state for t in _tasks(slurm_client, job_id)}
        if states["problem"] == "CANCELLED":
            break
        time.sleep(0.1)
    assert states["problem"] == "CANCELLED"
    held: dict[tuple[str, str], float] = {}
    for entry in _ledger(slurm_client, job_id):
        if entry.kind in ("hold", "release"):
            sign = 1 if entry.kind == "hold" else -1
            held[(entry.backend, entry.unit)] = held.get((entry.backend, entry.unit), 0) + (
                sign * entry.amount
            )
    assert all(abs(v) < 1e-9 for v in held.values()), held


def test_a_killed_broker_re_attaches_to_its_slurm_task_and_charges_once(
    slurm_client: Client, slurm_cluster: SlurmCluster
) -> None:
    job_id = slurm_client.submit(
        h2_job(inputs={"problem": {**SLOW_PROBLEM, "args": {"seconds": 6}}})
    )
    task = _wait_running_on_slurm(slurm_client, slurm_cluster, job_id, "problem")
    settings = slurm_client.settings
    for pid_file in ("worker.pid", "scheduler.pid"):  # the whole broker, without warning
        os.kill(int((settings.run_dir / pid_file).read_text()), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while runtime.is_running(settings):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    _wait_used(slurm_cluster, task.native_id.partition("@")[0], seconds=3)  # broker down
    status = slurm_client.wait(job_id, timeout=300)  # restarts the broker
    assert status.state == "COMPLETED", status.message
    after = next(t for t in _tasks(slurm_client, job_id) if t.key == "problem")
    assert after.native_id == task.native_id, "re-attached, not submitted again"
    assert after.attempts == 2
    charges = [
        e for e in _ledger(slurm_client, job_id) if e.kind == "charge" and e.task_id == task.id
    ]
    assert len(charges) == 1
    slurm_id = task.native_id.partition("@")[0]
    assert slurm_cluster.job_state(slurm_id) == "COMPLETED"
    with Database(settings.store_url).read() as conn:
        assert conn.execute(select(jobs.c.state).where(jobs.c.id == job_id)).scalar_one() == (
            "COMPLETED"
        )


def test_a_job_cancelled_in_slurm_by_someone_else_ends_cancelled_charged_once(
    slurm_client: Client, slurm_cluster: SlurmCluster
) -> None:
    """An administrator's ``scancel``: the task ends CANCELLED with Slurm's reason, its job
    fails naming it, and the task is charged once, what slurmdbd recorded."""
    job_id = slurm_client.submit(
        h2_job(inputs={"problem": {**SLOW_PROBLEM, "args": {"seconds": 120}}})
    )
    task = _wait_running_on_slurm(slurm_client, slurm_cluster, job_id, "problem")
    slurm_id = task.native_id.partition("@")[0]
    _wait_used(slurm_cluster, slurm_id, seconds=2)  # slurmdbd counts whole seconds
    slurm_cluster.tool("scancel", slurm_id)
    status = slurm_client.wait(job_id, timeout=120)
    assert status.state in ("FAILED", "CANCELLED"), status
    after = next(t for t in _tasks(slurm_client, job_id) if t.key == "problem")
    assert after.state == "CANCELLED", after
    charges = [
        e for e in _ledger(slurm_client, job_id) if e.kind == "charge" and e.task_id == task.id
    ]
    assert len(charges) == 1
    accounted = slurm_cluster.accounted(slurm_id)
    assert accounted.state == "CANCELLED" and accounted.elapsed_s > 0
    assert charges[0].unit == "node_hours"
    assert charges[0].amount == pytest.approx(accounted.node_hours)


def test_a_job_the_controller_forgot_ends_as_slurmdbd_recorded_charged_once(
    slurm_client: Client, slurm_cluster: SlurmCluster
) -> None:
    """The broker is down while its task ends; then the controller loses its state (and
    numbers jobs from 1 again). The restarted broker reads the end from slurmdbd, matched
    by the task's directory, and charges what slurmdbd recorded, once."""
    job_id = slurm_client.submit(
        h2_job(inputs={"problem": {**SLOW_PROBLEM, "args": {"seconds": 3}}})
    )
    task = _wait_running_on_slurm(slurm_client, slurm_cluster, job_id, "problem")
    settings = slurm_client.settings
    for pid_file in ("worker.pid", "scheduler.pid"):
        os.kill(int((settings.run_dir / pid_file).read_text()), signal.SIGKILL)
    slurm_id = task.native_id.partition("@")[0]
    accounted = slurm_cluster.accounted(slurm_id)  # waits for the end in slurmdbd
    assert accounted.state == "COMPLETED"  # its directory: 22.05 records it a little later
    slurm_cluster.lose_controller_state()
    assert slurm_cluster.job_state(slurm_id) == ""
    status = slurm_client.wait(job_id, timeout=300)  # restarts the broker
    assert status.state == "COMPLETED", status.message
    after = next(t for t in _tasks(slurm_client, job_id) if t.key == "problem")
    assert after.native_id == task.native_id and after.state == "COMPLETED"
    charges = [
        e for e in _ledger(slurm_client, job_id) if e.kind == "charge" and e.task_id == task.id
    ]
    assert len(charges) == 1
    assert charges[0].amount == pytest.approx(accounted.node_hours)

"""A driver program as a real Slurm job: it submits its quantum tasks back to the broker
under its job (embedded: on the store, which this one-host cluster shares)."""

from __future__ import annotations

import pytest

from broker import Client
from tests.conftest import SlurmCluster
from tests.integration.algorithms.test_graph_jobs import example

pytestmark = pytest.mark.integration


def test_a_driver_on_slurm_submits_its_quantum_tasks_to_its_job(
    slurm_client: Client, slurm_cluster: SlurmCluster
) -> None:
    job = example()
    optimize = next(s for s in job["algorithm"]["inputs"]["steps"] if s["name"] == "optimize")
    optimize["payload"]["maxiter"] = 15
    job["classical_backend"] = "slurm"
    job["classical_resources"] = {"nodes": 1, "cpus_per_task": 1, "mem_mb": 512}
    job_id = slurm_client.submit(job)
    status = slurm_client.wait(job_id, timeout=300)
    assert status.state == "COMPLETED", status.message
    found = slurm_client.result(job_id)
    driver = next(t for t in found.lineage.tasks if t.key == "optimize")
    slurm_id = (driver.native_id or "").partition("@")[0]
    assert slurm_id.isdigit() and slurm_cluster.job_state(slurm_id) == "COMPLETED"
    driven = [t for t in found.lineage.tasks if t.key.startswith("optimize/")]
    assert found.result is not None
    assert len(driven) == found.result["outputs"]["optimize"]["evaluations"] >= 15
    assert {t.backend for t in driven} == {"aer"}
    charged = {c.task_id for c in found.charges if c.kind == "charge" and c.backend == "aer"}
    assert {t.id for t in driven} <= charged
    slurm_charged = {c.task_id for c in found.charges if c.backend == "slurm"}
    assert driver.id in slurm_charged

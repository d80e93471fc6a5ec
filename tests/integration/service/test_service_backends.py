"""More of the other issues' backends in service mode: each pair runs a short VQE whose
quantum tasks go to a simulator and whose classical tasks go to Slurm (command line, REST,
or a pilot job that hosts a worker inside Slurm) or to local processes."""

from __future__ import annotations

import pytest

from backends.states import TaskState
from tests.harness.stack import LocalStack
from tests.integration.service.conftest import h2, logs, task_rows

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("quantum", "classical"),
    [("cirq", "slurmrest"), ("pennylane", "slurm-pilot"), ("braket", "local")],
)
def test_short_vqe(stack: LocalStack, quantum: str, classical: str) -> None:
    client = stack.client("erin")
    optimizer = {"name": "adam", "learning_rate": 0.1, "maxiter": 3}
    job = h2(backend=quantum, classical_backend=classical, inputs={"optimizer": optimizer})
    job_id = client.submit(job)
    status = client.wait(job_id, timeout=300)
    assert status.state == TaskState.COMPLETED, status.message + logs(stack)
    rows = task_rows(stack, job_id)
    assert {r.backend for r in rows if r.kind == "quantum"} == {quantum}
    assert [r.backend for r in rows if r.kind == "classical"] == [classical]
    assert all(r.native_id for r in rows)
    result = client.result(job_id)
    assert result.result is not None and result.result["iterations"] == 3
    assert result.result["reference_energy"] < result.result["energy"]

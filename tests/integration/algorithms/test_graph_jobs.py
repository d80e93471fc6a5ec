"""Task graphs and driver programs through the embedded broker, end to end: the README's
example (a SciPy loop submitting its quantum tasks back to its job), and a driver stopped
by its allowance."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from sqlalchemy import select

from backends.states import TaskState
from broker import Client
from broker.algorithms.chemistry import h2
from broker.store.schema import ledger, tokens
from circuits.observables import PauliSum
from tests.conftest import EXAMPLES
from tests.examples_run import run_example

pytestmark = pytest.mark.integration

EXAMPLE = EXAMPLES / "graph_h2_driver.yaml"
PROGRAMS = EXAMPLES / "programs"


def example(**changes: Any) -> dict[str, Any]:
    """The example as a dict, with its program folder absolute (a dict has no file to be
    relative to), and ``changes`` applied to the optimize step."""
    job: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    for step in job["algorithm"]["inputs"]["steps"]:
        if "python_path" in step:
            step["python_path"] = [str(PROGRAMS)]
        if step["name"] == "optimize":
            step.update(changes)
    return job


def exact_energy() -> float:
    """The H2 ground energy at the example's bond length, diagonalized here."""
    built = h2({"bond_length": 0.735})
    hamiltonian = PauliSum.model_validate(built["hamiltonian"])
    lowest = np.linalg.eigvalsh(hamiltonian.to_sparse_pauli_op().to_matrix())[0]
    return float(lowest) + float(built["energy_offset"])


def test_the_driver_example_runs_its_loop_as_tasks_of_the_job(qcb_home: Path) -> None:
    client = Client()
    # from the file: python_path is relative to it
    job_id = run_example(client, "graph_h2_driver.yaml", timeout=300)
    found = client.result(job_id)
    assert found.result is not None
    outputs = found.result["outputs"]
    exact = exact_energy()
    assert abs(outputs["report"]["exact"] - exact) < 1e-9
    assert abs(outputs["optimize"]["energy"] - exact) < 1e-3
    assert found.result["waves"] == [["problem"], ["exact", "optimize"], ["sample", "report"]]
    # every energy the program asked for was a quantum task of this job, charged once
    driven = [t for t in found.lineage.tasks if t.key.startswith("optimize/")]
    assert (
        len(driven)
        == outputs["optimize"]["evaluations"]
        == found.result["driver_tasks"]["optimize"]
    )
    assert all(t.backend == "aer" and t.state == TaskState.COMPLETED for t in driven)
    charged = [c for c in found.charges if c.kind == "charge" and c.unit == "evaluations"]
    by_task = {c.task_id: c.amount for c in charged}
    assert all(by_task[t.id] == 1.0 for t in driven)
    # the sample step ran the optimum's circuit: the counts are near the H2 ground state
    counts = outputs["sample"]["counts"][0]
    assert sum(counts.values()) == 2000
    assert max(counts, key=counts.get) in {"01", "10"}
    # the driver's token ended with the job
    with client._broker.db.read() as conn:
        rows = conn.execute(select(tokens).where(tokens.c.job_id == job_id)).all()
    assert len(rows) == 1 and rows[0].revoked_at is not None and rows[0].role == "driver"


def test_a_driver_beyond_its_allowance_fails_the_job_and_releases_the_rest(
    qcb_home: Path,
) -> None:
    client = Client()
    job_id = client.submit(example(quantum={"aer": {"evaluations": 10}}))
    status = client.wait(job_id, timeout=300)
    assert status.state == TaskState.FAILED
    assert "'optimize'" in status.message and "allowance has 0 of 10 left" in status.message
    found = client.result(job_id)
    driven = [t for t in found.lineage.tasks if t.key.startswith("optimize/")]
    assert len(driven) == 10  # the 11th was refused
    driver = next(t for t in found.lineage.tasks if t.key == "optimize")
    assert driver.state == TaskState.FAILED
    with client._broker.db.read() as conn:
        lines = conn.execute(select(ledger).where(ledger.c.job_id == job_id)).all()
    aer = [r for r in lines if r.backend == "aer" and r.unit == "evaluations"]
    held = sum(r.amount for r in aer if r.kind == "hold")
    used = sum(r.amount for r in aer if r.kind == "charge")
    released = sum(r.amount for r in aer if r.kind == "release")
    assert used == 10 and held == 10 + 1  # the allowance and the sample step
    assert released == pytest.approx(held - used)

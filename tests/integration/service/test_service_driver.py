"""A driver program in service mode: a Slurm job that calls the REST API back with a token
scoped to its job, its quantum tasks charged and traced with the rest of the job."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from broker.store.schema import audit
from tests.harness.stack import LocalStack
from tests.integration.algorithms.test_graph_jobs import example
from tests.integration.service.conftest import charge_lines, logs, store, task_rows

pytestmark = pytest.mark.integration


def test_a_driver_on_slurm_calls_the_api_back_under_its_job(stack: LocalStack) -> None:
    job = example()
    optimize = next(s for s in job["algorithm"]["inputs"]["steps"] if s["name"] == "optimize")
    optimize["payload"]["maxiter"] = 12
    job["classical_backend"] = "slurm"
    job["classical_resources"] = {"nodes": 1, "cpus_per_task": 1, "mem_mb": 512}
    client = stack.client("alice")
    job_id = client.submit(job)
    status = client.wait(job_id, timeout=300)
    assert status.state == "COMPLETED", status.message + logs(stack)
    rows = task_rows(stack, job_id)
    driven = [r for r in rows if r.key.startswith("optimize/")]
    result = client.result(job_id).result
    assert result is not None
    assert len(driven) == result["outputs"]["optimize"]["evaluations"] >= 12
    driver = next(r for r in rows if r.key == "optimize")
    assert driver.backend == "slurm" and driver.native_id.partition("@")[0].isdigit()
    # every task was added through the API, by the driver's token, for alice
    db = store(stack)
    with db.read() as conn:
        lines = conn.execute(select(audit).where(audit.c.action == "driver-submit")).all()
    db.dispose()
    mine = [a for a in lines if a.detail.get("job") == job_id]
    assert sorted(a.object_id for a in mine) == sorted(r.id for r in driven)
    assert {a.actor for a in mine} == {"alice"}
    assert {a.detail["via"] for a in mine} == {"api"}
    charged = {c.task_id for c in charge_lines(stack, job_id)}
    assert {r.id for r in driven} | {driver.id} <= charged

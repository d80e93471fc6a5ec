"""A driver token acts only within its job: over the REST API (every endpoint), and in the
core functions the embedded SDK calls; and it adds tasks only within its allowance, while
its driver runs."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select, update

from backends.base import QuantumBatch, QuantumItem
from backends.states import TaskState
from broker.core.orchestrator import Broker
from broker.drivers import service as driver
from broker.errors import BrokerError, Forbidden, InvalidJob, JobRefused
from broker.service import tokens
from broker.service.access import Principal, Role
from broker.store.schema import audit, jobs, tasks
from tests.conftest import BELL
from tests.unit.broker.api.conftest import Api

pytestmark = pytest.mark.timeout(60)  # an events stream let through would never end


def driver_job(proposal: str = "chem", evaluations: int = 4, shots: int = 1000) -> dict[str, Any]:
    """A graph job whose only step is a driver with an allowance on aer."""
    return {
        "proposal": proposal,
        "algorithm": {
            "name": "graph",
            "inputs": {
                "steps": [
                    {
                        "name": "drive",
                        "kind": "driver",
                        "entrypoint": "json:dumps",
                        "quantum": {"aer": {"evaluations": evaluations, "shots": shots}},
                    }
                ]
            },
        },
    }


def submit(api: Api, user: str, body: dict[str, Any]) -> str:
    """Submit ``body`` as ``user``; its job id."""
    answer = api.client.post("/v1/jobs", json=body, headers=api.auth(user))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def start_driver(api: Api, job_id: str) -> None:
    """Mark the job's driver task RUNNING, as a worker's claim does."""
    with api.db.write() as conn:
        conn.execute(
            update(tasks)
            .where(tasks.c.job_id == job_id, tasks.c.key == "drive")
            .values(state=TaskState.RUNNING)
        )


def mint(api: Api, job_id: str, user: str = "alice") -> str:
    """A driver token for ``job_id``, as the worker that starts the driver makes it."""
    with api.db.write(exclusive=False) as conn:
        return driver.mint(conn, job_id=job_id, user=user, step="drive", seconds=600)


def bell_task(shots: int = 100) -> dict[str, Any]:
    """A request body with one Bell circuit."""
    batch = QuantumBatch(items=[QuantumItem(circuit=BELL)], shots=shots)
    return {"batch": batch.model_dump(mode="json")}


def bearer(secret: str) -> dict[str, str]:
    """An Authorization header."""
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def jobs_ab(api: Api) -> tuple[str, str, str]:
    """alice's driver job A (its driver running, with a token) and her job B."""
    job_a = submit(api, "alice", driver_job())
    job_b = submit(api, "alice", driver_job())
    start_driver(api, job_a)
    start_driver(api, job_b)
    return job_a, job_b, mint(api, job_a)


def _endpoints(api: Api) -> list[tuple[str, str]]:
    paths: dict[str, dict[str, Any]] = api.client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return [(m.upper(), p) for p, ops in paths.items() for m in ops]


def test_a_driver_token_is_refused_everywhere_outside_its_job(
    api: Api, jobs_ab: tuple[str, str, str]
) -> None:
    _, job_b, secret = jobs_ab
    with api.db.read() as conn:
        task_b = conn.execute(select(tasks.c.id).where(tasks.c.job_id == job_b)).scalar_one()
    tried = 0
    for method, path in _endpoints(api):
        if path == "/healthz":
            continue
        for other in (job_b, task_b):
            concrete = re.sub(r"\{[^}]+\}", other, path)
            if method == "GET" and concrete == "/v1/whoami":
                continue
            body = bell_task() if concrete.endswith("/tasks") else {}
            answer = api.client.request(method, concrete, headers=bearer(secret), json=body)
            assert answer.status_code == 403, (method, concrete, answer.text)
            tried += 1
    assert tried >= 30
    denied = [r for r in api.audit("deny") if r.detail["status"] == 403]
    assert len(denied) == tried
    assert all("only within its job" in r.detail["reason"] for r in denied)
    with api.db.read() as conn:  # nothing was cancelled or added in job B
        state = conn.execute(select(jobs.c.state).where(jobs.c.id == job_b)).scalar_one()
        count = len(conn.execute(select(tasks.c.id).where(tasks.c.job_id == job_b)).all())
    assert state == TaskState.PENDING or state == TaskState.RUNNING
    assert count == 1


def test_within_its_job_a_driver_reads_the_job_and_adds_and_reads_tasks(
    api: Api, jobs_ab: tuple[str, str, str]
) -> None:
    job_a, _, secret = jobs_ab
    assert api.client.get("/v1/whoami", headers=bearer(secret)).json()["user"] == "alice"
    assert api.client.get(f"/v1/jobs/{job_a}", headers=bearer(secret)).status_code == 200
    added = api.client.post(f"/v1/jobs/{job_a}/tasks", headers=bearer(secret), json=bell_task())
    assert added.status_code == 201, added.text
    task_id = added.json()["id"]
    seen = api.client.get(f"/v1/jobs/{job_a}/tasks/{task_id}", headers=bearer(secret)).json()
    assert seen["key"] == "drive/0001"
    assert seen["state"] in (TaskState.PENDING, TaskState.QUEUED)  # released at once
    # but not cancel its own job, nor read its result or usage
    for method, path in (("POST", f"/v1/jobs/{job_a}/cancel"), ("GET", "/v1/usage")):
        assert api.client.request(method, path, headers=bearer(secret)).status_code == 403
    assert api.audit("driver-submit")[-1].object_id == task_id


def test_only_the_jobs_driver_token_adds_tasks(api: Api, jobs_ab: tuple[str, str, str]) -> None:
    job_a, _, _ = jobs_ab
    for user in ("alice", "carol", "root"):  # the owner, the PI, an admin
        answer = api.client.post(
            f"/v1/jobs/{job_a}/tasks", headers=api.auth(user), json=bell_task()
        )
        assert answer.status_code == 403, user
        assert "only the driver program" in answer.json()["message"]


def test_a_driver_adds_nothing_beyond_its_allowance(
    api: Api, jobs_ab: tuple[str, str, str]
) -> None:
    job_a, _, secret = jobs_ab
    url = f"/v1/jobs/{job_a}/tasks"
    for _ in range(4):  # 4 evaluations of 100 shots: within 4 evaluations and 1000 shots
        assert api.client.post(url, headers=bearer(secret), json=bell_task()).status_code == 201
    over = api.client.post(url, headers=bearer(secret), json=bell_task())
    assert over.status_code == 409
    assert "has 0 of 4 left" in over.json()["message"]


def test_a_revoked_driver_token_and_an_ended_job_take_no_tasks(
    api: Api, jobs_ab: tuple[str, str, str]
) -> None:
    job_a, _, secret = jobs_ab
    assert api.client.post(f"/v1/jobs/{job_a}/cancel", headers=api.auth("alice")).status_code == 200
    answer = api.client.post(f"/v1/jobs/{job_a}/tasks", headers=bearer(secret), json=bell_task())
    assert answer.status_code == 401  # the job's end revoked its driver token
    with api.db.read() as conn:
        assert tokens.authenticate(conn, secret) is None


# --- the core functions (what the embedded SDK calls) -------------------------------------


def test_core_checks_scope_state_allowance_backend_and_circuit(
    api: Api, jobs_ab: tuple[str, str, str]
) -> None:
    job_a, job_b, secret = jobs_ab
    broker = Broker(api.settings)
    with api.db.read() as conn:
        who = tokens.authenticate(conn, secret)
    assert who is not None and who.role is Role.DRIVER and who.job_id == job_a
    batch = QuantumBatch(items=[QuantumItem(circuit=BELL)], shots=600)
    with pytest.raises(Forbidden):
        driver.submit_task(broker, who, job_b, batch)
    with pytest.raises(Forbidden):
        driver.task_view(broker, who, job_b, "t-anything")
    researcher = Principal(user="alice", role=Role.RESEARCHER)
    with pytest.raises(Forbidden):
        driver.submit_task(broker, researcher, job_a, batch)
    with pytest.raises(JobRefused, match=r"^job refused by driver-allowance: .* nothing on cirq"):
        driver.submit_task(broker, who, job_a, batch, backend="cirq")
    with pytest.raises(InvalidJob, match="line 6"):
        bad = BELL.replace("cx q[0], q[1];", "cx q[0], q[5];")
        driver.submit_task(broker, who, job_a, QuantumBatch(items=[QuantumItem(circuit=bad)]))
    first = driver.submit_task(broker, who, job_a, batch)
    assert driver.task_view(broker, who, job_a, first)["key"] == "drive/0001"
    with pytest.raises(
        JobRefused, match=r"driver-allowance: .* needs 600 shots on aer but its allowance has 400"
    ):
        driver.submit_task(broker, who, job_a, batch)
    with api.db.write() as conn:  # the driver program ended
        conn.execute(
            update(tasks)
            .where(tasks.c.job_id == job_a, tasks.c.key == "drive")
            .values(state=TaskState.COMPLETED)
        )
    with pytest.raises(Forbidden, match="is not running"):
        driver.submit_task(broker, who, job_a, QuantumBatch(items=[QuantumItem(circuit=BELL)]))


def test_admins_cannot_make_driver_tokens_by_hand(api: Api) -> None:
    with pytest.raises(BrokerError, match="no role 'driver'") as caught:
        tokens.parse_role("driver")
    assert caught.value.hint is not None and "driver" not in caught.value.hint
    with api.db.read() as conn:
        assert not conn.execute(select(audit).where(audit.c.action == "driver-submit")).all()


def test_two_drivers_of_one_wave_each_keep_their_own_allowance(api: Api) -> None:
    body = driver_job()
    first = body["algorithm"]["inputs"]["steps"][0]
    second = {**first, "name": "dx1"}
    first["name"] = "d_1"  # as a LIKE pattern, d_1/% would also match dx1/...
    body["algorithm"]["inputs"]["steps"].append(second)
    job_id = submit(api, "alice", body)
    with api.db.write() as conn:
        conn.execute(update(tasks).where(tasks.c.job_id == job_id).values(state=TaskState.RUNNING))
    broker = Broker(api.settings)
    secret = mint(api, job_id)
    with api.db.read() as conn:
        who = tokens.authenticate(conn, secret)
    assert who is not None
    batch = QuantumBatch(items=[QuantumItem(circuit=BELL)], shots=100)
    with pytest.raises(Forbidden, match="several driver steps"):
        driver.submit_task(broker, who, job_id, batch)
    other = driver.submit_task(broker, who, job_id, batch, step="dx1")
    mine = [driver.submit_task(broker, who, job_id, batch, step="d_1") for _ in range(4)]
    keys = [driver.task_view(broker, who, job_id, t)["key"] for t in [other, *mine]]
    assert keys == ["dx1/0001", "d_1/0001", "d_1/0002", "d_1/0003", "d_1/0004"]
    with pytest.raises(JobRefused, match="has 0 of 4 left"):
        driver.submit_task(broker, who, job_id, batch, step="d_1")

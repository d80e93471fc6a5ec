"""The broker's core without Celery: tasks executed in this process, one by one."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from broker.config import Settings
from broker.core.execution import Executor
from broker.core.orchestrator import Broker
from broker.core.provenance import package_versions
from broker.core.queries import job_result, job_status
from broker.core.scheduler import Scheduler
from broker.errors import InvalidJob, JobRefused
from broker.jobfile import load_job, parse_job
from broker.store.schema import algorithm_states, ledger
from circuits.observables import PauliSum
from tests.conftest import EXAMPLES, H2_TERMS


def drive(broker: Broker, job_id: str, max_tasks: int = 2000) -> None:
    """Run the job's tasks in this process until it is final."""
    queue: list[str] = []
    scheduler = Scheduler(broker, lambda task_id, _queue: queue.append(task_id))
    executor = Executor(broker, "test-worker", release=scheduler.release)
    for _ in range(max_tasks):
        if job_status(broker.db, job_id).state.final:
            return
        scheduler.tick()
        while queue:
            executor.execute(queue.pop(0))
    raise AssertionError("job did not finish")


@pytest.fixture
def broker(settings: Settings) -> Broker:
    return Broker(settings)


def test_h2_vqe_reaches_the_exact_ground_energy(broker: Broker) -> None:
    spec = load_job(EXAMPLES / "vqe_h2.yaml")
    job_id = broker.submit(spec, "alice")
    drive(broker, job_id)
    res = job_result(broker.db, job_id)
    exact = PauliSum.from_list(H2_TERMS).ground_energy() + 0.7199689944489797
    assert res.state == "COMPLETED"
    assert res.result is not None
    assert abs(res.result["energy"] - exact) < 1.6e-3
    assert res.result["reference_energy"] == pytest.approx(exact, abs=1e-9)
    steps = res.result["iterations"]
    with broker.db.read() as conn:
        recorded = conn.execute(
            select(func.count()).where(algorithm_states.c.job_id == job_id)
        ).scalar_one()
    assert recorded == steps + 1  # one persisted state per step, plus the start


def test_every_task_is_charged_once_and_the_hold_released(broker: Broker) -> None:
    job_id = broker.submit(load_job(EXAMPLES / "vqe_h2.yaml"), "alice")
    drive(broker, job_id)
    with broker.db.read() as conn:
        rows = conn.execute(select(ledger).where(ledger.c.job_id == job_id)).all()
    charges = [r for r in rows if r.kind == "charge"]
    assert len({(r.task_id, r.unit) for r in charges}) == len(charges)
    res = job_result(broker.db, job_id)
    assert {t.id for t in res.lineage.tasks} == {r.task_id for r in charges}
    holds = {(r.backend, r.unit): r.amount for r in rows if r.kind == "hold"}
    released = {(r.backend, r.unit): r.amount for r in rows if r.kind == "release"}
    used = sum(r.amount for r in charges if r.unit == "evaluations")
    assert released[("aer", "evaluations")] == pytest.approx(holds[("aer", "evaluations")] - used)


def test_lineage_packages_are_those_of_the_process_that_ran_the_tasks(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker with other versions than the reader's: the lineage names the worker's."""
    worker = {"qcbroker": "0.0.0+worker", "qiskit": "0.0.0+worker"}
    monkeypatch.setattr("broker.core.execution.package_versions", lambda: dict(worker))
    job_id = broker.submit(load_job(EXAMPLES / "sweep_rabi.yaml"), "alice")
    drive(broker, job_id)
    monkeypatch.undo()
    lineage = job_result(broker.db, job_id).lineage
    assert package_versions() != worker  # the reading process's own
    assert lineage.packages == worker
    assert lineage.tasks and all(t.packages == worker for t in lineage.tasks)


def test_lineage_names_everything_needed(broker: Broker) -> None:
    text = (EXAMPLES / "vqe_h2.yaml").read_text().replace("maxiter: 300", "maxiter: 3")
    job_id = broker.submit(parse_job(text), "alice")  # a few steps: the lineage, not the energy
    drive(broker, job_id)
    lineage = job_result(broker.db, job_id).lineage
    assert lineage.seed == 42
    assert lineage.backend == "aer" and lineage.backend_version.startswith("qiskit-aer")
    assert lineage.policy_revision == broker.policy.revision
    assert len(lineage.circuits) == 1 and len(lineage.circuits[0]) == 64
    assert {"qiskit", "qiskit-aer", "celery", "qcbroker"} <= set(lineage.packages)
    assert {t.kind for t in lineage.tasks} == {"quantum", "classical"}
    for task in lineage.tasks:
        assert task.started_at and task.finished_at and task.started_at <= task.finished_at
        assert task.native_id and task.backend_version
        if task.kind == "quantum":
            assert task.circuits == lineage.circuits and task.seed is not None


def test_unknown_proposal_is_refused_with_the_known_ones(broker: Broker) -> None:
    spec = load_job(EXAMPLES / "vqe_h2.yaml").model_copy(update={"proposal": "nope"})
    with pytest.raises(JobRefused, match=r"unknown proposal 'nope'.*local"):
        broker.submit(spec, "alice")


def test_over_budget_is_refused_with_the_balance(broker: Broker, tmp_path: Path) -> None:
    policy = tmp_path / "tight.yaml"
    policy.write_text(
        broker.settings.policy_file.read_text().replace("amount: 10000000}", "amount: 500}")
    )
    broker.settings.policy_file = policy
    with pytest.raises(JobRefused) as info:
        broker.submit(load_job(EXAMPLES / "vqe_h2.yaml"), "alice")
    assert "500 evaluations left" in str(info.value)
    assert "may need up to" in str(info.value)


def test_observable_and_ansatz_qubit_counts_must_match(broker: Broker) -> None:
    text = (
        (EXAMPLES / "vqe_h2.yaml")
        .read_text()
        .replace(
            "ansatz: {library: real_amplitudes, reps: 1}",
            "ansatz: {library: real_amplitudes, reps: 1, num_qubits: 3}",
        )
    )
    with pytest.raises(InvalidJob, match="2 qubits but the ansatz has 3"):
        broker.submit(parse_job(text), "alice")


def test_bad_algorithm_inputs_name_their_path(broker: Broker) -> None:
    text = (EXAMPLES / "vqe_h2.yaml").read_text().replace("maxiter: 300", "maxiter: many")
    with pytest.raises(InvalidJob, match=r"line \d+, algorithm\.inputs\.optimizer\.maxiter: "):
        broker.submit(parse_job(text), "alice")


def test_unknown_backend_lists_the_registered_ones(broker: Broker) -> None:
    spec = load_job(EXAMPLES / "vqe_h2.yaml", {"backend": "qpu9000"})
    with pytest.raises(InvalidJob, match=r"backend: unknown backend 'qpu9000'.*aer"):
        broker.submit(spec, "alice")


def test_cancel_stops_pending_work_and_releases_holds(broker: Broker) -> None:
    job_id = broker.submit(load_job(EXAMPLES / "vqe_h2.yaml"), "alice")
    broker.cancel(job_id, "alice")
    status = job_status(broker.db, job_id)
    assert status.state == "CANCELLED"
    assert set(status.tasks) == {"CANCELLED"}
    with broker.db.read() as conn:
        kinds = [r.kind for r in conn.execute(select(ledger).where(ledger.c.job_id == job_id))]
    assert kinds.count("release") == kinds.count("hold") >= 1


def test_scheduler_advances_a_job_whose_worker_could_not_advance_it(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = broker.submit(load_job(EXAMPLES / "vqe_h2.yaml"), "alice")
    queue: list[str] = []
    scheduler = Scheduler(broker, lambda task_id, _queue: queue.append(task_id))
    scheduler.tick()
    executor = Executor(broker, "unlucky-worker")

    def store_down(*_: object) -> tuple[bool, None]:
        raise OperationalError("UPDATE jobs", {}, Exception("the store went away"))

    with monkeypatch.context() as patch:
        patch.setattr(broker, "advance_in", store_down)  # the task is recorded all the same
        while queue:
            executor.execute(queue.pop(0))
    assert job_status(broker.db, job_id).step == 0
    assert set(job_status(broker.db, job_id).tasks) == {"COMPLETED"}
    scheduler.tick()
    assert job_status(broker.db, job_id).step == 1

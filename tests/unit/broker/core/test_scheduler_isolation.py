"""One job that cannot advance never stops the scheduler, a worker or anyone else's job: it
fails alone with its reason, its holds are released, the tick goes on (pilots scaled), and
its result still answers."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from backends.states import TaskState
from broker import algorithms
from broker.config import Settings
from broker.core.execution import Executor
from broker.core.orchestrator import Broker
from broker.core.queries import job_result, job_status
from broker.core.scheduler import Scheduler
from broker.errors import PolicyFileError
from broker.jobfile import validate_job
from broker.store import ledger
from broker.store.schema import algorithm_states, jobs
from tests.conftest import EXAMPLES
from tests.unit.broker.core.test_orchestrator import drive


def _job(proposal_user: str) -> dict[str, Any]:
    job: dict[str, Any] = yaml.safe_load((EXAMPLES / "vqe_h2.yaml").read_text())
    job["name"] = f"h2-{proposal_user}"
    job["algorithm"]["inputs"]["optimizer"]["maxiter"] = 3
    job["algorithm"]["inputs"]["reference"] = False
    return job


def store_down(*_: object) -> tuple[bool, None]:
    """An advance that meets the store going away."""
    raise OperationalError("UPDATE jobs", {}, Exception("the store went away"))


def _first_step_without_advancing(
    broker: Broker, scheduler: Scheduler, queue: list[str], job_ids: list[str]
) -> None:
    """Run the first step's tasks of ``job_ids``; the store fails each time the worker
    advances a job, so the tasks are recorded and the jobs are not advanced."""
    executor = Executor(broker, "unlucky-worker")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(broker, "advance_in", store_down)
        for _ in range(20):
            if all(set(job_status(broker.db, j).tasks) == {"COMPLETED"} for j in job_ids):
                return
            scheduler.tick()
            while queue:
                executor.execute(queue.pop(0))
    raise AssertionError("the first steps did not complete")


def _held(broker: Broker) -> float:
    with broker.db.read() as conn:
        return sum(ledger.held_amounts(conn, "local").values())


def test_a_job_that_cannot_advance_fails_alone(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = Broker(settings)
    bad = broker.submit(validate_job(_job("alice")), "alice")
    good = broker.submit(validate_job(_job("bob")), "bob")
    queue: list[str] = []
    scheduler = Scheduler(broker, lambda task_id, _queue: queue.append(task_id))
    scaled: list[int] = []
    monkeypatch.setattr(scheduler, "_scale_pilots", lambda: scaled.append(1))
    _first_step_without_advancing(broker, scheduler, queue, [bad, good])
    assert {job_status(broker.db, j).step for j in (bad, good)} == {0}
    with broker.db.write() as conn:  # the bad job's saved optimizer state is unusable
        conn.execute(
            update(algorithm_states).where(algorithm_states.c.job_id == bad).values(state={})
        )
    held_before = _held(broker)
    assert held_before > 0
    ticks_scaled = len(scaled)

    scheduler.tick()  # must not raise

    failed = job_status(broker.db, bad)
    assert failed.state == TaskState.FAILED
    assert failed.message.startswith("step 1 could not be computed (KeyError")
    assert "holds were released" in failed.message
    assert job_status(broker.db, good).step == 1  # advanced in the same tick
    assert len(scaled) == ticks_scaled + 1  # that tick scaled the pilots too
    assert _held(broker) < held_before  # only the good job holds now
    drive(broker, good)
    assert job_status(broker.db, good).state == TaskState.COMPLETED
    assert _held(broker) == 0
    assert job_result(broker.db, bad).state == TaskState.FAILED


def test_a_result_answers_when_the_stored_inputs_no_longer_validate(settings: Settings) -> None:
    broker = Broker(settings)
    job_id = broker.submit(validate_job(_job("alice")), "alice")
    broker.cancel(job_id, "alice")
    with broker.db.write() as conn:  # as a job stored with "energy_offset": Infinity was
        row_spec = _job("alice")
        row_spec["algorithm"]["inputs"]["energy_offset"] = None
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(spec=row_spec))
    answer = job_result(broker.db, job_id)
    assert answer.state == TaskState.CANCELLED
    assert answer.lineage.observables == []
    assert answer.lineage.tasks  # what ran is still there


def test_the_tick_scales_pilots_even_when_a_phase_fails(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    scheduler = Scheduler(Broker(settings), lambda *_: None)
    scaled: list[int] = []
    monkeypatch.setattr(scheduler, "_scale_pilots", lambda: scaled.append(1))

    def broken() -> list[tuple[str, str]]:
        raise RuntimeError("the store went away")

    monkeypatch.setattr(scheduler, "_release", broken)
    with pytest.raises(RuntimeError, match="went away"):
        scheduler.tick()
    assert scaled == [1]


def _drive_all(broker: Broker, executor: Executor, job_ids: list[str]) -> None:
    """Run every task of ``job_ids`` in this process, the scheduler releasing them, until
    all those jobs are final (``executor.execute`` must never raise)."""
    queue: list[str] = []
    scheduler = Scheduler(broker, lambda task_id, _queue: queue.append(task_id))
    executor.release = scheduler.release
    for _ in range(2000):
        if all(job_status(broker.db, j).state.final for j in job_ids):
            return
        scheduler.tick()
        while queue:
            executor.execute(queue.pop(0))
    raise AssertionError("the jobs did not finish")


def _corrupt_inputs(broker: Broker, job_id: str, user: str) -> None:
    """Store the job's inputs as a job submitted with ``"energy_offset": Infinity`` was
    stored (null), which its inputs model refuses."""
    spec = _job(user)
    spec["algorithm"]["inputs"]["energy_offset"] = None
    with broker.db.write() as conn:
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(spec=spec))


def test_a_worker_goes_on_serving_when_a_job_it_ran_cannot_advance(settings: Settings) -> None:
    broker = Broker(settings)
    bad = broker.submit(validate_job(_job("alice")), "alice")
    good = broker.submit(validate_job(_job("bob")), "bob")
    _corrupt_inputs(broker, bad, "alice")

    _drive_all(broker, Executor(broker, "worker"), [bad, good])

    failed = job_status(broker.db, bad)
    assert failed.state == TaskState.FAILED
    assert failed.message.startswith(
        "step 1 could not be computed (InvalidJob: algorithm.inputs.energy_offset"
    )
    assert "Traceback" not in failed.message
    assert set(failed.tasks) == {"COMPLETED"}  # what ran stays recorded
    assert job_status(broker.db, good).state == TaskState.COMPLETED
    assert _held(broker) == 0
    answer = job_result(broker.db, bad)
    assert answer.state == TaskState.FAILED
    assert answer.message == failed.message
    assert answer.lineage.observables == []
    assert {c.kind for c in answer.charges} >= {"hold", "release"}


def test_a_step_the_store_refuses_fails_its_job_alone(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = Broker(settings)
    bad = broker.submit(validate_job(_job("alice")), "alice")
    good = broker.submit(validate_job(_job("bob")), "bob")
    vqe = type(algorithms.get("vqe"))
    step = vqe.step

    def duplicating(self: Any, inputs: Any, spec: Any, state: Any, results: Any) -> Any:
        outcome = step(self, inputs, spec, state, results)
        if spec.name == "h2-alice":  # two tasks of one key: the store's constraint refuses
            outcome.tasks = outcome.tasks + outcome.tasks[:1]
        return outcome

    monkeypatch.setattr(vqe, "step", duplicating)

    _drive_all(broker, Executor(broker, "worker"), [bad, good])

    failed = job_status(broker.db, bad)
    assert failed.state == TaskState.FAILED
    assert failed.message.startswith("step 1 could not be computed (IntegrityError")
    assert job_status(broker.db, good).state == TaskState.COMPLETED
    assert _held(broker) == 0


@pytest.mark.parametrize(
    "failure",
    [
        OperationalError("SELECT 1", {}, Exception("database is locked")),
        PolicyFileError("no policy is in force: policy.yaml is invalid"),
    ],
    ids=["store", "policy"],
)
def test_a_failure_of_the_deployment_never_fails_a_job(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    broker = Broker(settings)
    job_id = broker.submit(validate_job(_job("alice")), "alice")
    queue: list[str] = []
    scheduler = Scheduler(broker, lambda task_id, _queue: queue.append(task_id))
    _first_step_without_advancing(broker, scheduler, queue, [job_id])
    target = broker.policy_source if isinstance(failure, PolicyFileError) else broker.db
    name = "current" if isinstance(failure, PolicyFileError) else "write"
    working = getattr(target, name)
    failures = [failure]

    def fails_once(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return working(*args, **kwargs)

    monkeypatch.setattr(target, name, fails_once)
    with pytest.raises(type(failure)):  # the caller (worker, scheduler) tries again later
        broker.advance(job_id)
    assert job_status(broker.db, job_id).state != TaskState.FAILED
    assert broker.advance(job_id)
    assert job_status(broker.db, job_id).step == 1


def test_a_worker_hands_back_nothing_when_advancing_fails(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = Broker(settings)
    job_id = broker.submit(validate_job(_job("alice")), "alice")
    executor = Executor(broker, "worker")
    handed_back: list[str] = []
    monkeypatch.setattr(executor, "_hand_back", handed_back.append)

    monkeypatch.setattr(broker, "advance_in", store_down)
    queue: list[str] = []
    scheduler = Scheduler(broker, lambda task_id, _queue: queue.append(task_id))
    scheduler.release()
    assert queue
    for task_id in queue:
        executor.execute(task_id)  # never raises
    assert handed_back == []
    assert set(job_status(broker.db, job_id).tasks) == {"COMPLETED"}
    monkeypatch.undo()
    scheduler.tick()  # the scheduler advances what the worker could not
    assert job_status(broker.db, job_id).step == 1


def test_a_result_answers_whatever_the_shape_of_the_stored_spec(settings: Settings) -> None:
    broker = Broker(settings)
    job_id = broker.submit(validate_job(_job("alice")), "alice")
    broker.cancel(job_id, "alice")
    with broker.db.write() as conn:
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(spec={"algorithm": "vqe"}))
    answer = job_result(broker.db, job_id)
    assert answer.state == TaskState.CANCELLED
    assert answer.lineage.observables == []

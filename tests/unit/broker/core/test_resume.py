"""Resuming a stopped job from its checkpoint (``qcb retry``), run in this process: the new
job starts at the step the old one reached, reuses that step's finished tasks, and ends
where an uninterrupted run of the same job ends."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from backends.states import TaskState
from broker.config import Settings
from broker.core import resume
from broker.core.execution import Executor
from broker.core.orchestrator import Broker
from broker.core.queries import job_result, job_status
from broker.core.scheduler import Scheduler
from broker.errors import BrokerError, NotFound
from broker.jobfile import load_job
from broker.store.schema import ledger, tasks
from tests.conftest import EXAMPLES
from tests.unit.broker.core.test_orchestrator import drive


@pytest.fixture
def broker(settings: Settings) -> Broker:
    return Broker(settings)


def spec() -> Any:
    job = load_job(EXAMPLES / "vqe_h2.yaml", {"seed": 11})
    job.algorithm.inputs["optimizer"]["maxiter"] = 6
    job.algorithm.inputs["reference"] = False
    return job


def stop_midway(broker: Broker, job_id: str, step: int, tasks_more: int = 0) -> None:
    """Run the job's tasks until it reaches ``step``, then ``tasks_more`` tasks of that
    step, and cancel it there (the tasks sent meanwhile end as a worker ends them)."""
    queue: list[str] = []
    scheduler = Scheduler(broker, lambda task_id, _queue: queue.append(task_id))
    executor = Executor(broker, "test-worker", release=scheduler.release)
    while job_status(broker.db, job_id).step < step:
        scheduler.tick()
        while queue and job_status(broker.db, job_id).step < step:
            executor.execute(queue.pop(0))
    scheduler.tick()
    for task_id in queue[:tasks_more]:
        executor.execute(task_id)
    broker.cancel(job_id, "alice")
    for task_id in queue[tasks_more:]:  # the worker that got them sees the cancel
        executor.execute(task_id)


def task_rows(broker: Broker, job_id: str) -> list[Any]:
    with broker.db.read() as conn:
        return list(conn.execute(select(tasks).where(tasks.c.job_id == job_id)))


def test_a_resumed_job_ends_where_an_uninterrupted_one_does(broker: Broker) -> None:
    whole = broker.submit(spec(), "alice")
    drive(broker, whole)
    stopped = broker.submit(spec(), "alice")
    stop_midway(broker, stopped, 3)
    assert job_status(broker.db, stopped).state == TaskState.CANCELLED
    point = resume.checkpoint(broker.db, stopped, "alice")
    assert point.step == 3 and len(point.outcome.tasks) == 1
    again = broker.submit(point.spec, "alice", resume=point)
    status = job_status(broker.db, again)
    assert status.step == 3 and status.progress == job_status(broker.db, stopped).progress
    drive(broker, again)
    done, expected = job_result(broker.db, again), job_result(broker.db, whole)
    assert done.state == TaskState.COMPLETED
    assert done.result is not None and expected.result is not None
    assert done.result["energy"] == pytest.approx(expected.result["energy"], abs=1e-12)
    assert done.result["parameters"] == pytest.approx(expected.result["parameters"], abs=1e-12)
    assert len(task_rows(broker, again)) == len(task_rows(broker, whole)) - 3


def test_a_resumed_step_reuses_its_finished_tasks(broker: Broker) -> None:
    sweep = load_job(EXAMPLES / "sweep_rabi.yaml")
    whole = broker.submit(sweep, "alice")
    drive(broker, whole)
    stopped = broker.submit(sweep, "alice")
    stop_midway(broker, stopped, 0, tasks_more=1)
    point = resume.checkpoint(broker.db, stopped, "alice")
    assert (point.step, len(point.done), len(point.outcome.tasks)) == (0, 1, 3)
    again = broker.submit(point.spec, "alice", resume=point)
    assert job_status(broker.db, again).tasks == {"COMPLETED": 1, "PENDING": 3}
    drive(broker, again)
    done, expected = job_result(broker.db, again), job_result(broker.db, whole)
    assert done.result is not None and expected.result is not None
    assert done.result["expectation_values"] == expected.result["expectation_values"]
    copied = {r.id for r in task_rows(broker, again) if r.worker_id is None}
    with broker.db.read() as conn:
        charged = set(
            conn.execute(
                select(ledger.c.task_id).where(ledger.c.job_id == again, ledger.c.kind == "charge")
            ).scalars()
        )
    assert len(copied) == 1 and len(charged) == 3 and not copied & charged


def test_only_a_stopped_job_of_yours_that_did_not_complete_resumes(broker: Broker) -> None:
    running = broker.submit(spec(), "alice")
    with pytest.raises(BrokerError, match="has not stopped") as caught:
        resume.checkpoint(broker.db, running, "alice")
    assert f"qcb cancel {running}" in (caught.value.hint or "")
    with pytest.raises(NotFound):
        resume.checkpoint(broker.db, running, "bob")
    drive(broker, running)
    with pytest.raises(BrokerError, match="nothing to resume") as caught:
        resume.checkpoint(broker.db, running, "alice")
    assert "qcb requeue" in (caught.value.hint or "")


def test_a_job_resumes_on_another_backend(broker: Broker) -> None:
    stopped = broker.submit(spec(), "alice")
    stop_midway(broker, stopped, 2)
    point = resume.checkpoint(broker.db, stopped, "alice", backend="aer-mps")
    again = broker.submit(point.spec, "alice", resume=point)
    drive(broker, again)
    assert job_status(broker.db, again).state == TaskState.COMPLETED
    ran = {r.backend for r in task_rows(broker, again) if r.worker_id is not None}
    assert ran == {"aer-mps"}

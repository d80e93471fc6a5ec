"""The worker's executor in process, on SQLite, through each way a task can go: run and
recorded, a transient error retried, a permanent one failing the task and its job, an
unexpected error handing the task back, a duplicate message, a cancellation while running,
re-attaching to a native job and submitting again when the backend lost it.

The backend is the real Aer simulator behind a wrapper that can inject the faults a remote
backend shows (Aer itself never fails transiently nor loses a job)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from backends.aer import AerBackend
from backends.base import BackendStatus, Capabilities, QuantumBackend, QuantumBatch, QuantumResult
from backends.errors import BackendError, NativeJobLost
from backends.states import TaskState
from broker.config import Settings
from broker.core import transitions
from broker.core.execution import MAX_TRANSIENT_RETRIES, Executor
from broker.core.orchestrator import Broker
from broker.jobfile import load_job
from broker.store.schema import jobs, ledger, tasks
from tests.conftest import EXAMPLES


class Faulty(QuantumBackend):
    """Aer, with faults on demand: ``on_submit`` raises instead of submitting; ``running``
    keeps reporting RUNNING until the task is cancelled; ``lost`` ids raise NativeJobLost."""

    name = "aer"

    def __init__(self) -> None:
        super().__init__()
        self.aer = AerBackend()
        self.on_submit: Callable[[], None] | None = None
        self.running = False
        self.reattach = False
        self.lost: set[str] = set()
        self.submitted: list[str] = []
        self.cancelled: list[str] = []

    def capabilities(self) -> Capabilities:
        """Aer's, re-attachable when asked."""
        return self.aer.capabilities().model_copy(
            update={"reattach": self.reattach, "poll_seconds": 0.0}
        )

    def submit(self, batch: QuantumBatch, *, task_id: str) -> str:
        """Aer's submit, unless a fault is set."""
        if self.on_submit is not None:
            self.on_submit()
        native = self.aer.submit(batch, task_id=task_id)
        self.submitted.append(native)
        return native

    def status(self, native_id: str) -> BackendStatus:
        """RUNNING while held, CANCELLED once cancelled, else Aer's."""
        if native_id in self.lost:
            raise NativeJobLost(native_id, "the backend forgot it")
        if native_id in self.cancelled:
            return BackendStatus(state=TaskState.CANCELLED, message="cancelled")
        if self.running:
            return BackendStatus(state=TaskState.RUNNING)
        return self.aer.status(native_id)

    def result(self, native_id: str) -> QuantumResult:
        """Aer's result."""
        return self.aer.result(native_id)

    def cancel(self, native_id: str) -> None:
        """Remember the cancellation (idempotent)."""
        if native_id not in self.cancelled:
            self.cancelled.append(native_id)


@pytest.fixture
def broker(settings: Settings) -> Broker:
    """A broker on this test's SQLite store."""
    return Broker(settings)


@pytest.fixture
def faulty(broker: Broker) -> Faulty:
    """The broker's ``aer``, replaced by the fault-injecting wrapper."""
    backend = Faulty()
    broker._backends["aer"] = backend
    return backend


def _queued(broker: Broker) -> tuple[str, str]:
    job_id = broker.submit(load_job(EXAMPLES / "sweep_rabi.yaml"), "alice")
    with broker.db.write() as conn:
        task_id = min(conn.execute(select(tasks.c.id).where(tasks.c.job_id == job_id)).scalars())
        assert transitions.release(conn, [task_id]) == {task_id}
    return job_id, task_id


def _row(broker: Broker, task_id: str) -> Any:
    with broker.db.read() as conn:
        return conn.execute(select(tasks).where(tasks.c.id == task_id)).one()


def _job(broker: Broker, job_id: str) -> Any:
    with broker.db.read() as conn:
        return conn.execute(select(jobs).where(jobs.c.id == job_id)).one()


def _charges(broker: Broker, task_id: str) -> int:
    with broker.db.read() as conn:
        rows = conn.execute(
            select(ledger.c.id).where(ledger.c.task_id == task_id, ledger.c.kind == "charge")
        )
        return len(rows.all())


def test_a_task_runs_is_recorded_charged_and_a_duplicate_message_does_nothing(
    broker: Broker, faulty: Faulty
) -> None:
    job_id, task_id = _queued(broker)
    executor = Executor(broker, "w1")
    executor.execute(task_id)
    executor.execute(task_id)  # the same message delivered twice
    row = _row(broker, task_id)
    assert (row.state, row.attempts, row.worker_id) == (TaskState.COMPLETED, 1, "w1")
    assert row.native_id == faulty.submitted[0] and len(faulty.submitted) == 1
    assert row.result["circuit_evaluations"] > 0
    assert _charges(broker, task_id) == 1
    assert _job(broker, job_id).state == TaskState.RUNNING


def test_a_transient_error_is_retried_then_fails_the_task_and_its_job(
    broker: Broker, faulty: Faulty
) -> None:
    def busy() -> None:
        raise BackendError("the queue is full", transient=True)

    faulty.on_submit = busy
    job_id, task_id = _queued(broker)
    executor = Executor(broker, "w1")
    for attempt in range(1, MAX_TRANSIENT_RETRIES):
        executor.execute(task_id)
        row = _row(broker, task_id)
        assert (row.state, row.worker_id, row.attempts) == (TaskState.QUEUED, None, attempt)
        assert row.message == "the queue is full"
    executor.execute(task_id)
    assert _row(broker, task_id).state == TaskState.FAILED
    faulty.on_submit = None
    _run_the_rest(broker, executor, job_id)
    job = _job(broker, job_id)
    assert job.state == TaskState.FAILED and "the queue is full" in job.message
    assert _charges(broker, task_id) == 0


def test_a_permanent_error_fails_the_task_at_once_and_releases_the_jobs_holds(
    broker: Broker, faulty: Faulty
) -> None:
    def refused() -> None:
        raise BackendError("circuit too deep for this device")

    faulty.on_submit = refused
    job_id, task_id = _queued(broker)
    executor = Executor(broker, "w1")
    executor.execute(task_id)
    row = _row(broker, task_id)
    assert (row.state, row.attempts) == (TaskState.FAILED, 1)
    assert _job(broker, job_id).state == TaskState.RUNNING  # its step's other tasks run on
    _run_the_rest(broker, executor, job_id)
    job = _job(broker, job_id)
    assert job.state == TaskState.FAILED and "circuit too deep" in job.message
    with broker.db.read() as conn:
        kinds = conn.execute(select(ledger.c.kind).where(ledger.c.job_id == job_id)).scalars()
        assert "release" in set(kinds)


def test_an_unexpected_error_hands_the_task_back_for_another_worker(
    broker: Broker, faulty: Faulty
) -> None:
    def crash() -> None:
        raise RuntimeError("the transport went away")

    faulty.on_submit = crash
    _, task_id = _queued(broker)
    Executor(broker, "w1").execute(task_id)
    row = _row(broker, task_id)
    assert (row.state, row.worker_id) == (TaskState.QUEUED, None)
    faulty.on_submit = None
    Executor(broker, "w2").execute(task_id)
    row = _row(broker, task_id)
    assert (row.state, row.worker_id, row.attempts) == (TaskState.COMPLETED, "w2", 2)


def test_a_job_cancelled_while_its_task_runs_has_the_task_cancelled_at_the_backend(
    broker: Broker, faulty: Faulty
) -> None:
    faulty.running = True
    job_id, task_id = _queued(broker)
    original = faulty.status

    def status(native_id: str) -> BackendStatus:
        if not faulty.cancelled and _row(broker, task_id).state == TaskState.RUNNING:
            broker.cancel(job_id, "alice")  # the user cancels while the worker follows it
        return original(native_id)

    faulty.status = status  # type: ignore[method-assign]
    Executor(broker, "w1").execute(task_id)
    assert faulty.cancelled == faulty.submitted
    assert _row(broker, task_id).state == TaskState.CANCELLED
    assert _job(broker, job_id).state == TaskState.CANCELLED


def test_a_redelivered_task_reattaches_to_its_native_job_and_resubmits_a_lost_one(
    broker: Broker, faulty: Faulty
) -> None:
    faulty.reattach = True
    _, task_id = _queued(broker)
    native = faulty.aer.submit(_batch(broker, task_id), task_id=task_id)
    with broker.db.write() as conn:  # a worker submitted it, then died before recording
        transitions.claim(conn, task_id, "w-dead")
        transitions.note(conn, task_id, native_id=native)
        transitions.hand_back(conn, task_id)
    Executor(broker, "w2").execute(task_id)
    assert faulty.submitted == [] and _row(broker, task_id).native_id == native
    assert _row(broker, task_id).state == TaskState.COMPLETED

    _, second = _queued(broker)
    with broker.db.write() as conn:
        transitions.claim(conn, second, "w-dead")
        transitions.note(conn, second, native_id="gone-1")
        transitions.hand_back(conn, second)
    faulty.lost.add("gone-1")
    Executor(broker, "w2").execute(second)
    row = _row(broker, second)
    assert row.state == TaskState.COMPLETED and row.native_id == faulty.submitted[-1]


def test_a_task_taken_back_while_its_worker_ran_it_is_recorded_and_charged_once(
    broker: Broker, faulty: Faulty
) -> None:
    _, task_id = _queued(broker)

    def taken_back() -> None:  # the scheduler judged this worker dead meanwhile
        with broker.db.write() as conn:
            transitions.hand_back(conn, task_id)
            assert transitions.claim(conn, task_id, "w2") is not None

    faulty.on_submit = taken_back
    Executor(broker, "w1").execute(task_id)
    faulty.on_submit = None
    assert _row(broker, task_id).state == TaskState.COMPLETED  # w1 recorded what it ran
    Executor(broker, "w2").execute(task_id)  # w2's message: nothing left to run
    assert _row(broker, task_id).state == TaskState.COMPLETED
    assert len(faulty.submitted) == 1 and _charges(broker, task_id) == 1


def _run_the_rest(broker: Broker, executor: Executor, job_id: str) -> None:
    """Release and run the other tasks of the job's step."""
    with broker.db.write() as conn:
        rest = conn.execute(
            select(tasks.c.id).where(tasks.c.job_id == job_id, tasks.c.state == TaskState.PENDING)
        ).scalars()
        released = transitions.release(conn, list(rest))
    for task_id in sorted(released):
        executor.execute(task_id)


def _batch(broker: Broker, task_id: str) -> QuantumBatch:
    return QuantumBatch.model_validate(_row(broker, task_id).payload)

"""The scheduler in process, on SQLite: a dead worker's task is taken back and run again by
another worker, charged once; a release message that was lost is sent again; a worker that
is only slow keeps its task."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update

from backends.states import TaskState
from broker.config import Settings
from broker.core.execution import Executor
from broker.core.orchestrator import Broker
from broker.core.queries import job_result, job_status
from broker.core.scheduler import Scheduler
from broker.jobfile import load_job
from broker.store.db import utcnow
from broker.store.schema import ledger, tasks, workers
from tests.conftest import EXAMPLES


@pytest.fixture
def broker(settings: Settings) -> Broker:
    """A broker on this test's SQLite store, with short leases and re-dispatch."""
    return Broker(settings.model_copy(update={"lease_seconds": 60, "redispatch_seconds": 60}))


def _worker(broker: Broker, worker_id: str, seen_seconds_ago: float) -> None:
    with broker.db.write() as conn:
        conn.execute(
            insert(workers).values(
                id=worker_id,
                hostname="test",
                pid=1,
                started_at=utcnow() - timedelta(seconds=seen_seconds_ago),
                last_seen=utcnow() - timedelta(seconds=seen_seconds_ago),
            )
        )


def _claimed_by(broker: Broker, task_id: str, worker_id: str) -> None:
    """``worker_id`` claimed the task and started it (as ``Executor._claim`` does)."""
    with broker.db.write() as conn:
        conn.execute(
            update(tasks)
            .where(tasks.c.id == task_id)
            .values(state=TaskState.RUNNING, worker_id=worker_id, started_at=utcnow())
        )


def _task(broker: Broker, task_id: str) -> tuple[str, str | None]:
    with broker.db.read() as conn:
        row = conn.execute(select(tasks.c.state, tasks.c.worker_id).where(tasks.c.id == task_id))
        state, worker = row.one()
    return state, worker


def _released(broker: Broker) -> tuple[Scheduler, list[str], str]:
    """A sweep submitted and its first tasks released; the scheduler, its sent ids, the job."""
    sent: list[str] = []
    scheduler = Scheduler(broker, lambda task_id, _queue: sent.append(task_id))
    job_id = broker.submit(load_job(EXAMPLES / "sweep_rabi.yaml"), "alice")
    assert scheduler.tick() > 0
    return scheduler, sent, job_id


def _claimed_then_ticked(
    broker: Broker, worker_id: str, seen_seconds_ago: float
) -> tuple[Scheduler, list[str], str, str]:
    """The first released task claimed by ``worker_id`` (last seen that long ago), then one
    more tick; the scheduler, what that tick sent, the job, the task."""
    scheduler, sent, job_id = _released(broker)
    task_id = sent[0]
    _worker(broker, worker_id, seen_seconds_ago)
    _claimed_by(broker, task_id, worker_id)
    sent.clear()
    scheduler.tick()
    return scheduler, sent, job_id, task_id


def test_a_dead_workers_task_is_taken_back_and_run_by_another_charged_once(
    broker: Broker,
) -> None:
    scheduler, sent, job_id, lost = _claimed_then_ticked(broker, "w-dead", seen_seconds_ago=600)
    assert lost in sent
    assert _task(broker, lost) == (TaskState.QUEUED, None)
    with broker.db.read() as conn:
        assert conn.execute(select(workers.c.id)).scalars().all() == []
    executor = Executor(broker, "w-alive", release=scheduler.release)
    for _ in range(100):
        if job_status(broker.db, job_id).state.final:
            break
        while sent:
            executor.execute(sent.pop(0))
        scheduler.tick()
    assert job_status(broker.db, job_id).state == TaskState.COMPLETED
    charged = [c.task_id for c in job_result(broker.db, job_id).charges if c.kind == "charge"]
    assert sorted(charged) == sorted(set(charged)) and lost in charged
    with broker.db.read() as conn:
        lines = conn.execute(
            select(ledger.c.kind).where(ledger.c.task_id == lost, ledger.c.kind == "charge")
        ).all()
    assert len(lines) == 1


def test_a_slow_worker_keeps_its_task(broker: Broker) -> None:
    _, sent, _, busy = _claimed_then_ticked(broker, "w-slow", seen_seconds_ago=1)
    assert busy not in sent
    assert _task(broker, busy) == (TaskState.RUNNING, "w-slow")


def test_a_lost_release_message_is_sent_again_after_redispatch_seconds(
    broker: Broker,
) -> None:
    scheduler, sent, _ = _released(broker)
    first = list(sent)
    sent.clear()
    scheduler.tick()
    assert not set(first) & set(sent)  # freshly sent: not again yet
    stale = first[0]
    with broker.db.write() as conn:
        conn.execute(
            update(tasks)
            .where(tasks.c.id == stale)
            .values(dispatched_at=utcnow() - timedelta(seconds=600))
        )
    sent.clear()
    scheduler.tick()
    assert stale in sent
    assert _task(broker, stale) == (TaskState.QUEUED, None)

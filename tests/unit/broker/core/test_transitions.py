"""The state module: its table, every named transition on a real store (SQLite), and that no
other module of the package changes a task's or a job's row."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Connection, select

from backends.states import TaskState
from broker.config import Settings
from broker.core import transitions
from broker.core.orchestrator import Broker
from broker.core.scheduler import Scheduler
from broker.core.transitions import JOB_MAY_FOLLOW, NAMED, TASK_MAY_FOLLOW, IllegalTransition
from broker.jobfile import load_job
from broker.store.db import utcnow
from broker.store.schema import jobs, tasks, workers
from tests.conftest import EXAMPLES

P, Q, R = TaskState.PENDING, TaskState.QUEUED, TaskState.RUNNING
C, F, X, T = TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELLED, TaskState.TIMEOUT
ROOT = Path(__file__).resolve().parents[4]


def test_final_states_are_followed_by_nothing_and_the_others_by_something() -> None:
    for table in (TASK_MAY_FOLLOW, JOB_MAY_FOLLOW):
        assert set(table) == set(TaskState)
        for state in TaskState.finals():
            assert table[state] == frozenset()
    assert all(TASK_MAY_FOLLOW[s] for s in (P, Q, R))


def test_every_edge_of_the_tables_is_a_named_transition_and_nothing_else_is() -> None:
    named_task = {
        (a, b)
        for n, (srcs, dsts) in NAMED.items()
        if not n.startswith("job.")
        for a in srcs
        for b in dsts
    }
    named_job = {
        (a, b)
        for n, (srcs, dsts) in NAMED.items()
        if n.startswith("job.")
        for a in srcs
        for b in dsts
    }
    table_task = {(a, b) for a, after in TASK_MAY_FOLLOW.items() for b in after}
    table_job = {(a, b) for a, after in JOB_MAY_FOLLOW.items() for b in after}
    assert named_task == table_task
    assert named_job == table_job


@pytest.mark.parametrize(
    ("before", "after", "job"),
    [(C, R, False), (F, Q, False), (P, R, False), (X, X, False), (P, Q, True), (C, F, True)],
)
def test_check_refuses_what_the_table_does_not_allow(
    before: TaskState, after: TaskState, job: bool
) -> None:
    with pytest.raises(IllegalTransition, match=f"in {before} cannot become {after}"):
        transitions.check(before, after, job=job)


def test_a_named_transition_refuses_a_state_it_does_not_lead_to(broker: Broker) -> None:
    job_id = broker.submit(load_job(EXAMPLES / "sweep_rabi.yaml"), "alice")
    with broker.db.write() as conn:
        task_id = conn.execute(select(tasks.c.id).where(tasks.c.job_id == job_id)).scalars().first()
        assert task_id is not None
        with pytest.raises(IllegalTransition, match="record does not lead to QUEUED"):
            transitions.record(conn, task_id, Q)
        with pytest.raises(IllegalTransition, match="named transition"):
            transitions.note(conn, task_id, state=C)


_WRITES = re.compile(r"update\(\s*(tasks|jobs)\b|\b(tasks|jobs)\.update\(")


def test_no_module_but_the_state_module_changes_task_or_job_rows() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for package in ("broker", "backends", "policies", "circuits")
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != ROOT / "broker" / "core" / "transitions.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if _WRITES.search(line)
    ]
    assert offenders == []
    assert _WRITES.search(
        (ROOT / "broker" / "core" / "transitions.py").read_text()
    )  # the grep bites


# --- every named transition, on SQLite ------------------------------------------------------


@pytest.fixture
def broker(settings: Settings) -> Broker:
    """A broker on this test's SQLite store."""
    return Broker(settings)


def _state(broker: Broker, task_id: str) -> tuple[TaskState, str | None]:
    with broker.db.read() as conn:
        state, worker = conn.execute(
            select(tasks.c.state, tasks.c.worker_id).where(tasks.c.id == task_id)
        ).one()
    return TaskState(state), worker


def _job_state(broker: Broker, job_id: str) -> TaskState:
    with broker.db.read() as conn:
        return TaskState(conn.execute(select(jobs.c.state).where(jobs.c.id == job_id)).scalar_one())


def _pending(broker: Broker) -> tuple[str, list[str]]:
    job_id = broker.submit(load_job(EXAMPLES / "sweep_rabi.yaml"), "alice")
    with broker.db.read() as conn:
        ids = conn.execute(select(tasks.c.id).where(tasks.c.job_id == job_id)).scalars().all()
    return job_id, sorted(ids)


def _running(broker: Broker) -> tuple[str, str]:
    job_id, ids = _pending(broker)
    with broker.db.write() as conn:
        assert transitions.release(conn, ids[:1]) == {ids[0]}
        assert transitions.claim(conn, ids[0], "w1") is not None
    return job_id, ids[0]


def test_release_moves_only_pending_tasks(broker: Broker) -> None:
    _, ids = _pending(broker)
    with broker.db.write() as conn:
        assert transitions.release(conn, ids[:2]) == set(ids[:2])
        assert transitions.release(conn, ids[:3]) == {ids[2]}  # the first two are queued
        assert transitions.release(conn, []) == set()
    assert [_state(broker, t)[0] for t in ids[:3]] == [Q, Q, Q]


def test_claim_runs_a_task_once_and_starts_its_job(broker: Broker) -> None:
    job_id, ids = _pending(broker)
    with broker.db.write() as conn:
        assert transitions.claim(conn, ids[0], "w1") is None  # still pending: nothing to claim
        transitions.release(conn, ids[:1])
        row = transitions.claim(conn, ids[0], "w1")
        assert transitions.claim(conn, ids[0], "w2") is None  # a duplicate message
        assert transitions.claim(conn, "t-none", "w2") is None
    assert row is not None and row.id == ids[0] and row.state == Q and row.attempts == 0
    assert _state(broker, ids[0]) == (R, "w1")
    assert _job_state(broker, job_id) == R


def test_a_task_cancelled_before_it_started_is_not_claimed_but_cancelled(broker: Broker) -> None:
    job_id, ids = _pending(broker)
    with broker.db.write() as conn:
        transitions.release(conn, ids[:1])
        transitions.cancel_job_tasks(conn, job_id)
        assert transitions.claim(conn, ids[0], "w1") is None
    assert _state(broker, ids[0])[0] == X
    assert {_state(broker, t)[0] for t in ids[1:]} == {X}  # pending: cancelled at once


def test_hand_back_retry_and_fail_move_only_a_running_task(broker: Broker) -> None:
    _, task_id = _running(broker)
    with broker.db.write() as conn:
        assert transitions.hand_back(conn, task_id)
        assert not transitions.hand_back(conn, task_id)  # queued now: nothing to hand back
        queued = conn.execute(select(tasks).where(tasks.c.id == task_id)).one()
        assert (queued.state, queued.worker_id) == (Q, None)
        assert transitions.claim(conn, task_id, "w2") is not None
        assert transitions.retry(conn, task_id, "busy")
        assert not transitions.fail(conn, task_id, "too late")
        assert transitions.claim(conn, task_id, "w3") is not None
        assert transitions.fail(conn, task_id, "refused")
        assert not transitions.retry(conn, task_id, "after the end")
        row = conn.execute(select(tasks).where(tasks.c.id == task_id)).one()
    assert (row.state, row.message, row.attempts) == (F, "refused", 3)
    assert row.finished_at is not None


@pytest.mark.parametrize("end", [C, F, X, T])
def test_record_ends_a_running_task_once(broker: Broker, end: TaskState) -> None:
    _, task_id = _running(broker)
    with broker.db.write() as conn:
        transitions.note(conn, task_id, native_id="n-1")
        assert transitions.record(conn, task_id, end, message="done")
        assert not transitions.record(conn, task_id, end, message="again")
        row = conn.execute(select(tasks).where(tasks.c.id == task_id)).one()
    assert (row.state, row.message, row.native_id) == (end, "done", "n-1")


def test_requeue_orphans_takes_back_only_the_tasks_of_workers_not_alive(broker: Broker) -> None:
    _, ids = _pending(broker)
    with broker.db.write() as conn:
        transitions.release(conn, ids[:2])
        transitions.claim(conn, ids[0], "dead")
        transitions.claim(conn, ids[1], "alive")
        live = select(workers.c.id).where(workers.c.id == "alive")
        conn.execute(workers.insert().values(id="alive", hostname="h", pid=1, **_now()))
        assert transitions.requeue_orphans(conn, live) == [(ids[0], _queue(conn, ids[0]))]
    assert _state(broker, ids[0]) == (Q, None)
    assert _state(broker, ids[1]) == (R, "alive")


def test_finish_job_ends_an_active_job_once(broker: Broker) -> None:
    job_id, _ = _pending(broker)
    with broker.db.write() as conn:
        assert transitions.finish_job(conn, job_id, F, "broken")
        assert not transitions.finish_job(conn, job_id, C, "later")
        assert not transitions.start_job(conn, job_id)
    assert _job_state(broker, job_id) == F


def test_the_scheduler_releases_and_resends_through_the_state_module(broker: Broker) -> None:
    sent: list[str] = []
    scheduler = Scheduler(broker, lambda task_id, _queue: sent.append(task_id))
    _, ids = _pending(broker)
    assert scheduler.tick() == len(sent) > 0
    assert {_state(broker, t)[0] for t in sent} == {Q}
    assert {_state(broker, t)[0] for t in set(ids) - set(sent)} <= {P}


def _queue(conn: Connection, task_id: str) -> str:
    return str(conn.execute(select(tasks.c.queue).where(tasks.c.id == task_id)).scalar_one())


def _now() -> dict[str, object]:
    return {"started_at": utcnow(), "last_seen": utcnow()}

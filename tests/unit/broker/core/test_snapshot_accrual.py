"""Fair-share usage accrues while a task runs (as Slurm adds a running job's usage every
period), each second decayed from when it was used; what ended tasks left stays in the
persisted state, and running tasks are added for one cycle only."""

from __future__ import annotations

import pytest

from broker.config import Settings
from broker.core import transitions
from broker.core.orchestrator import Broker
from broker.core.scheduler import Scheduler
from broker.core.snapshot import AllocationState, snapshot
from broker.store.ledger import epoch_of
from broker.store.schema import tasks
from policies.fairshare import accrued
from tests.unit.broker.core.test_dependencies import small

HOUR = 3600.0


def test_a_running_task_counts_what_it_used_so_far(settings: Settings) -> None:
    broker = Broker(settings)
    broker.submit(small(), "alice")
    sent: list[str] = []
    Scheduler(broker, lambda task_id, _queue: sent.append(task_id)).tick()
    (task_id,) = sent
    with broker.db.write() as conn:
        assert transitions.claim(conn, task_id, "worker-1") is not None
    with broker.db.read() as conn:
        started = epoch_of(
            conn.execute(tasks.select().where(tasks.c.id == task_id)).one().started_at
        )
        state = AllocationState()
        half_life = broker.policy.policy.fairshare.half_life
        later = started + 30 * HOUR
        snap = snapshot(conn, broker.policy.policy, state, broker.capacity, now=later)
    user = ("local", "alice")
    so_far = snap.usage.value("aer", *user, later)
    assert so_far == pytest.approx(accrued(30 * HOUR, 1.0, half_life), rel=1e-12)
    assert so_far < 30 * HOUR  # the first hours already decayed
    assert state.usage.value("aer", *user, later) == 0.0  # nothing persisted for it

"""The scheduler's read of the pending tasks as columns agrees with the store row by row:
which tasks may start, their job's fields, their creation times to the last bit, and which
are left out for a blocked proposal. On SQLite here; on PostgreSQL (where the database
makes the epoch seconds) in tests/integration/store/test_pending_read.py."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert

from backends.states import TaskState
from broker.core.pending_read import read_pending
from broker.store.db import Database
from broker.store.ledger import epoch_of
from broker.store.schema import job_dependencies, jobs, tasks

START = datetime(2026, 11, 30, 12, 0, 0, 123456)


def _fill(db: Database, rng: random.Random) -> list[dict[str, object]]:
    """60 jobs of 1 to 4 tasks in random states; what each pending task should read as."""
    expected = []
    with db.write() as conn:
        for j in range(60):
            job_id, state = f"j{j}", rng.choice(["PENDING", "PENDING", "RUNNING"])
            held, waits = rng.random() < 0.15, rng.random() < 0.15
            job: dict[str, object] = {
                "proposal": f"p{rng.randrange(4)}", "user": f"u{rng.randrange(3)}",
                "qos": rng.choice([None, "normal", "high"]), "step": rng.choice([0, 0, 2]),
            }  # fmt: skip
            conn.execute(insert(jobs).values(
                id=job_id, algorithm="graph", backend="aer", spec={}, spec_sha256="0" * 64,
                state=state, progress={}, message="", policy_revision="1",
                created_at=START, updated_at=START, held_by="pi" if held else None, **job,
            ))  # fmt: skip
            if waits:
                conn.execute(insert(job_dependencies).values(
                    job_id=job_id, after_job="j0", condition="afterok"))  # fmt: skip
            for k in range(rng.randrange(1, 5)):
                created = START + timedelta(microseconds=rng.randrange(10**12))
                task_state = rng.choice([TaskState.PENDING, TaskState.PENDING, TaskState.QUEUED])
                row = {"id": f"t{j}-{k}", "backend": rng.choice(["aer", "slurm"]),
                       "size": rng.choice([None, 1.0, 4.0])}  # fmt: skip
                conn.execute(insert(tasks).values(
                    job_id=job_id, step=0, key=f"k{k}", kind="quantum", queue=f"q.{row['backend']}",
                    state=task_state, payload={}, attempts=0, cancel_requested=False, message="",
                    created_at=created, **row,
                ))  # fmt: skip
                if task_state == TaskState.PENDING and not held and not waits:
                    expected.append({**row, **job, "created": epoch_of(created),
                                     "started": state != "PENDING"})  # fmt: skip
    return expected


@pytest.mark.parametrize("seed", range(3))
def test_the_columns_are_the_rows(
    store_url: str, open_db: Callable[[str], Database], seed: int
) -> None:
    rng = random.Random(seed)
    db = open_db(store_url)
    expected = {str(e["id"]): e for e in _fill(db, rng)}
    with db.read() as conn:
        read = read_pending(conn, None)
        scoped = read_pending(conn, ["slurm"])
    assert sorted(read.ids) == sorted(expected)
    assert sorted(scoped.ids) == sorted(k for k, e in expected.items() if e["backend"] == "slurm")
    blocked = {"p1": "stopped", "p2/high": "QOS limit"}
    pending, queues = read.columns(blocked)
    stopped = {("p1", None), ("p1", "normal"), ("p1", "high"), ("p2", "high")}
    kept = {
        k for k, e in expected.items() if e["started"] or (e["proposal"], e["qos"]) not in stopped
    }
    assert kept < set(expected)  # something was left out
    assert set(queues) == kept
    for i in range(len(pending)):
        row, want = pending.row(i), expected[pending.row(i).id]
        assert (row.backend, row.proposal, row.user, row.qos) == (
            want["backend"], want["proposal"], want["user"], want["qos"])  # fmt: skip
        assert row.created_at == want["created"]  # the same float, to the last bit
        assert row.size == (want["size"] if want["size"] is not None else 1.0)
        assert row.hybrid == (want["step"] > 0)  # type: ignore[operator]
        assert queues[row.id] == f"q.{row.backend}"

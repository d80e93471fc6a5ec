"""Tasks are released by the transaction that makes them ready, in the policy engine's
order, and sent only once that transaction has committed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from backends.states import TaskState
from broker.config import Settings
from broker.core.execution import Executor
from broker.core.models import JobSpec
from broker.core.orchestrator import Broker
from broker.core.queries import job_status
from broker.core.snapshot import AllocationState, snapshot
from broker.jobfile import load_job
from broker.store.db import Database
from broker.store.schema import tasks
from tests.conftest import EXAMPLES


def _small(maxiter: int = 2) -> JobSpec:
    spec = load_job(EXAMPLES / "vqe_h2.yaml")
    spec.algorithm.inputs["optimizer"] = {"name": "adam", "maxiter": maxiter}
    spec.algorithm.inputs["reference"] = False
    return spec


def _state(settings: Settings, task_id: str) -> TaskState:
    """The task's state as another connection sees it: what is committed."""
    db = Database(settings.store_url)
    with db.read() as conn:
        found = conn.execute(select(tasks.c.state).where(tasks.c.id == task_id)).scalar_one()
    db.dispose()
    return TaskState(found)


def test_an_admission_sends_its_first_task_once_it_is_committed(settings: Settings) -> None:
    broker = Broker(settings)
    sent: list[tuple[str, str, TaskState]] = []
    broker.dispatch.sender = lambda t, q: sent.append((t, q, _state(settings, t)))
    job_id = broker.submit(_small(), "alice")
    assert [(q, s) for _, q, s in sent] == [("quantum.aer", TaskState.QUEUED)]
    assert job_status(broker.db, job_id).tasks == {"QUEUED": 1}


def test_without_a_sender_an_admission_leaves_its_tasks_to_the_scheduler(
    settings: Settings,
) -> None:
    broker = Broker(settings)  # an embedded client: its runtime releases them
    job_id = broker.submit(_small(), "alice")
    assert job_status(broker.db, job_id).tasks == {"PENDING": 1}


def test_a_full_backend_waits_and_a_recorded_task_releases_the_next(settings: Settings) -> None:
    broker = Broker(settings)  # aer runs one task at a time (its max_concurrency)
    sent: list[str] = []
    broker.dispatch.sender = lambda t, _q: sent.append(t)
    first = broker.submit(_small(), "alice")
    second = broker.submit(_small(), "bob")
    assert len(sent) == 1  # the second job's task waits: aer is busy
    assert job_status(broker.db, second).tasks == {"PENDING": 1}

    Executor(broker, "worker").execute(sent[0])

    # One transaction recorded the task, advanced the first job to its next step and
    # released one of the two tasks now waiting for aer's one slot.
    assert len(sent) == 2
    waiting = [job_status(broker.db, j).tasks for j in (first, second)]
    queued = sum(w.get("QUEUED", 0) for w in waiting)
    pending = sum(w.get("PENDING", 0) for w in waiting)
    assert (queued, pending) == (1, 1)
    assert _state(settings, sent[1]) == TaskState.QUEUED


def test_a_release_of_one_backend_picks_what_a_release_of_all_would(
    settings: Settings,
) -> None:
    broker = Broker(settings)
    for user in ("alice", "bob", "carol", "alice"):  # pending, no sender
        broker.submit(_small(), user)
    engine = broker.dispatch.engine()
    with broker.db.read() as conn:
        whole = snapshot(conn, engine.policy, broker.dispatch.allocation, broker.capacity)
        expected = engine.cycle(
            whole.pending,
            whole.free,
            broker.dispatch.allocation.usage,
            time.time(),
            penalties=whole.penalties,
        )
    with broker.db.write(exclusive=False) as conn:
        released = broker.dispatch.release_in(conn, engine, {"aer"})
    assert [t for t, _ in released] == [r.task_id for r in expected]
    assert len(released) == broker.capacity("aer") == 1


def test_a_crash_point_kills_its_process_only_when_named(tmp_path: Path) -> None:
    code = "from broker.faults import crash_point; crash_point('admission.after-commit')"
    quiet = subprocess.run([sys.executable, "-c", code], check=False)
    assert quiet.returncode == 0
    env = {"QCB_CRASH_AT": "admission.after-commit", "PATH": "/usr/bin:/bin"}
    killed = subprocess.run([sys.executable, "-c", code], env=env, check=False, cwd=tmp_path)
    assert killed.returncode == -9


def test_a_quantum_backend_is_sized_in_qubits_and_its_tasks_in_their_widest_circuit(
    settings: Settings,
) -> None:
    """The size factor on aer: its qubits against the VQE's 2-qubit batch (Slurm's
    ``(N - n) / N`` favouring small), not against the largest waiting task."""
    broker = Broker(settings)
    qubits = broker.backend("aer").capabilities().max_qubits
    assert qubits is not None and qubits > 2
    assert broker.dispatch.backend_size("aer") == float(qubits)
    job_id = broker.submit(_small(), "alice")
    with broker.db.read() as conn:
        size = conn.execute(select(tasks.c.size).where(tasks.c.job_id == job_id)).scalar_one()
        snap = snapshot(conn, broker.policy.policy, AllocationState(), broker.capacity)
    assert size == 2.0
    scored = broker.dispatch.engine().score(snap.pending, snap.usage, time.time())
    assert scored.size.tolist() == [(qubits - 2) / qubits]

"""Releasing pending tasks to their Celery queues, in the transaction that made them ready.

A task becomes ready when a job is admitted (its first step), when a worker records the
last task of a step (the next step) and when a task ends (its backend has a free slot
again). Each of these transactions ends by releasing what capacity allows on the backends
it touched (:meth:`Dispatcher.release_in`); right after its commit the caller sends the
released tasks (:meth:`Dispatcher.send`). The scheduler's tick does the same for every
backend, as a safety net.

Order is still the policy engine's alone: ``release_in`` runs
:meth:`policies.engine.Engine.cycle` on the pending tasks of the touched backends. The
engine's choice for one backend depends only on that backend's pending tasks, capacity and
usage, so a cycle scoped to some backends chooses for them what a cycle over all would.
Releases of one backend take turns (an advisory lock per backend, taken after any job or
proposal lock and in name order, so no two transactions wait for each other); releases of
different backends, and every other write, do not wait for them.

The outbox is the ``QUEUED`` state itself: a released task is committed as ``QUEUED`` with
its ``dispatched_at`` before anything is sent. If the process dies between the commit and
the send, the task is still ``QUEUED`` and unclaimed, and the scheduler re-sends it after
``redispatch_seconds``; a claim is a compare-and-set, so a task sent twice runs once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

from sqlalchemy import Connection, select

from backends.errors import BackendError
from backends.states import TaskState
from broker.core import transitions
from broker.core.snapshot import AllocationState, busy_counts, snapshot
from broker.errors import BrokerError
from broker.store.db import advisory_lock
from broker.store.schema import tasks
from policies.engine import Engine

if TYPE_CHECKING:
    from broker.core.orchestrator import Broker

log = logging.getLogger(__name__)

Send = Callable[[str, str], None]
"""``send(task_id, queue)`` publishes a task's id on its Celery queue."""

Released = list[tuple[str, str]]
"""``(task id, queue)`` of each task released, in the engine's order."""


def pending_backends(conn: Connection) -> set[str]:
    """The backends with pending tasks."""
    query = select(tasks.c.backend).where(tasks.c.state == TaskState.PENDING).distinct()
    return set(conn.execute(query).scalars())


class Dispatcher:
    """One process's releases: the policy engine for the revision in force, the usage it
    reads incrementally, and the sender to the transport (None: release nothing here, and
    leave pending tasks to a process that can send)."""

    def __init__(self, broker: Broker, send: Send | None = None) -> None:
        self.broker = broker
        self.sender = send
        self.allocation = AllocationState()
        self._engine: Engine | None = None
        self._lock = threading.Lock()  # the allocation state is read by one thread at a time
        self._sizes: dict[str, float | None] = {}

    def backend_size(self, name: str) -> float | None:
        """The whole backend in task-size units as it reports it (a Slurm backend: its
        default partition's nodes), read once; None when it cannot say."""
        if name not in self._sizes:
            try:
                self._sizes[name] = self.broker.backend(name).capabilities().size
            except (BackendError, BrokerError):
                self._sizes[name] = None
        return self._sizes[name]

    def engine(self) -> Engine:
        """The policy engine for the revision in force (rebuilt when it changes).

        Call it before opening the transaction that releases: reading the policy in force
        may record a changed policy file, in a write transaction of its own."""
        loaded = self.broker.policy
        if self._engine is None or self._engine.revision != loaded.revision:
            self._engine = Engine(loaded.policy, loaded.revision, self.backend_size)
        return self._engine

    def release_ready(
        self, conn: Connection, engine: Engine, backends: Collection[str]
    ) -> Released:
        """:meth:`release_in` where this process sends (it has a sender); elsewhere
        nothing, and the tasks wait for the scheduler's tick (an embedded client nudges
        its runtime)."""
        if self.sender is None:
            return []
        return self.release_in(conn, engine, backends)

    def release_in(
        self, conn: Connection, engine: Engine, backends: Collection[str] | None = None
    ) -> Released:
        """Release, in the caller's transaction, the pending tasks of ``backends`` (None:
        every backend with pending tasks) that the engine picks for their free slots."""
        wanted = sorted(pending_backends(conn) if backends is None else set(backends))
        for backend in wanted:
            advisory_lock(conn, f"qcb.backend.{backend}")
        # A full backend releases nothing: no need to read its queue (which may be long).
        busy = busy_counts(conn, wanted)
        wanted = [b for b in wanted if busy.get(b, 0) < self.broker.capacity(b)]
        if not wanted:
            return []
        with self._lock:
            now = time.time()
            snap = snapshot(
                conn,
                engine.policy,
                self.allocation,
                self.broker.capacity,
                now=now,
                backends=wanted,
                busy=busy,
            )
            if not snap.queues:
                return []
            releases = engine.cycle(
                snap.pending, snap.free, snap.usage, now, penalties=snap.penalties
            )
        released = [(r.task_id, snap.queues[r.task_id]) for r in releases]
        if not released:
            return []
        # Only tasks still pending: a job cancelled since the snapshot keeps its tasks
        # cancelled.
        still = transitions.release(conn, [t for t, _ in released])
        return [(t, q) for t, q in released if t in still]

    def send(self, released: Released) -> None:
        """Publish released tasks (after their transaction committed). A send that fails
        leaves its task ``QUEUED``: the scheduler re-sends it."""
        if self.sender is None:
            return
        for task_id, queue in released:
            try:
                self.sender(task_id, queue)
            except Exception:
                log.warning("could not send task %s now; the scheduler will", task_id)

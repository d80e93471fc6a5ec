"""The scheduler: the only thing that decides which task runs when.

Each ``tick`` it (1) hands back the tasks of workers that stopped heart-beating, (2) re-sends
released tasks that nobody claimed, (3) releases pending tasks to their Celery queues as each
backend has capacity, in the order the policy engine gives (:mod:`policies.engine`:
multifactor priority with Fair Tree fair share; nothing else decides order), (4) advances
jobs whose step is complete but whose worker died before advancing them, and (5) scales the
pilot jobs of hosted backends (``slurm-pilot``) with their queues.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import delete, exists, select

from backends import registry
from backends.base import ClassicalBackend
from backends.errors import BackendError
from backends.states import TaskState
from broker.core import transitions
from broker.core.orchestrator import Broker
from broker.core.queries import active_jobs
from broker.core.snapshot import AllocationState
from broker.processes.pilot_manager import PilotManager
from broker.store.db import utcnow
from broker.store.schema import jobs, tasks, workers
from policies.engine import Engine

log = logging.getLogger(__name__)

Send = Callable[[str, str], None]


class Scheduler:
    """Releases tasks from the store to the transport. ``send(task_id, queue)`` publishes."""

    def __init__(self, broker: Broker, send: Send) -> None:
        self.broker = broker
        self.send = send
        self._pilots: dict[str, PilotManager] | None = None

    @property
    def allocation(self) -> AllocationState:
        """The usage the policy engine reads (the broker's dispatcher's)."""
        return self.broker.dispatch.allocation

    def pilot_managers(self) -> dict[str, PilotManager]:
        """One manager per hosted backend (pilot jobs) that loads here."""
        if self._pilots is None:
            self._pilots = {
                name: PilotManager(self.broker, name)
                for name, cls in registry.loadable("classical").items()
                if issubclass(cls, ClassicalBackend) and cls.hosted
            }
        return self._pilots

    def _scale_pilots(self) -> None:
        for name, manager in self.pilot_managers().items():
            try:
                manager.tick()
            except BackendError as exc:
                log.warning("cannot scale the pilots of %s: %s", name, exc)

    def shutdown(self) -> None:
        """Cancel the pilot jobs this broker started (when it stops)."""
        for name, manager in self.pilot_managers().items():
            try:
                manager.shutdown()
            except BackendError as exc:
                log.warning("cannot cancel the pilots of %s: %s", name, exc)

    def capacity(self, backend: str) -> int:
        """How many tasks a backend takes at once (from its capabilities)."""
        return self.broker.capacity(backend)

    def tick(self) -> int:
        """One round of scheduling; returns how many tasks it sent."""
        try:
            to_send = self._recover() + self._redispatch() + self._release()
            for task_id, queue in to_send:
                self.send(task_id, queue)
            self._advance_stuck()
        finally:  # the pilots follow their queues whatever happened above
            self._scale_pilots()
        return len(to_send)

    def release(self) -> int:
        """Release what capacity allows now (workers call this right after a step advances,
        so the next step's tasks need not wait for the scheduler's next tick)."""
        to_send = self._release()
        for task_id, queue in to_send:
            self.send(task_id, queue)
        return len(to_send)

    def _recover(self) -> list[tuple[str, str]]:
        settings = self.broker.settings
        cutoff = utcnow() - timedelta(seconds=settings.lease_seconds)
        with self.broker.db.write() as conn:
            dead = conn.execute(select(workers.c.id).where(workers.c.last_seen < cutoff)).scalars()
            dead_ids = list(dead)
            # One statement (workers write without the global write turn)
            live = select(workers.c.id).where(workers.c.last_seen >= cutoff)
            orphaned = transitions.requeue_orphans(conn, live)
            if orphaned:
                log.warning("re-queued %d task(s) of dead worker(s)", len(orphaned))
            if dead_ids:
                conn.execute(delete(workers).where(workers.c.id.in_(dead_ids)))
        return orphaned

    def _redispatch(self) -> list[tuple[str, str]]:
        cutoff = utcnow() - timedelta(seconds=self.broker.settings.redispatch_seconds)
        with self.broker.db.write() as conn:
            stale = conn.execute(
                select(tasks.c.id, tasks.c.queue).where(
                    tasks.c.state == TaskState.QUEUED,
                    tasks.c.worker_id.is_(None),
                    tasks.c.dispatched_at < cutoff,
                )
            ).all()
            transitions.resend(conn, [t.id for t in stale])
        return [(t.id, t.queue) for t in stale]

    def engine(self) -> Engine:
        """The policy engine for the revision in force (rebuilt when it changes)."""
        return self.broker.dispatch.engine()

    def _release(self) -> list[tuple[str, str]]:
        """Every backend's release (see :mod:`broker.core.dispatch`)."""
        engine = self.engine()
        with self.broker.db.write(exclusive=False) as conn:
            return self.broker.dispatch.release_in(conn, engine)

    def _advance_stuck(self) -> None:
        with self.broker.db.read() as conn:
            at_step = (tasks.c.job_id == jobs.c.id) & (tasks.c.step == jobs.c.step)
            unfinished = tasks.c.state.not_in(list(TaskState.finals()))
            stuck = (
                conn.execute(
                    select(jobs.c.id).where(
                        jobs.c.state.not_in(list(TaskState.finals())),
                        exists().where(at_step),
                        ~exists().where(at_step & unfinished),
                    )
                )
                .scalars()
                .all()
            )
        for job_id in stuck:  # each alone: one job never stops the others
            try:
                self.broker.advance(job_id)
            except Exception:
                log.exception("could not advance job %s now; the next tick tries again", job_id)

    def active_jobs(self) -> int:
        """Jobs not yet final."""
        return active_jobs(self.broker.db)

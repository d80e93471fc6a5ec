"""What a worker does with one task id: claim, submit or re-attach, poll, record, charge.

Its writes need no turn at the store's global write lock (``write(exclusive=False)``): each
is a compare-and-set on the task's state, and charges are unique per task in the ledger.

The native id is written to the store right after ``submit`` returns and before the Celery
message is acknowledged (tasks are acked late), so a redelivered message re-attaches to the
same backend job instead of submitting it again. A task is claimed with a compare-and-set on
its state, so duplicate messages run it once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from backends.base import (
    Backend,
    BackendStatus,
    ClassicalBackend,
    ClassicalResult,
    ClassicalSpec,
    QuantumBackend,
    QuantumBatch,
    QuantumResult,
)
from backends.errors import BackendError, BackendNotFound, NativeJobLost
from backends.states import TaskState
from broker.accounts import Accounts, controlled_domain
from broker.core import transitions
from broker.core.orchestrator import Broker
from broker.core.provenance import package_versions
from broker.core.transitions import TaskRow
from broker.doorbell import JOBS_DOORBELL, ring
from broker.drivers import service as driver
from broker.errors import BrokerError
from broker.store import ledger
from broker.store.db import advisory_lock
from broker.store.schema import jobs, tasks
from policies.charging import charges, occupied
from policies.schema import Policy

if TYPE_CHECKING:
    from broker.drivers.endpoint import DriverEndpoint

log = logging.getLogger(__name__)

MAX_TRANSIENT_RETRIES = 3


class Executor:
    """Runs tasks for one worker process; keeps one instance of each backend it uses."""

    def __init__(
        self, broker: Broker, worker_id: str, release: Callable[[], object] | None = None
    ) -> None:
        self.broker = broker
        self.worker_id = worker_id
        self.release = release
        self._endpoint: DriverEndpoint | None = None
        self._accounts: Accounts | None = None
        self._endpoint_lock = threading.Lock()

    def backend(self, name: str, kind: str) -> QuantumBackend | ClassicalBackend:
        """The process's instance of a backend (the broker's), checked to be of ``kind``."""
        backend = self.broker.backend(name)
        wanted = QuantumBackend if kind == "quantum" else ClassicalBackend
        if not isinstance(backend, wanted):
            raise BackendNotFound(f"backend {name!r} is not a {kind} backend")
        return backend

    def _claim(self, task_id: str) -> TaskRow | None:
        with self.broker.db.write(exclusive=False) as conn:
            return transitions.claim(conn, task_id, self.worker_id)

    def _note(self, task_id: str, **values: Any) -> None:
        with self.broker.db.write(exclusive=False) as conn:
            transitions.note(conn, task_id, **values)

    def execute(self, task_id: str) -> None:
        """Run one task to a final state (or hand it back for a retry), then advance its job.

        An unexpected error (the store or the transport restarting under it) hands the task
        back instead of leaving it RUNNING under a live worker that no longer follows it: the
        scheduler re-sends it, and the next worker re-attaches to its native job.
        """
        row = self._claim(task_id)
        if row is None:
            return
        try:
            self._run(row)
        except Exception:
            log.exception("task %s: unexpected error; handing it back", task_id)
            self._hand_back(task_id)

    def _hand_back(self, task_id: str) -> None:
        for attempt in range(20):
            try:
                with self.broker.db.write(exclusive=False) as conn:
                    transitions.hand_back(conn, task_id)
                return
            except Exception:
                time.sleep(min(0.5 * (attempt + 1), 5.0))
        log.error("task %s: could not hand it back; its worker lease will", task_id)

    def _run(self, row: TaskRow) -> None:
        task_id = row.id
        try:
            backend = self.backend(row.backend, row.kind)
            spec: QuantumBatch | ClassicalSpec = (
                QuantumBatch.model_validate(row.payload)
                if row.kind == "quantum"
                else ClassicalSpec.model_validate(row.payload)
            )
            native_id = row.native_id
            status: BackendStatus | None = None
            if native_id is not None:
                try:
                    status = backend.status(native_id)
                except NativeJobLost:
                    native_id = None
            recorded: dict[str, Any] = {}
            if native_id is None:
                if isinstance(spec, ClassicalSpec):
                    spec = self._classical(row, spec)
                capabilities = backend.capabilities()
                native_id = _submit(backend, spec, task_id)
                recorded = {"native_id": native_id, "backend_version": capabilities.version}
                if capabilities.reattach:  # before the ack: a redelivery re-attaches to it
                    self._note(task_id, **recorded)
                    recorded = {}
                # else the id is worthless after a crash: it goes in with the result
            status = self._follow(task_id, backend, native_id)
        except BackendError as exc:
            self._backend_failed(row, exc)
            return
        result = None
        if status.state != TaskState.CANCELLED:
            result = backend.result(native_id)
        elif isinstance(backend, ClassicalBackend):
            result = _used_before_cancel(backend, native_id)
        if status.state in (TaskState.FAILED, TaskState.TIMEOUT):
            _leave_nothing_behind(backend, native_id)
        self._record(row, status, result, recorded)

    def _classical(self, row: TaskRow, spec: ClassicalSpec) -> ClassicalSpec:
        """The spec as its backend gets it: the Unix account it runs as and, for a driver,
        the way back to the broker, with its token as a secret (never in the store)."""
        update: dict[str, Any] = {"run_as": self.task_account(row.job_id)}
        if driver.is_driver(spec.env):
            env, secrets = driver.environment(
                self.broker, row, spec.time_limit_s, self.driver_url()
            )
            update.update(env={**spec.env, **env}, secret_env=secrets)
        return spec.model_copy(update=update)

    def task_account(self, job_id: str) -> str | None:
        """The Unix account that the classical tasks of ``job_id`` run as: its user's, for
        its proposal's security domain (controlled work never shares open work's account);
        None to run them as the broker itself (a broker run by an ordinary user)."""
        with self.broker.db.read() as conn:
            job = conn.execute(
                select(jobs.c.user, jobs.c.proposal).where(jobs.c.id == job_id)
            ).one()
        try:
            if self._accounts is None:
                self._accounts = Accounts(self.broker.settings.task_accounts)
            domain = controlled_domain(self.broker.policy.policy, job.proposal)
            return self._accounts.account(job.user, domain)
        except BrokerError as exc:
            raise BackendError(exc.message, hint=exc.hint) from None

    def driver_url(self) -> str:
        """Where driver programs reach the broker: the configured API, else an endpoint of
        this process (:mod:`broker.drivers.endpoint`), started on first use."""
        if self.broker.settings.driver_url:
            return self.broker.settings.driver_url
        with self._endpoint_lock:
            if self._endpoint is None:
                from broker.drivers.endpoint import DriverEndpoint

                self._endpoint = DriverEndpoint(self.broker, on_submit=self.release).start()
        return self._endpoint.url

    def _advance(self, job_id: str) -> None:
        """Advance the job of a task just recorded. The task is final whatever happens
        here: if the job cannot be advanced now (the store restarting), the scheduler's
        next tick does it, and this worker goes on serving other tasks."""
        try:
            advanced = self.broker.advance(job_id)
        except Exception:
            log.exception("job %s: could not advance it now; the scheduler will", job_id)
            return
        if advanced and self.release is not None:
            try:
                self.release()
            except Exception:  # the transport may be down: the scheduler re-sends later
                log.warning("could not release the next tasks now", exc_info=True)

    def _follow(self, task_id: str, backend: Backend, native_id: str) -> BackendStatus:
        cancelled = False
        period = max(self.broker.settings.poll_seconds, backend.capabilities().poll_seconds)
        while True:
            status = backend.status(native_id)
            if status.state.final:
                return status
            if not cancelled:
                with self.broker.db.read() as conn:
                    wanted = conn.execute(
                        select(tasks.c.cancel_requested).where(tasks.c.id == task_id)
                    ).scalar_one()
                if wanted:
                    backend.cancel(native_id)
                    cancelled = True
            time.sleep(period)

    def _backend_failed(self, row: TaskRow, exc: BackendError) -> None:
        if exc.transient and row.attempts + 1 < MAX_TRANSIENT_RETRIES:
            log.warning("task %s: transient backend error, will retry: %s", row.id, exc)
            with self.broker.db.write(exclusive=False) as conn:
                transitions.retry(conn, row.id, str(exc))
            return
        with self.broker.db.write(exclusive=False) as conn:
            transitions.fail(conn, row.id, str(exc))
        self._advance(row.job_id)

    def _record(
        self,
        row: TaskRow,
        status: BackendStatus,
        result: QuantumResult | ClassicalResult | None,
        recorded: dict[str, Any],
    ) -> None:
        """Record the task's end and charges, advance its job and release what is ready
        now (the next step; the next task of the freed backend), in one transaction; then
        send what was released. A job that cannot be advanced fails after the commit."""
        loaded = self.broker.policy
        revision = loaded.revision
        dispatch = self.broker.dispatch
        engine = dispatch.engine()
        with self.broker.db.write(exclusive=False) as conn:
            advisory_lock(conn, f"qcb.job.{row.job_id}")  # with advance and cancel of the job
            done = transitions.record(
                conn,
                row.id,
                status.state,
                message=status.message,
                result=result.model_dump(mode="json") if result is not None else None,
                run_seconds=_seconds(result),
                packages=package_versions(),
                **recorded,
            )
            if not done:
                return
            self._charge(conn, row, result, loaded.policy, revision)
            added: set[str] | None = None
            failure: Exception | None = None
            try:
                added, failure = self.broker.advance_in(conn, row.job_id, revision)
            except (DBAPIError, PoolTimeout):  # the task is final whatever happens here
                log.warning("job %s: cannot advance it now; the scheduler will", row.job_id)
            # The next step's backends, and the freed slot of this task's backend.
            released = dispatch.release_ready(conn, engine, (added or set()) | {row.backend})
        if failure is not None:
            self.broker.fail_unrunnable(row.job_id, failure, revision)
        dispatch.send(released)
        self._ring_waiters()

    def _ring_waiters(self) -> None:
        """Embedded: wake a ``Client.wait`` of this home (its job may have moved)."""
        settings = self.broker.settings
        if settings.broker_url.startswith("filesystem://"):
            ring(str(settings.run_dir), JOBS_DOORBELL)

    def _charge(
        self,
        conn: Connection,
        row: TaskRow,
        result: QuantumResult | ClassicalResult | None,
        policy: Policy,
        revision: str,
    ) -> None:
        """The ledger's charges and the fair share's occupancy of a recorded task."""
        job = conn.execute(
            select(jobs.c.proposal, jobs.c.user, jobs.c.qos).where(jobs.c.id == row.job_id)
        ).one()
        usage = charges(policy, row.backend, job.qos, raw_usage(result))
        for unit, amount in sorted(usage.items()):  # in order: see ledger.charge
            ledger.charge(
                conn,
                proposal=job.proposal,
                job_id=row.job_id,
                task_id=row.id,
                backend=row.backend,
                unit=unit,
                amount=amount,
                revision=revision,
            )
        seconds = _seconds(result)
        if seconds is not None:
            ledger.occupy(
                conn,
                task_id=row.id,
                backend=row.backend,
                proposal=job.proposal,
                user=job.user,
                seconds=occupied(row.kind, seconds, row.size or 1.0),
            )


def _submit(
    backend: QuantumBackend | ClassicalBackend, spec: QuantumBatch | ClassicalSpec, task_id: str
) -> str:
    if isinstance(backend, QuantumBackend) and isinstance(spec, QuantumBatch):
        return backend.submit(spec, task_id=task_id)
    if isinstance(backend, ClassicalBackend) and isinstance(spec, ClassicalSpec):
        return backend.submit(spec, task_id=task_id)
    raise BackendError(f"a {type(spec).__name__} cannot go to backend {backend.name!r}")


def _seconds(result: QuantumResult | ClassicalResult | None) -> float | None:
    if isinstance(result, QuantumResult):
        return result.run_seconds
    if isinstance(result, ClassicalResult):
        return result.elapsed_s
    return None


def raw_usage(result: QuantumResult | ClassicalResult | None) -> dict[str, float]:
    """What a finished task used, in the policy's units, before any factor."""
    if isinstance(result, QuantumResult):
        usage = {
            "evaluations": float(result.circuit_evaluations),
            "qpu_seconds": float(result.run_seconds),
        }
        if result.shots:
            usage["shots"] = float(result.shots_total)
        return usage
    if isinstance(result, ClassicalResult):
        return dict(result.usage)
    return {}


def _used_before_cancel(backend: ClassicalBackend, native_id: str) -> ClassicalResult | None:
    """What a cancelled classical task used (a cluster's accounting charges the node time
    of a cancelled job too, whoever cancelled it), or None where it cannot be read now."""
    try:
        return backend.result(native_id)
    except (BackendError, NativeJobLost):
        log.warning("the usage of cancelled task %s cannot be read", native_id)
        return None


def _leave_nothing_behind(backend: Backend, native_id: str) -> None:
    """Cancel what a failed task may have left at its backend (a Slurm job pending for ever,
    stray processes); cancel is idempotent, so this is harmless when nothing is left."""
    try:
        backend.cancel(native_id)
    except BackendError as exc:
        log.warning("could not clean up %s after failure: %s", native_id, exc)

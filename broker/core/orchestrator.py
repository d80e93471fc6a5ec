"""The broker's core: admit and decompose jobs, advance them step by step, cancel them.

Every change happens in one store transaction, so a crash at any point leaves the store in
a state that the scheduler and workers carry on from.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from backends import registry
from backends.base import Backend, ClassicalResult, QuantumResult
from backends.errors import BackendError
from backends.states import TaskState
from broker import algorithms, backend_config
from broker.accounting.policy_source import PolicySource
from broker.algorithms.base import StepOutcome, TaskResult, check_backend_kind
from broker.config import Settings
from broker.core import admission, dependencies, qpu_time, transitions
from broker.core.dispatch import Dispatcher
from broker.core.endings import cancel_job, end_job, fail_unrunnable, partial
from broker.core.idempotency import earlier_job, spec_sha256
from broker.core.models import JobSpec, TaskRequest
from broker.core.placement import backend_for, task_queue, task_size
from broker.core.resume import Checkpoint
from broker.errors import (
    BrokerError,
    InvalidJob,
    JobRefused,
)
from broker.faults import crash_point
from broker.joberrors import problems
from broker.store import ledger
from broker.store.audit import record_audit
from broker.store.db import Database, advisory_lock, insert_once, new_id, utcnow
from broker.store.schema import algorithm_states, jobs, tasks
from policies.admission import Need
from policies.loader import LoadedPolicy
from policies.schema import Policy

log = logging.getLogger(__name__)


class Broker:
    """Jobs in, tasks out: the operations that the SDK, the workers and the scheduler share."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings.store_url)
        self.policy_source = PolicySource(self.db, settings.policy_file)
        self._backends: dict[str, Backend] = {}
        self._capacity: dict[str, int] = {}
        self.dispatch = Dispatcher(self)
        """Releases tasks as they become ready; sends them once given a sender."""

    def backend_options(self, name: str) -> dict[str, Any]:
        """Options for a backend: the backends file's entry, with defaults for ``local``."""
        return backend_config.options(self.settings, name)

    def backend(self, name: str) -> Backend:
        """This process's instance of a backend, configured from the settings."""
        if name not in self._backends:
            cls = registry.load_class(name)
            # two threads may build one at once (the API warms them at start): keep the first
            return self._backends.setdefault(name, cls(**self.backend_options(name)))
        return self._backends[name]

    def capacity(self, name: str) -> int:
        """How many tasks of a backend run at once in the whole deployment: the backends
        file's ``capacity`` for it, else its capabilities' ``max_concurrency`` (1 if it
        cannot say). A local simulator runs one task per worker process; with several
        workers, ``capacity`` lets each of them run one."""
        if name not in self._capacity:
            configured = backend_config.capacity(self.settings, name)
            if configured is not None:
                self._capacity[name] = configured
                return configured
            try:
                self._capacity[name] = self.backend(name).capabilities().max_concurrency
            except BackendError:
                self._capacity[name] = 1
        return self._capacity[name]

    @property
    def policy(self) -> LoadedPolicy:
        """The policy revision in force (the newest in the store's history; see
        :mod:`broker.accounting.policy_source`)."""
        self.policy_source.policy_file = self.settings.policy_file
        return self.policy_source.current()

    # --- submission -----------------------------------------------------------------------

    def parse_inputs(
        self, spec: JobSpec, *, check: bool = True
    ) -> tuple[algorithms.Algorithm, BaseModel]:
        """The job's algorithm and its validated inputs (``InvalidJob`` with every path);
        ``check=False`` skips the algorithm's own checks, which admission ran."""
        algorithm = algorithms.get(spec.algorithm.name)
        try:
            inputs = algorithm.inputs_model.model_validate(spec.algorithm.inputs)
        except ValidationError as exc:
            found = problems(algorithm.inputs_model, exc.errors(), ("algorithm", "inputs"))
            raise InvalidJob("\n".join(map(str, found)), problems=found) from None
        if not check:
            return algorithm, inputs
        algorithm.check(inputs, spec)
        for field, kind in (("backend", "quantum"), ("classical_backend", "classical")):
            check_backend_kind(field, getattr(spec, field), kind)
        return algorithm, inputs

    def submit(
        self,
        spec: JobSpec,
        user: str,
        client_key: str | None = None,
        *,
        resume: Checkpoint | None = None,
    ) -> str:
        """Admit and decompose a job; return its id. Raises ``InvalidJob`` or ``JobRefused``.

        ``client_key`` makes a retried submission safe: a second submission of ``user`` with
        the same key returns the first one's job id and admits nothing. With ``resume``, the
        job starts at that checkpoint's step (``qcb retry``; :mod:`broker.core.resume`).
        """
        algorithm, inputs = self.parse_inputs(spec)
        loaded = self.policy
        needs = qpu_time.estimated(algorithm.needs(inputs, spec), loaded.policy, self.settings)
        job_id = new_id("j")
        start = self._start(algorithm, inputs, spec, resume)
        candidate = admission.Candidate(
            spec=spec,
            user=user,
            requests=start[2].tasks,
            policy=loaded.policy,
            backend=self.backend,
            limits=self.settings.limits,
            now=time.time(),
            needs=needs,
            declared_widths=algorithm.backend_widths(inputs, spec),
        )
        admission.run(admission.JOB_CHECKS, candidate)
        engine = self.dispatch.engine()
        try:
            # No deployment-wide turn: admissions of one proposal take turns (its budget),
            # and releases of one backend (see broker.core.dispatch).
            with self.db.write(exclusive=False) as conn:
                advisory_lock(conn, f"qcb.proposal.{spec.proposal}")
                if client_key is not None:
                    advisory_lock(conn, f"qcb.client-key.{user}.{client_key}")
                    earlier = earlier_job(conn, user, client_key, spec)
                    if earlier is not None:
                        return earlier
                candidate.conn = conn
                admission.run(admission.JOB_CHECKS, candidate, in_store=True)
                first = self._admit(conn, job_id, spec, user, loaded, needs, start, resume)
                if client_key is not None:
                    transitions.set_client_key(conn, job_id, client_key)
                released = self.dispatch.release_ready(conn, engine, first)
        except JobRefused as exc:
            with self.db.write(exclusive=False) as conn:
                record_audit(
                    conn, user, "refuse", job_id, reason=exc.message, revision=loaded.revision
                )
            raise
        crash_point("admission.after-commit")
        self.dispatch.send(released)
        return job_id

    @staticmethod
    def _start(
        algorithm: algorithms.Algorithm, inputs: BaseModel, spec: JobSpec, resume: Checkpoint | None
    ) -> tuple[int, int, StepOutcome]:
        """The new job's seed, first step and that step's outcome: the algorithm's start,
        or the checkpoint's step."""
        if resume is not None:
            return resume.seed, resume.step, resume.outcome
        seed = spec.seed if spec.seed is not None else secrets.randbelow(2**31)
        return seed, 0, algorithm.start(inputs, spec, seed)

    def _admit(
        self,
        conn: Connection,
        job_id: str,
        spec: JobSpec,
        user: str,
        loaded: LoadedPolicy,
        needs: list[Need],
        start: tuple[int, int, StepOutcome],
        resume: Checkpoint | None,
    ) -> set[str]:
        """Record an admitted job (``start``: its seed, first step and that step's
        outcome), its holds, its first tasks and its dependencies (in the admitting
        transaction, so that no other admission sees the budget without these holds); the
        backends of those tasks."""
        seed, step, outcome = start
        revision = loaded.revision
        proposal = loaded.policy.proposal(spec.proposal)
        qos = loaded.policy.qos_of(proposal, spec.qos) if proposal is not None else spec.qos
        now = utcnow()
        conn.execute(
            jobs.insert().values(
                id=job_id,
                name=spec.name,
                proposal=spec.proposal,
                user=user,
                algorithm=spec.algorithm.name,
                backend=spec.backend,
                spec=spec.model_dump(mode="json", by_alias=True),
                spec_sha256=spec_sha256(spec),
                state=TaskState.PENDING,
                step=0,
                progress={},
                message="",
                policy_revision=revision,
                qos=qos,
                seed=seed,
                created_at=now,
                updated_at=now,
            )
        )
        for need in needs:
            ledger.hold(
                conn,
                proposal=spec.proposal,
                job_id=job_id,
                backend=need.backend,
                unit=need.unit,
                amount=need.amount,
                revision=revision,
            )
        first = self._persist_step(conn, job_id, spec, step, outcome, revision)
        record_audit(conn, user, "submit", job_id, proposal=spec.proposal, revision=revision)
        if resume is not None:
            resume.copy_done(conn, job_id)
            record_audit(conn, user, "resume", job_id, checkpoint=resume.job_id)
        dependencies.record(conn, job_id, user, spec.dependency)
        return first or set()

    # --- stepping -------------------------------------------------------------------------

    def insert_tasks(
        self, conn: Connection, job_id: str, spec: JobSpec, step: int, requests: list[TaskRequest]
    ) -> None:
        """Record ``requests`` as PENDING tasks of ``step`` (in the caller's transaction)."""
        now = utcnow()
        for req in requests:
            backend = backend_for(spec, req)
            if req.classical is not None:
                req.classical.account = spec.proposal
            body = req.quantum if req.kind == "quantum" else req.classical
            assert body is not None, f"task {req.key} has no {req.kind} payload"
            conn.execute(
                tasks.insert().values(
                    id=new_id("t"),
                    job_id=job_id,
                    step=step,
                    key=req.key,
                    kind=req.kind,
                    backend=backend,
                    queue=task_queue(req.kind, backend, spec.proposal, self._known_policy),
                    state=TaskState.PENDING,
                    payload=body.model_dump(mode="json"),
                    size=task_size(req),
                    attempts=0,
                    cancel_requested=False,
                    message="",
                    created_at=now,
                )
            )

    def _known_policy(self) -> Policy:
        return self.policy_source.known().policy

    def _persist_step(
        self,
        conn: Connection,
        job_id: str,
        spec: JobSpec,
        step: int,
        outcome: StepOutcome,
        revision: str,
    ) -> set[str] | None:
        """Record a step's state, its tasks or the final result: the backends of the tasks
        it added (none when the job ended), or None if the step was recorded already."""
        if not insert_once(
            conn,
            algorithm_states,
            job_id=job_id,
            step=step,
            state=outcome.state,
            created_at=utcnow(),
        ):
            return None
        backends: set[str] = set()
        if outcome.result is not None:
            end_job(conn, job_id, TaskState.COMPLETED, "", revision, result=outcome.result)
        else:
            self.insert_tasks(conn, job_id, spec, step, outcome.tasks)
            backends = {backend_for(spec, req) for req in outcome.tasks}
        transitions.set_step(conn, job_id, step, outcome.progress)
        return backends

    def advance(self, job_id: str) -> bool:
        """Take the job one step further if its current step's tasks are all final, and
        release the next step's tasks that capacity allows (sent after the commit).

        Safe to call any number of times from any process: a step is recorded once.
        Returns True when it did something. A job that cannot be advanced (its stored spec,
        inputs or state unusable, its algorithm failing) fails alone, with the reason, and
        its holds are released; only the store or the policy in force being unusable (for
        every job alike) raises.
        """
        # Read the revision before the transaction (reading it may record a changed policy
        # file, in a transaction of its own), and outside the job's own failures: a policy
        # that cannot be read now is no fault of this job.
        revision = self.policy.revision
        engine = self.dispatch.engine()
        with self.db.write(exclusive=False) as conn:
            advisory_lock(conn, f"qcb.job.{job_id}")  # one advance or cancel of a job at a time
            added, failure = self.advance_in(conn, job_id, revision)
            released = self.dispatch.release_ready(conn, engine, added) if added else []
        if failure is not None:
            return self.fail_unrunnable(job_id, failure, revision)
        self.dispatch.send(released)
        return added is not None

    def advance_in(
        self, conn: Connection, job_id: str, revision: str
    ) -> tuple[set[str] | None, Exception | None]:
        """:meth:`advance`'s step in the caller's transaction, which holds the job's lock:
        (None if it did nothing, else the backends of the tasks it added; the job's own
        failure if it cannot be advanced). The
        step runs in a savepoint, so a failure undoes the step alone; the caller then
        fails the job (:meth:`fail_unrunnable`) after its commit."""
        try:
            with conn.begin_nested():
                return self._step(conn, job_id, revision), None
        except (DataError, IntegrityError) as exc:  # this job's own data the store refuses
            log.exception("job %s cannot be advanced; it fails", job_id)
            return None, exc
        except (DBAPIError, PoolTimeout):  # the store: transient, advanced again later
            raise
        except Exception as exc:
            log.exception("job %s cannot be advanced; it fails", job_id)
            return None, exc

    def fail_unrunnable(self, job_id: str, exc: Exception, revision: str) -> bool:
        """Fail a job whose step could not be computed, in a transaction of its own (the
        one that raised is rolled back), releasing its holds as any other end does."""
        return fail_unrunnable(self.db, job_id, exc, revision)

    def _step(self, conn: Connection, job_id: str, revision: str) -> set[str] | None:
        """One step of the job, in the caller's transaction (see :meth:`advance`)."""
        job = conn.execute(select(jobs).where(jobs.c.id == job_id)).one_or_none()
        if job is None or TaskState(job.state).final:
            return None
        rows = conn.execute(
            select(tasks).where(tasks.c.job_id == job_id, tasks.c.step == job.step)
        ).all()
        if not rows or any(not TaskState(r.state).final for r in rows):
            return None
        bad = [r for r in rows if r.state != TaskState.COMPLETED]
        if bad:
            r = bad[0]
            message = f"task {r.key!r} ({r.id}) on {r.backend} ended {r.state}: {r.message}"
            end = TaskState.CANCELLED if r.state == TaskState.CANCELLED else TaskState.FAILED
            end_job(conn, job_id, end, message, revision, result=partial(job.progress))
            return set()
        spec = JobSpec.model_validate(job.spec)
        algorithm, inputs = self.parse_inputs(spec, check=False)
        results: dict[str, TaskResult] = {}
        for r in rows:
            model = QuantumResult if r.kind == "quantum" else ClassicalResult
            results[r.key] = model.model_validate(r.result)
        state = conn.execute(
            select(algorithm_states.c.state).where(
                algorithm_states.c.job_id == job_id, algorithm_states.c.step == job.step
            )
        ).scalar_one()
        try:
            outcome = algorithm.step(inputs, spec, dict(state), results)
        except BrokerError as exc:  # e.g. a classical step returned something unusable
            end_job(conn, job_id, TaskState.FAILED, f"step {job.step + 1}: {exc}", revision)
            return set()
        return self._persist_step(conn, job_id, spec, job.step + 1, outcome, revision)

    # --- cancellation ---------------------------------------------------------------------

    def cancel(self, job_id: str, user: str) -> None:
        """Cancel a job: pending tasks never start, running ones are stopped by their worker."""
        cancel_job(self.db, job_id, user, self.policy.revision)  # revision: see advance

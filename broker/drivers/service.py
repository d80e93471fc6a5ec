"""Driver programs: classical tasks that submit quantum tasks back to their own job.

A graph step of ``kind: driver`` runs a researcher's program on the classical backend
(Slurm, say). The worker that starts it mints a token scoped to the job
(:func:`environment`), hands it to the program's process alone in ``QCB_TOKEN`` (never in
a file) with ``QCB_JOB_ID``, ``QCB_DRIVER_STEP`` and ``QCB_URL``, and the program submits
quantum tasks with :class:`broker.drivers.sdk.Driver` over HTTP: to the REST API in service
mode, to the runtime's driver endpoint (:mod:`broker.drivers.endpoint`) otherwise. The
program never learns where the store is. Either way the same functions here decide:

- a driver token acts only within its job (:func:`broker.service.access.within_scope`), and only
  while its driver step runs; it is revoked when the job ends;
- each task must fit the allowance the driver step declared per backend (held at
  admission), counting every task the driver submitted before;
- the tasks join the driver's wave (key ``STEP/0001``...), so the job's next wave waits for
  them, and they are charged and traced like every other task.

The secret is never stored: the store keeps its sha256, and the task's payload in the store
does not carry it (only the copy handed to the backend does).
"""

from __future__ import annotations

import secrets
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from backends.base import QuantumBatch
from backends.states import TaskState
from broker.algorithms.base import check_backend_kind
from broker.algorithms.taskgraph.algorithm import DRIVER_ENV
from broker.algorithms.taskgraph.model import DriverStep, GraphInputs
from broker.core import admission
from broker.core.models import JobSpec, TaskRequest
from broker.core.orchestrator import Broker
from broker.errors import Forbidden, NotFound
from broker.service.access import Principal, Role, within_scope
from broker.service.tokens import PREFIX, digest
from broker.store.audit import record_audit
from broker.store.db import advisory_lock, new_id, utcnow
from broker.store.schema import jobs, tasks, tokens

ENV_JOB = "QCB_JOB_ID"
ENV_STEP = "QCB_DRIVER_STEP"
ENV_TOKEN = "QCB_TOKEN"
ENV_URL = "QCB_URL"

# A driver token outlives its step's time limit by this much, in case the job's end (which
# revokes it) is recorded late.
_GRACE = timedelta(hours=1)


def is_driver(env: dict[str, str]) -> bool:
    """Whether a classical task's environment marks it as a driver program."""
    return env.get(DRIVER_ENV) == "1"


def mint(conn: Connection, *, job_id: str, user: str, step: str, seconds: float) -> str:
    """A new driver token for ``step`` of ``job_id``, acting for ``user``; the secret."""
    secret = PREFIX + secrets.token_urlsafe(32)
    token_id = new_id("t")
    now = utcnow()
    conn.execute(
        tokens.insert().values(
            id=token_id,
            user=user,
            role=Role.DRIVER.value,
            sha256=digest(secret),
            note=f"driver {step} of {job_id}",
            created_by="broker",
            created_at=now,
            expires_at=now + timedelta(seconds=seconds) + _GRACE,
            job_id=job_id,
        )
    )
    record_audit(conn, "broker", "token-create", token_id, user=user, role="driver", job=job_id)
    return secret


def environment(
    broker: Broker, row: Any, time_limit_s: int | None, url: str
) -> tuple[dict[str, str], dict[str, str]]:
    """What a driver task's program needs to reach the broker: where to send requests
    (``QCB_URL``: the API, or the runtime's driver endpoint), the job and step, and — apart,
    as the second dict, for the task's process only — a fresh token scoped to the job."""
    with broker.db.write(exclusive=False) as conn:
        owner = conn.execute(select(jobs.c.user).where(jobs.c.id == row.job_id)).scalar_one()
        secret = mint(
            conn,
            job_id=row.job_id,
            user=owner,
            step=row.key,
            seconds=float(time_limit_s or 3600),
        )
    return {ENV_URL: url, ENV_JOB: row.job_id, ENV_STEP: row.key}, {ENV_TOKEN: secret}


def _candidate(
    broker: Broker, who: Principal, spec: JobSpec, backend: str, batch: QuantumBatch
) -> admission.Candidate:
    """The task a driver adds, as the admission pipeline sees it (its budget is held)."""
    check_backend_kind("backend", backend, "quantum")
    request = TaskRequest(key="new", kind="quantum", backend=backend, quantum=batch)
    return admission.Candidate(
        spec=spec,
        user=who.user,
        requests=[request],
        policy=broker.policy.policy,
        backend=broker.backend,
        limits=broker.settings.limits,
        now=time.time(),
    )


def submit_task(
    broker: Broker,
    who: Principal,
    job_id: str,
    batch: QuantumBatch,
    backend: str | None = None,
    step: str | None = None,
    via: str = "store",
) -> str:
    """Add a quantum task to a running driver's wave; its id.

    ``step`` names the driver step (needed only when several run at once); ``via`` (``api``
    or ``store``) goes into the audit line. ``Forbidden`` outside the token's job or when no
    such driver runs, ``JobRefused`` by the admission pipeline's driver checks (beyond the
    step's allowance, say), ``InvalidJob`` for a circuit that does not parse or an unknown
    backend.
    """
    if who.role is not Role.DRIVER or not within_scope(who, job_id):
        raise Forbidden(f"only the driver program of job {job_id} may add tasks to it")
    with broker.db.read() as conn:
        job = conn.execute(select(jobs).where(jobs.c.id == job_id)).one_or_none()
    if job is None:
        raise NotFound(f"no job {job_id!r}")
    spec = JobSpec.model_validate(job.spec)
    name = backend or spec.backend
    candidate = _candidate(broker, who, spec, name, batch)
    admission.run(admission.DRIVER_TASK_CHECKS, candidate)
    with broker.db.write(exclusive=False) as conn:
        advisory_lock(conn, f"qcb.job.{job_id}")  # with advance and cancel of this job
        job = conn.execute(select(jobs).where(jobs.c.id == job_id)).one()
        if TaskState(job.state).final:
            raise Forbidden(f"job {job_id} has ended ({job.state}); it takes no more tasks")
        running = conn.execute(
            select(tasks.c.key).where(
                tasks.c.job_id == job_id,
                tasks.c.step == job.step,
                tasks.c.kind == "classical",
                tasks.c.state == TaskState.RUNNING,
            )
        ).scalars()
        driver_step = _running_driver(spec, list(running), job_id, step)
        need = admission.batch_need(batch)
        candidate.driver = admission.DriverTask(job_id, driver_step, name, need)
        candidate.conn = conn
        admission.run(admission.DRIVER_TASK_CHECKS, candidate, in_store=True)
        key = _next_key(conn, job_id, driver_step)
        request = TaskRequest(key=key, kind="quantum", backend=name, quantum=batch)
        broker.insert_tasks(conn, job_id, spec, job.step, [request])
        task_id = conn.execute(
            select(tasks.c.id).where(
                tasks.c.job_id == job_id, tasks.c.step == job.step, tasks.c.key == key
            )
        ).scalar_one()
        record_audit(conn, who.user, "driver-submit", task_id, job=job_id, backend=name, via=via)
    return str(task_id)


def _next_key(conn: Connection, job_id: str, driver_step: DriverStep) -> str:
    """The key of the step's next task: ``STEP/0001``, ``STEP/0002``... over every backend."""
    earlier = conn.execute(
        select(func.count()).where(
            tasks.c.job_id == job_id,
            tasks.c.key.startswith(f"{driver_step.name}/", autoescape=True),
        )
    ).scalar_one()
    return f"{driver_step.name}/{int(earlier) + 1:04d}"


def _running_driver(
    spec: JobSpec, running: list[str], job_id: str, wanted: str | None
) -> DriverStep:
    """The driver step among the ``running`` tasks' keys (``wanted`` if given)."""
    drivers: dict[str, DriverStep] = {}
    if spec.algorithm.name == "graph":
        inputs = GraphInputs.model_validate(spec.algorithm.inputs)
        drivers = {s.name: s for s in inputs.steps if isinstance(s, DriverStep)}
    found = [drivers[key] for key in running if key in drivers and wanted in (None, key)]
    if not found:
        which = f"driver step {wanted!r}" if wanted else "no driver step"
        raise Forbidden(f"{which} of job {job_id} is not running; it takes no tasks now")
    if len(found) > 1:
        names = ", ".join(s.name for s in found)
        raise Forbidden(f"several driver steps of job {job_id} run ({names}); name the step")
    return found[0]


def task_view(broker: Broker, who: Principal, job_id: str, task_id: str) -> dict[str, Any]:
    """A task of the job as its driver sees it: state, message and, once final, result."""
    if not within_scope(who, job_id):
        raise Forbidden(f"this token acts only within job {who.job_id}")
    with broker.db.read() as conn:
        row = conn.execute(
            select(tasks).where(tasks.c.id == task_id, tasks.c.job_id == job_id)
        ).one_or_none()
    if row is None:
        raise NotFound(f"no task {task_id!r} in job {job_id}")
    return {
        "id": row.id,
        "key": row.key,
        "backend": row.backend,
        "state": row.state,
        "message": row.message,
        "result": row.result,
    }

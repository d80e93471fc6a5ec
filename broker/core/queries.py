"""Read-only views of the store: job status, results with lineage, job lists."""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, func, or_, select

from backends.states import TaskState
from broker.core import dependencies
from broker.core.models import (
    Charge,
    JobResult,
    JobSpec,
    JobStatus,
    Lineage,
    TaskLog,
    TaskRecord,
)
from broker.errors import NotFinished, NotFound
from broker.store import ledger
from broker.store.db import Database
from broker.store.schema import jobs, tasks

log = logging.getLogger(__name__)


def _job_row(conn: Connection, job_id: str, user: str | None) -> Row[Any]:
    row = conn.execute(select(jobs).where(jobs.c.id == job_id)).one_or_none()
    if row is None or (user is not None and row.user != user):
        raise NotFound(f"no job {job_id!r}", hint="`qcb jobs` lists your jobs")
    return row


def _status(row: Row[Any], counts: dict[str, int], waits_for: list[str] | None = None) -> JobStatus:
    return JobStatus(
        id=row.id,
        name=row.name,
        proposal=row.proposal,
        user=row.user,
        algorithm=row.algorithm,
        backend=row.backend,
        state=TaskState(row.state),
        step=row.step,
        progress=row.progress or {},
        message=row.message or "",
        created_at=row.created_at,
        finished_at=row.finished_at,
        tasks=counts,
        held_by=row.held_by,
        waits_for=waits_for or [],
    )


def job_status(db: Database, job_id: str, user: str | None = None) -> JobStatus:
    """The job's state, progress and task counts."""
    with db.read() as conn:
        row = _job_row(conn, job_id, user)
        states = conn.execute(select(tasks.c.state).where(tasks.c.job_id == job_id)).scalars()
        waits = dependencies.waits_for(conn, [job_id])
        return _status(row, dict(Counter(states)), waits.get(job_id))


def list_jobs(
    db: Database,
    user: str | None,
    limit: int = 50,
    *,
    led: list[str] | None = None,
    states: Sequence[TaskState] = (),
    proposal: str | None = None,
    since: datetime | None = None,
) -> list[JobStatus]:
    """The most recent jobs of ``user`` (every user's with None), and with ``led`` every
    job of those proposals too; newest first. ``states``, ``proposal`` and ``since`` (UTC,
    submitted at or after) narrow the list."""
    with db.read() as conn:
        query = select(jobs).order_by(jobs.c.created_at.desc()).limit(limit)
        if user is not None:
            query = query.where(or_(jobs.c.user == user, jobs.c.proposal.in_(led or [])))
        if states:
            query = query.where(jobs.c.state.in_([s.value for s in states]))
        if proposal is not None:
            query = query.where(jobs.c.proposal == proposal)
        if since is not None:
            if since.tzinfo is not None:  # the store keeps naive UTC; a naive since is UTC
                since = since.astimezone(UTC).replace(tzinfo=None)
            query = query.where(jobs.c.created_at >= since)
        rows = conn.execute(query).all()
        waits = dependencies.waits_for(conn, [r.id for r in rows if r.state == "PENDING"])
        return [_status(row, {}, waits.get(row.id)) for row in rows]


def job_spec(db: Database, job_id: str, user: str | None = None) -> JobSpec:
    """The job as it was submitted (``NotFound`` for an id that is not ``user``'s)."""
    with db.read() as conn:
        row = _job_row(conn, job_id, user)
    return JobSpec.model_validate(row.spec)


def task_logs(db: Database, ident: str, user: str | None = None) -> list[TaskLog]:
    """The output of task ``ident``, or of every classical task of job ``ident`` (in the
    order they were made); ``NotFound`` for an id that is not ``user``'s."""
    with db.read() as conn:
        query = select(tasks).order_by(tasks.c.step, tasks.c.created_at, tasks.c.key)
        job = conn.execute(select(jobs.c.user).where(jobs.c.id == ident)).one_or_none()
        if job is not None:
            _job_row(conn, ident, user)
            rows = conn.execute(query.where(tasks.c.job_id == ident, tasks.c.kind == "classical"))
        else:
            owner = conn.execute(
                select(jobs.c.user)
                .join(tasks, tasks.c.job_id == jobs.c.id)
                .where(tasks.c.id == ident)
            ).one_or_none()
            if owner is None or (user is not None and owner.user != user):
                raise NotFound(f"no job or task {ident!r}", hint="`qcb jobs` lists your jobs")
            rows = conn.execute(query.where(tasks.c.id == ident))
        return [_log(row) for row in rows]


def _log(row: Row[Any]) -> TaskLog:
    result = row.result if isinstance(row.result, dict) else {}
    code = result.get("exit_code")
    return TaskLog(
        task_id=row.id,
        job_id=row.job_id,
        key=row.key,
        kind=row.kind,
        backend=row.backend,
        state=TaskState(row.state),
        exit_code=code if isinstance(code, int) else None,
        stdout=str(result.get("stdout") or ""),
        stderr=str(result.get("stderr") or ""),
        message=row.message or "",
    )


def active_jobs(db: Database) -> int:
    """How many jobs, of any user, are not final yet."""
    with db.read() as conn:
        return int(
            conn.execute(
                select(func.count()).where(jobs.c.state.not_in(list(TaskState.finals())))
            ).scalar_one()
        )


def _task_record(row: Row[Any], charged: dict[str, float]) -> TaskRecord:
    payload = row.payload or {}
    # Task payloads hold canonical text already, so its hash is the circuit's identity.
    circuits = [_sha256(item["circuit"]) for item in payload.get("items", [])]
    return TaskRecord(
        id=row.id,
        step=row.step,
        key=row.key,
        kind=row.kind,
        backend=row.backend,
        backend_version=row.backend_version,
        state=TaskState(row.state),
        message=row.message or "",
        native_id=row.native_id,
        attempts=row.attempts,
        seed=payload.get("seed"),
        circuits=circuits,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        run_seconds=row.run_seconds,
        charged=charged,
        packages=row.packages or {},
    )


def job_result(db: Database, job_id: str, user: str | None = None) -> JobResult:
    """A finished job's result, charges and lineage; ``NotFinished`` before the end."""
    with db.read() as conn:
        row = _job_row(conn, job_id, user)
        if not TaskState(row.state).final:
            raise NotFinished(
                f"job {job_id} is {row.state}, it has no result yet",
                hint=f"`qcb status {job_id}` shows its progress; `qcb run` follows a job",
            )
        charges, records = _records(conn, job_id)
    return JobResult(
        id=row.id,
        state=TaskState(row.state),
        result=row.result,
        message=row.message or "",
        charges=charges,
        lineage=_lineage(row, records),
    )


def _records(conn: Connection, job_id: str) -> tuple[list[Charge], list[TaskRecord]]:
    """A job's ledger lines, and its tasks with what each was charged."""
    lines = ledger.job_lines(conn, job_id)
    task_rows = conn.execute(
        select(tasks).where(tasks.c.job_id == job_id).order_by(tasks.c.step, tasks.c.key)
    ).all()
    charges = [_charge(line) for line in lines]
    per_task: dict[str, dict[str, float]] = {}
    for c in charges:
        if c.kind == "charge" and c.task_id:
            per_task.setdefault(c.task_id, {})[c.unit] = c.amount
    return charges, [_task_record(r, per_task.get(r.id, {})) for r in task_rows]


def job_tasks(db: Database, job_id: str) -> tuple[list[Charge], list[TaskRecord]]:
    """A job's ledger lines and tasks so far, finished or not (the console's job page)."""
    with db.read() as conn:
        _job_row(conn, job_id, None)
        return _records(conn, job_id)


def _charge(line: dict[str, object]) -> Charge:
    return Charge(
        backend=str(line["backend"]),
        unit=str(line["unit"]),
        amount=float(line["amount"]),  # type: ignore[arg-type]
        kind=line["kind"],
        task_id=str(line["task_id"]) or None,
        policy_revision=str(line["policy_revision"]),
    )


def _lineage(row: Row[Any], records: list[TaskRecord]) -> Lineage:
    """The job's lineage: its tasks, and the circuits and observables of its inputs."""
    from broker import algorithms
    from broker.core.models import JobSpec

    circuits = {h for rec in records for h in rec.circuits}
    observables: list[str] = []
    try:
        spec = JobSpec.model_validate(row.spec)
        algorithm = algorithms.get(spec.algorithm.name)
        inputs = algorithm.inputs_model.model_validate(spec.algorithm.inputs)
        circuits |= set(algorithm.circuits(inputs))
        observables = algorithm.observables(inputs)
    except Exception:  # a job that could not run (its stored inputs unusable) still answers
        log.warning("job %s: its inputs no longer validate; lineage from its tasks", row.id)
    quantum_versions = [r.backend_version for r in records if r.kind == "quantum"]
    return Lineage(
        job_id=row.id,
        job_sha256=row.spec_sha256,
        inputs_sha256=_inputs_hash(_stored_inputs(row.spec)),
        circuits=sorted(circuits),
        observables=observables,
        backend=row.backend,
        backend_version=next((v for v in quantum_versions if v), None),
        seed=row.seed,
        policy_revision=row.policy_revision,
        packages=next((r.packages for r in reversed(records) if r.packages), {}),
        tasks=records,
    )


def _stored_inputs(spec: Any) -> Any:
    """The algorithm inputs of a stored job spec as stored, whatever its shape."""
    algorithm = spec.get("algorithm") if isinstance(spec, dict) else None
    return algorithm.get("inputs", {}) if isinstance(algorithm, dict) else {}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _inputs_hash(inputs: Any) -> str:
    return _sha256(json.dumps(inputs, sort_keys=True))

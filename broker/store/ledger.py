"""The charge ledger: hold at admission, charge actual usage, release the rest.

Each line is unique per (job, task, kind, backend, unit) in the database itself, so a task
is charged once however often its completion is recorded, and a job holds and releases once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, case, func, select

from broker.store.db import insert_once, utcnow
from broker.store.schema import ledger, occupancy
from policies.budgets import UsageBook


@dataclass(frozen=True)
class Balance:
    """Used and held amounts of one resource (backend, unit) of a proposal."""

    used: float = 0.0
    held: float = 0.0


def _insert_once(conn: Connection, **values: object) -> bool:
    return insert_once(conn, ledger, created_at=utcnow(), **values)


def hold(
    conn: Connection,
    *,
    proposal: str,
    job_id: str,
    backend: str,
    unit: str,
    amount: float,
    revision: str,
) -> bool:
    """Hold ``amount`` for a job at admission; False if the job already holds it."""
    return _insert_once(
        conn,
        proposal=proposal,
        job_id=job_id,
        task_id="",
        kind="hold",
        backend=backend,
        unit=unit,
        amount=amount,
        policy_revision=revision,
    )


def charge(
    conn: Connection,
    *,
    proposal: str,
    job_id: str,
    task_id: str,
    backend: str,
    unit: str,
    amount: float,
    revision: str,
) -> bool:
    """Charge a task's actual usage; False (and nothing written) if it was charged before."""
    return _insert_once(
        conn,
        proposal=proposal,
        job_id=job_id,
        task_id=task_id,
        kind="charge",
        backend=backend,
        unit=unit,
        amount=amount,
        policy_revision=revision,
    )


def job_lines(conn: Connection, job_id: str) -> list[dict[str, object]]:
    """Every ledger line of a job, oldest first."""
    rows = conn.execute(select(ledger).where(ledger.c.job_id == job_id).order_by(ledger.c.id))
    return [dict(r._mapping) for r in rows]


def release(conn: Connection, *, job_id: str, revision: str) -> None:
    """Release what a job still holds beyond its charges (once per resource)."""
    lines = job_lines(conn, job_id)
    held: dict[tuple[str, str], float] = defaultdict(float)
    proposal = ""
    for line in lines:
        key = (str(line["backend"]), str(line["unit"]))
        amount = float(line["amount"])  # type: ignore[arg-type]
        proposal = str(line["proposal"])
        if line["kind"] == "hold":
            held[key] += amount
        elif line["kind"] == "charge":
            held[key] -= amount
    for (backend, unit), rest in held.items():
        _insert_once(
            conn,
            proposal=proposal,
            job_id=job_id,
            task_id="",
            kind="release",
            backend=backend,
            unit=unit,
            amount=max(rest, 0.0),
            policy_revision=revision,
        )


def balances(conn: Connection, proposal: str) -> dict[tuple[str, str], Balance]:
    """Used and currently held amounts per (backend, unit) for a proposal.

    A job's hold counts until the job releases it, less what the job was charged so far.
    """
    rows = conn.execute(select(ledger).where(ledger.c.proposal == proposal)).all()
    used: dict[tuple[str, str], float] = defaultdict(float)
    per_job: dict[tuple[str, str, str], float] = defaultdict(float)
    released: set[tuple[str, str, str]] = set()
    for r in rows:
        key = (r.backend, r.unit)
        job_key = (r.job_id, r.backend, r.unit)
        if r.kind == "charge":
            used[key] += r.amount
            per_job[job_key] -= r.amount
        elif r.kind == "hold":
            per_job[job_key] += r.amount
        else:
            released.add(job_key)
    held: dict[tuple[str, str], float] = defaultdict(float)
    for (job_id, backend, unit), rest in per_job.items():
        if (job_id, backend, unit) not in released:
            held[(backend, unit)] += max(rest, 0.0)
    return {k: Balance(used=used.get(k, 0.0), held=held.get(k, 0.0)) for k in {*used, *held}}


def epoch_of(at: datetime) -> float:
    """A stored (naive UTC) time as epoch seconds."""
    return at.replace(tzinfo=UTC).timestamp()


def charges_since(conn: Connection, last_id: int, proposal: str | None = None) -> list[Any]:
    """Charge lines with an id above ``last_id`` (of one proposal, or all), oldest first."""
    query = select(
        ledger.c.id,
        ledger.c.proposal,
        ledger.c.backend,
        ledger.c.unit,
        ledger.c.amount,
        ledger.c.created_at,
    ).where(ledger.c.kind == "charge", ledger.c.id > last_id)
    if proposal is not None:
        query = query.where(ledger.c.proposal == proposal)
    return list(conn.execute(query.order_by(ledger.c.id)).all())


def add_to_book(book: UsageBook, lines: list[Any]) -> int:
    """Add charge lines to a usage book; returns the highest line id (0 for none)."""
    last = 0
    for line in lines:
        book.add(line.proposal, line.backend, line.unit, line.amount, epoch_of(line.created_at))
        last = max(last, line.id)
    return last


def standing_inputs(
    conn: Connection, proposal: str
) -> tuple[UsageBook, dict[tuple[str, str], float]]:
    """What admission needs about a proposal: its charges (with times) and what it holds."""
    book = UsageBook()
    add_to_book(book, charges_since(conn, 0, proposal))
    return book, held_amounts(conn, proposal)


def held_amounts(conn: Connection, proposal: str) -> dict[tuple[str, str], float]:
    """What a proposal holds now per (backend, unit): the ``held`` of :func:`balances`,
    summed by the database (admission runs it under the store's write turn, so it must not
    grow with the proposal's history in Python)."""
    signed = case(
        (ledger.c.kind == "hold", ledger.c.amount),
        (ledger.c.kind == "charge", -ledger.c.amount),
        else_=0.0,
    )
    released = func.max(case((ledger.c.kind == "release", 1), else_=0))
    per_job = (
        select(
            ledger.c.backend,
            ledger.c.unit,
            func.sum(signed).label("rest"),
            released.label("released"),
        )
        .where(ledger.c.proposal == proposal)
        .group_by(ledger.c.job_id, ledger.c.backend, ledger.c.unit)
        .subquery()
    )
    positive = case((per_job.c.rest > 0, per_job.c.rest), else_=0.0)
    rows = conn.execute(
        select(per_job.c.backend, per_job.c.unit, func.sum(positive))
        .where(per_job.c.released == 0)
        .group_by(per_job.c.backend, per_job.c.unit)
    ).all()
    return {(r[0], r[1]): float(r[2]) for r in rows}


def occupy(
    conn: Connection, *, task_id: str, backend: str, proposal: str, user: str, seconds: float
) -> bool:
    """Record how long a finished task held its backend (fair-share usage); once per task."""
    return insert_once(
        conn,
        occupancy,
        task_id=task_id,
        backend=backend,
        proposal=proposal,
        user=user,
        seconds=seconds,
        at=utcnow(),
    )

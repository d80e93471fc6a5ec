"""The charge ledger: hold at admission, charge actual usage, release the rest.

Each line is unique per (job, task, kind, backend, unit) in the database itself, so a task
is charged once however often its completion is recorded, and a job holds and releases once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from broker.store import ledger_totals as totals
from broker.store.db import insert_once, utcnow
from broker.store.ledger_totals import StoredBook
from broker.store.schema import ledger, occupancy
from policies.budgets import UsageBook


@dataclass(frozen=True)
class Balance:
    """Used and held amounts of one resource (backend, unit) of a proposal."""

    used: float = 0.0
    held: float = 0.0


def _insert_once(conn: Connection, **values: object) -> bool:
    return insert_once(conn, ledger, **{"created_at": utcnow(), **values})


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
    line = {"proposal": proposal, "job_id": job_id, "backend": backend, "unit": unit}
    if not _insert_once(
        conn, task_id="", kind="hold", amount=amount, policy_revision=revision, **line
    ):
        return False
    totals.open_hold(conn, amount=amount, **line)
    return True


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
    """Charge a task's actual usage; False (and nothing written) if it was charged before.

    A transaction that charges several resources charges them in (backend, unit) order, so
    that two such transactions update the running totals in the same order."""
    at = utcnow()
    line = {"proposal": proposal, "job_id": job_id, "backend": backend, "unit": unit}
    if not _insert_once(
        conn, task_id=task_id, kind="charge", amount=amount, policy_revision=revision,
        created_at=at, **line,
    ):  # fmt: skip
        return False
    totals.add_charge(conn, amount=amount, at=at, **line)
    return True


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
    totals.close_job(conn, job_id)


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
) -> tuple[StoredBook, dict[tuple[str, str], float]]:
    """What admission needs about a proposal: its charges with times (read when asked, a
    bounded read whatever the history) and what its unreleased jobs hold."""
    return StoredBook(conn, proposal), totals.held(conn, proposal)


def held_amounts(conn: Connection, proposal: str) -> dict[tuple[str, str], float]:
    """What a proposal holds now per (backend, unit): the ``held`` of :func:`balances`,
    from the running totals (``ledger_open``)."""
    return totals.held(conn, proposal)


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

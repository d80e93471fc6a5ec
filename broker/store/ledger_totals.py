"""Running totals of the ledger, so that admission reads a bounded amount whatever a
proposal's history: charges per UTC day (``ledger_days``) and what each unreleased job still
holds (``ledger_open``).

Both follow the ledger line that changes them, in its transaction (``broker.store.ledger``
calls :func:`add_charge`, :func:`open_hold` and :func:`close_job`), so they never disagree
with the ledger; ``tests/unit/broker/store/test_ledger_totals.py`` checks that on random
ledgers. A sum over ``[since, until)`` reads whole days from ``ledger_days`` and, only
where a bound falls inside a day (a rolling window's start), that day's charge lines past
the bound.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta

from sqlalchemy import Connection, Select, case, func, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite

from broker.store.schema import ledger, ledger_days, ledger_open

_EPOCH = datetime(1970, 1, 1)
# Bounds beyond these are clamped to them: nothing is charged outside, and a day either side
# of each stays within what ``datetime`` can hold.
_FIRST, _LAST = datetime(1, 1, 2), datetime(9999, 12, 30)


def add_charge(
    conn: Connection, *, proposal: str, backend: str, unit: str, job_id: str, amount: float,
    at: datetime,
) -> None:  # fmt: skip
    """Count a charge line written at ``at`` into its day's total, and take it from what its
    job holds (if the job still holds on that resource)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(ledger_days).values(
        proposal=proposal, backend=backend, unit=unit, day=at.date(), amount=amount
    )
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["proposal", "backend", "unit", "day"],
            set_={"amount": ledger_days.c.amount + insert.excluded.amount},
        )
    )
    conn.execute(
        update(ledger_open)
        .where(
            ledger_open.c.job_id == job_id,
            ledger_open.c.backend == backend,
            ledger_open.c.unit == unit,
        )
        .values(rest=ledger_open.c.rest - amount)
    )


def open_hold(
    conn: Connection, *, proposal: str, job_id: str, backend: str, unit: str, amount: float
) -> None:
    """A job's new hold on one resource (called once, when its hold line is written)."""
    conn.execute(
        ledger_open.insert().values(
            job_id=job_id, backend=backend, unit=unit, proposal=proposal, rest=amount
        )
    )


def close_job(conn: Connection, job_id: str) -> None:
    """A job released what it held: it holds nothing any more."""
    conn.execute(ledger_open.delete().where(ledger_open.c.job_id == job_id))


def held(conn: Connection, proposal: str) -> dict[tuple[str, str], float]:
    """What a proposal's unreleased jobs hold per (backend, unit): each job's hold less its
    charges so far, never below zero. Reads one row per open job and resource."""
    positive = case((ledger_open.c.rest > 0, ledger_open.c.rest), else_=0.0)
    rows = conn.execute(
        select(ledger_open.c.backend, ledger_open.c.unit, func.sum(positive))
        .where(ledger_open.c.proposal == proposal)
        .group_by(ledger_open.c.backend, ledger_open.c.unit)
    ).all()
    return {(r[0], r[1]): float(r[2]) for r in rows}


def _instant(at: float) -> datetime:
    """Epoch seconds as a stored time: naive UTC, to the nearest microsecond (the store's
    resolution), clamped to the years a charge can have (a rolling window of a million
    years starts before any of them)."""
    if math.isnan(at):
        raise ValueError("a time bound of a budget window cannot be NaN")
    if at <= (_FIRST - _EPOCH).total_seconds():
        return _FIRST
    if at >= (_LAST - _EPOCH).total_seconds():
        return _LAST
    return _EPOCH + timedelta(microseconds=round(at * 1e6))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time())


def _is_midnight(at: datetime) -> bool:
    return at == _midnight(at.date())


class StoredBook:
    """A proposal's charges with times, read from the store when asked: the same answers as
    a :class:`policies.budgets.UsageBook` holding every charge line, from a bounded read."""

    def __init__(self, conn: Connection, proposal: str) -> None:
        self._conn = conn
        self._proposal = proposal
        self._sums: dict[tuple[datetime | None, datetime | None], dict[tuple[str, str], float]]
        self._sums = {}

    def used(
        self,
        proposal: str,
        backend: str,
        unit: str,
        since: float | None = None,
        until: float | None = None,
    ) -> float:
        """Charges in [since, until) (all of them by default).

        The first question about a window reads the sums of every (backend, unit) in it, in
        one query, so that budgets sharing a period (most do) cost one read together."""
        if proposal != self._proposal:
            raise ValueError(f"this book holds proposal {self._proposal!r}, not {proposal!r}")
        lo = None if since is None else _instant(since)
        hi = None if until is None else _instant(until)
        if lo is not None and hi is not None and lo >= hi:
            return 0.0
        sums = self._sums.get((lo, hi))
        if sums is None:
            sums = self._sums[(lo, hi)] = self._read(lo, hi)
        return sums.get((backend, unit), 0.0)

    def _read(self, lo: datetime | None, hi: datetime | None) -> dict[tuple[str, str], float]:
        """Every (backend, unit)'s charges in [lo, hi): whole days from the day totals, the
        parts of days at the ends from the charge lines."""
        (first, end), parts = _split(lo, hi)
        pieces: list[Select[tuple[str, str, float]]] = []
        if first is None or end is None or first < end:
            days = ledger_days.c
            where = [days.proposal == self._proposal]
            where += [days.day >= first] if first is not None else []
            where += [days.day < end] if end is not None else []
            pieces.append(select(days.backend, days.unit, days.amount).where(*where))
        for a, b in parts:
            lines = ledger.c
            where = [lines.proposal == self._proposal, lines.kind == "charge"]
            where += [lines.created_at >= a] if a is not None else []
            where += [lines.created_at < b] if b is not None else []
            pieces.append(select(lines.backend, lines.unit, lines.amount).where(*where))
        both = union_all(*pieces).subquery()
        query = select(both.c.backend, both.c.unit, func.sum(both.c.amount))
        rows = self._conn.execute(query.group_by(both.c.backend, both.c.unit)).all()
        return {(r[0], r[1]): float(r[2]) for r in rows}


def _split(
    lo: datetime | None, hi: datetime | None
) -> tuple[tuple[date | None, date | None], list[tuple[datetime | None, datetime | None]]]:
    """[lo, hi) as whole days [first, end) and the parts of days at its ends."""
    first = None if lo is None else lo.date() + timedelta(days=0 if _is_midnight(lo) else 1)
    end = None if hi is None else hi.date()
    if lo is not None and hi is not None and first is not None and end is not None and first > end:
        return (first, end), [(lo, hi)]  # both ends inside one day
    parts: list[tuple[datetime | None, datetime | None]] = []
    if lo is not None and first is not None and not _is_midnight(lo):
        parts.append((lo, _midnight(first)))
    if hi is not None and end is not None and not _is_midnight(hi):
        parts.append((_midnight(end), hi))
    return (first, end), parts

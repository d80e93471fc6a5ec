"""The ledger's running totals give admission the same answers as the whole ledger, on
random ledgers: a :class:`StoredBook` sums every window as a ``UsageBook`` of all charge
lines does, and the open holds equal :func:`ledger.balances`; and so do the totals that
migration 0008 fills from a ledger written without them. On SQLite here; on PostgreSQL in
tests/integration/store/test_ledger_totals.py."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import Connection

from broker.store import ledger, migrate
from broker.store.db import Database, utcnow
from broker.store.ledger import epoch_of
from broker.store.ledger_totals import StoredBook
from broker.store.schema import jobs
from policies.budgets import UsageBook

START = datetime(2026, 3, 1)
DAYS = 40
RESOURCES = [("aer", "evaluations"), ("aer", "shots"), ("slurm", "node_hours")]


def _job(conn: Connection, job_id: str, proposal: str) -> None:
    conn.execute(
        jobs.insert().values(
            id=job_id, proposal=proposal, user="u", algorithm="vqe", backend="aer", spec={},
            spec_sha256="x", state="RUNNING", step=0, progress={}, message="",
            policy_revision="r", created_at=utcnow(), updated_at=utcnow(),
        )
    )  # fmt: skip


def _moment(rng: random.Random) -> datetime:
    """A time in the ledger's 40 days, often at or next to a midnight."""
    day = START + timedelta(days=rng.randrange(DAYS))
    return rng.choice(
        [
            day,
            day + timedelta(microseconds=1),
            day - timedelta(microseconds=1),
            day + timedelta(seconds=rng.uniform(0, 86400)),
            day + timedelta(seconds=rng.uniform(0, 86400)),
        ]
    )


def _write(db: Database, rng: random.Random, clock: Iterator[datetime]) -> None:
    """A random ledger: two proposals, 60 jobs, holds, charges (some past the hold, some on
    a resource never held, some twice), releases."""
    with db.write() as conn:
        for j in range(60):
            job_id, proposal = f"j{j}", rng.choice(["p", "q"])
            _job(conn, job_id, proposal)
            for backend, unit in rng.sample(RESOURCES, rng.randrange(1, 4)):
                kw = {"proposal": proposal, "job_id": job_id, "backend": backend, "unit": unit,
                      "revision": "r"}  # fmt: skip
                if rng.random() < 0.8:
                    ledger.hold(conn, amount=rng.uniform(1, 100), **kw)  # type: ignore[arg-type]
                for t in range(rng.randrange(5)):
                    next(clock)
                    amount = rng.choice([0.0, rng.uniform(0, 60)])
                    for _ in range(rng.choice([1, 1, 2])):  # a charge recorded twice counts once
                        ledger.charge(conn, task_id=f"t{j}-{t}", amount=amount, **kw)  # type: ignore[arg-type]
            if rng.random() < 0.5:
                ledger.release(conn, job_id=job_id, revision="r")


def _bound(rng: random.Random) -> float | None:
    if rng.random() < 0.15:
        return None
    if rng.random() < 0.05:  # beyond the years a datetime holds (a huge rolling window)
        return rng.choice([-1e15, 1e15])
    return epoch_of(_moment(rng)) + rng.choice([0.0, 0.0, rng.uniform(-3600, 3600)])


def _check(db: Database, rng: random.Random) -> int:
    """Every proposal's sums and holds, both ways; returns how many windows had charges."""
    nonzero = 0
    with db.read() as conn:
        for proposal in ("p", "q"):
            whole = UsageBook()
            ledger.add_to_book(whole, ledger.charges_since(conn, 0, proposal))
            stored = StoredBook(conn, proposal)
            for _ in range(60):  # each window's sums are read once, for every resource
                since, until = _bound(rng), _bound(rng)
                for backend, unit in RESOURCES:
                    expected = whole.used(proposal, backend, unit, since, until)
                    found = stored.used(proposal, backend, unit, since, until)
                    assert found == pytest.approx(expected, rel=1e-9, abs=1e-9), (since, until)
                    nonzero += expected > 0
            balances = ledger.balances(conn, proposal)
            held = ledger.held_amounts(conn, proposal)
            for key in {*balances, *held}:
                want = balances[key].held if key in balances else 0.0
                assert held.get(key, 0.0) == pytest.approx(want, rel=1e-9, abs=1e-9), key
    return nonzero


@pytest.mark.parametrize("seed", range(4))
def test_running_totals_answer_as_the_whole_ledger(
    store_url: str,
    open_db: Callable[[str], Database],
    monkeypatch: pytest.MonkeyPatch,
    seed: int,
) -> None:
    rng = random.Random(seed)
    now = {"at": START}

    def clock() -> Iterator[datetime]:
        while True:
            now["at"] = _moment(rng)
            yield now["at"]

    monkeypatch.setattr(ledger, "utcnow", lambda: now["at"])
    db = open_db(store_url)
    _write(db, rng, clock())
    assert _check(db, rng) > 50  # the windows are not all empty

    with db.engine.connect() as conn, conn.begin():  # the totals made again from the ledger
        command.downgrade(migrate.config(conn), "0007_job_dependencies")
    migrate.upgrade(db.engine)
    assert _check(db, rng) > 50


def test_a_book_answers_for_its_own_proposal_only(
    store_url: str, open_db: Callable[[str], Database]
) -> None:
    db = open_db(store_url)
    with db.read() as conn, pytest.raises(ValueError, match="proposal 'p', not 'q'"):
        StoredBook(conn, "p").used("q", "aer", "shots")

from __future__ import annotations

from pathlib import Path

import pytest

from broker.store import ledger
from broker.store.db import Database, utcnow
from broker.store.schema import jobs


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 's.sqlite'}")
    with database.write() as conn:
        for job_id in ("j1", "j2"):
            conn.execute(
                jobs.insert().values(
                    id=job_id, proposal="p", user="u", algorithm="vqe", backend="aer", spec={},
                    spec_sha256="x", state="RUNNING", step=0, progress={}, message="",
                    policy_revision="r", created_at=utcnow(), updated_at=utcnow(),
                )
            )  # fmt: skip
    return database


def test_a_task_is_charged_once_whatever_happens(db: Database) -> None:
    kw = dict(proposal="p", job_id="j1", task_id="t1", backend="aer", unit="evaluations")
    with db.write() as conn:
        assert ledger.charge(conn, amount=5, revision="r", **kw)  # type: ignore[arg-type]
        assert not ledger.charge(conn, amount=5, revision="r", **kw)  # type: ignore[arg-type]
    with db.write() as conn:
        assert not ledger.charge(conn, amount=7, revision="r", **kw)  # type: ignore[arg-type]
        lines = ledger.job_lines(conn, "j1")
    assert [(line["kind"], line["amount"]) for line in lines] == [("charge", 5.0)]


def test_holds_count_until_released_less_charges(db: Database) -> None:
    with db.write() as conn:
        ledger.hold(
            conn,
            proposal="p",
            job_id="j1",
            backend="aer",
            unit="evaluations",
            amount=100,
            revision="r",
        )
        ledger.hold(
            conn,
            proposal="p",
            job_id="j2",
            backend="aer",
            unit="evaluations",
            amount=50,
            revision="r",
        )
        ledger.charge(
            conn,
            proposal="p",
            job_id="j1",
            task_id="t1",
            backend="aer",
            unit="evaluations",
            amount=30,
            revision="r",
        )
        bal = ledger.balances(conn, "p")[("aer", "evaluations")]
        assert (bal.used, bal.held) == (30, 120)
        ledger.release(conn, job_id="j1", revision="r")
        ledger.release(conn, job_id="j1", revision="r")  # once only
        bal = ledger.balances(conn, "p")[("aer", "evaluations")]
        assert (bal.used, bal.held) == (30, 50)
        releases = [line for line in ledger.job_lines(conn, "j1") if line["kind"] == "release"]
    assert [line["amount"] for line in releases] == [70.0]  # fmt: skip

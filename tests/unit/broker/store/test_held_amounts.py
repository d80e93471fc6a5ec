"""Admission's held amounts, summed by the database, agree with the ledger's balances
(which walk every line in Python), on SQLite (tests/integration/store/test_held_amounts.py
runs this test on PostgreSQL)."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from broker.store import ledger
from broker.store.db import Database, utcnow
from broker.store.schema import jobs


@pytest.mark.parametrize("seed", range(5))
def test_held_amounts_match_balances(
    store_url: str, open_db: Callable[[str], Database], seed: int
) -> None:
    db = open_db(store_url)
    rng = random.Random(seed)
    with db.write() as conn:
        for j in range(30):
            job_id = f"j{j}"
            conn.execute(
                jobs.insert().values(
                    id=job_id, proposal="p", user="u", algorithm="vqe", backend="aer", spec={},
                    spec_sha256="x", state="RUNNING", step=0, progress={}, message="",
                    policy_revision="r", created_at=utcnow(), updated_at=utcnow(),
                )
            )  # fmt: skip
            for backend, unit in rng.sample([("aer", "evaluations"), ("aer", "shots"),
                                             ("slurm", "node_hours")], 2):  # fmt: skip
                kw = {"proposal": "p", "job_id": job_id, "backend": backend, "unit": unit,
                      "revision": "r"}  # fmt: skip
                ledger.hold(conn, amount=rng.uniform(1, 100), **kw)  # type: ignore[arg-type]
                for t in range(rng.randrange(4)):  # charges may pass the hold
                    ledger.charge(conn, task_id=f"t{j}-{t}", amount=rng.uniform(0, 60), **kw)  # type: ignore[arg-type]
            if rng.random() < 0.4:
                ledger.release(conn, job_id=job_id, revision="r")
    with db.read() as conn:
        expected = {k: b.held for k, b in ledger.balances(conn, "p").items() if b.held}
        found = ledger.held_amounts(conn, "p")
    assert expected  # the case is not empty
    assert found.keys() >= expected.keys()
    for key, amount in found.items():
        assert amount == pytest.approx(expected.get(key, 0.0), rel=1e-9, abs=1e-9)

"""A hard budget is never exceeded, even when many submissions race for its last units
(on SQLite; tests/integration/store/test_budget_race.py runs this test on PostgreSQL)."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import func, select

from broker.config import DEFAULT_POLICY, Settings
from broker.core.orchestrator import Broker
from broker.errors import JobRefused
from broker.jobfile import load_job
from broker.store.schema import audit, jobs, ledger
from tests.conftest import EXAMPLES

RACERS = 24
FITS = 5


def test_parallel_submissions_never_pass_a_hard_budget(
    settings: Settings, store_url: str, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"database_url": store_url})
    spec = load_job(EXAMPLES / "vqe_h2.yaml").model_copy(update={"name": "racer"})
    spec.algorithm.inputs["optimizer"]["maxiter"] = 7
    probe = Broker(settings)
    algorithm, inputs = probe.parse_inputs(spec)
    need = next(n for n in algorithm.needs(inputs, spec) if n.unit == "evaluations").amount
    limit = FITS * need + need / 2  # room for FITS jobs and half of another
    policy = tmp_path / "tight.yaml"
    policy.write_text(
        DEFAULT_POLICY.read_text().replace(
            "{backend: aer, unit: evaluations, amount: 10000000}",
            f"{{backend: aer, unit: evaluations, amount: {limit}}}",
        )
    )
    settings = settings.model_copy(update={"policy_file": policy})
    brokers = [Broker(settings) for _ in range(RACERS)]
    for b in brokers:  # each its own engine and connections, as separate processes would be
        assert b.policy  # load the policy before the race
    start = threading.Barrier(RACERS)
    admitted: list[str] = []
    refused: list[str] = []

    def race(broker: Broker) -> None:
        start.wait()
        try:
            admitted.append(broker.submit(spec, "alice"))
        except JobRefused as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=race, args=(b,)) for b in brokers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert len(admitted) == FITS and len(refused) == RACERS - FITS
    assert all("evaluations left on 'aer'" in reason for reason in refused)
    with probe.db.read() as conn:
        held = conn.execute(
            select(func.sum(ledger.c.amount)).where(
                ledger.c.kind == "hold", ledger.c.backend == "aer", ledger.c.unit == "evaluations"
            )
        ).scalar_one()
        assert held == FITS * need <= limit
        assert conn.execute(select(func.count()).select_from(jobs)).scalar_one() == FITS
        refusals = conn.execute(
            select(func.count()).select_from(audit).where(audit.c.action == "refuse")
        ).scalar_one()
        assert refusals == RACERS - FITS

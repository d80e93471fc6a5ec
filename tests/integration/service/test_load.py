"""50 clients submit 2,000 jobs at once through the API, against a budget that runs out
midway: every submission is admitted or refused with its reason, and the store holds
exactly the admitted jobs, none lost and none twice."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from broker.config import Settings
from broker.core.models import JobSpec
from broker.core.orchestrator import Broker
from broker.errors import JobRefused
from broker.store.db import Database
from broker.store.schema import audit, jobs
from tests.conftest import ROOT
from tests.harness.stack import LocalStack
from tests.integration.service.conftest import h2, logs

pytestmark = pytest.mark.integration

CLIENTS = 50
JOBS = 2000
ADMITTED = 1200  # the budget holds this many jobs' estimates


def _job(n: int) -> dict[str, Any]:
    job = h2(proposal="load", name=f"load-{n}", seed=n, backend="aer-mps")
    job["algorithm"]["inputs"]["optimizer"] = {"name": "adam", "maxiter": 5}
    job["algorithm"]["inputs"]["reference"] = False
    return job


def _policy(tmp: Path) -> Path:
    """The default policy plus proposal ``load``, whose aer-mps budget holds ADMITTED jobs."""
    estimate_home = tmp / "estimate"
    broker = Broker(Settings(home=estimate_home))
    spec = JobSpec.model_validate(_job(0))
    algorithm, inputs = broker.parse_inputs(spec)
    need = {(n.backend, n.unit): n.amount for n in algorithm.needs(inputs, spec)}
    per_job = need[("aer-mps", "evaluations")]
    policy = yaml.safe_load((ROOT / "policies" / "examples" / "default.yaml").read_text())
    policy["proposals"].append(
        {
            "id": "load",
            "pi": "pi-load",
            "members": ["*"],
            "budgets": [
                {
                    "backend": "aer-mps",
                    "unit": "evaluations",
                    "amount": per_job * (ADMITTED + 0.5),
                    "period": "allocation_year",
                },
            ],
        }
    )
    path = tmp / "policy.yaml"
    path.write_text(yaml.safe_dump(policy, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def idle_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The API and scheduler with no worker: admitted jobs wait in Redis."""
    workdir = tmp_path_factory.mktemp("load")
    settings = {"policy_file": _policy(workdir)}
    with LocalStack(workdir, workers=0, settings=settings) as stack:
        yield stack


def test_fifty_clients_two_thousand_jobs(idle_stack: LocalStack) -> None:
    stack = idle_stack
    outcomes: dict[int, tuple[str, str]] = {}
    errors: list[str] = []
    lock = threading.Lock()

    clients = [stack.client(f"user{c}") for c in range(CLIENTS)]

    def run(c: int) -> None:
        client = clients[c]
        for n in range(c, JOBS, CLIENTS):
            try:
                outcome = ("admitted", client.submit(_job(n), key=f"job-{n}"))
            except JobRefused as exc:
                outcome = ("refused", str(exc))
            except Exception as exc:  # anything else is a failure of the service
                with lock:
                    errors.append(f"job {n}: {type(exc).__name__}: {exc}")
                continue
            with lock:
                outcomes[n] = outcome
        # A retry of an admitted submission (same key) returns the same job.
        n = c
        if outcomes.get(n, ("",))[0] == "admitted":
            try:  # collected, not asserted: a failure in a thread would only warn
                again = client.submit(_job(n), key=f"job-{n}")
            except Exception as exc:
                again = f"{type(exc).__name__}: {exc}"
            if again != outcomes[n][1]:
                with lock:
                    errors.append(f"job {n} retried with its key: {again} != {outcomes[n][1]}")
        client.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert not errors, "\n".join(errors[:10]) + logs(stack)
    assert len(outcomes) == JOBS
    kinds = Counter(kind for kind, _ in outcomes.values())
    assert kinds["admitted"] == ADMITTED, kinds
    assert kinds["refused"] == JOBS - ADMITTED
    for kind, text in outcomes.values():
        if kind == "refused":
            assert "proposal 'load' has" in text and "left on" in text, text
    admitted = [text for kind, text in outcomes.values() if kind == "admitted"]
    assert len(set(admitted)) == ADMITTED  # no two submissions got the same job
    db = Database(stack.database_url)
    with db.read() as conn:
        stored = set(conn.execute(select(jobs.c.id).where(jobs.c.proposal == "load")).scalars())
        actions = dict(
            conn.execute(
                select(audit.c.action, func.count())
                .where(audit.c.action.in_(["submit", "refuse"]))
                .group_by(audit.c.action)
            ).all()
        )
    db.dispose()
    assert stored == set(admitted)  # none lost, none duplicated
    assert actions == {"submit": ADMITTED, "refuse": JOBS - ADMITTED}

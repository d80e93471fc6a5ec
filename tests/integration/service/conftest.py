"""The service mode for real: a private Redis, a fresh PostgreSQL database, the API, the
scheduler and two worker processes (:class:`tests.harness.stack.LocalStack`), with the real Slurm
of the other tests and the IonQ stand-in as the provider."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from broker.store.db import Database
from broker.store.schema import ledger, tasks
from tests.conftest import ROOT, SlurmCluster, private_yaml, reachable
from tests.harness.stack import LocalStack
from tests.integration.providers.ionq_standin import IonQStandIn

FAST_RECOVERY = {"lease_seconds": 3.0, "redispatch_seconds": 3.0}


@pytest.fixture(scope="module")
def ionq() -> Iterator[IonQStandIn]:
    """One IonQ stand-in for the module (tests change ``run_s`` as they need)."""
    server = IonQStandIn().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, slurm_cluster: SlurmCluster, ionq: IonQStandIn
) -> Iterator[LocalStack]:
    """API, scheduler and two workers on Redis and PostgreSQL, reaching Slurm and IonQ."""
    workdir = reachable(tmp_path_factory.mktemp("stack"))
    options: dict[str, Any] = dict(slurm_cluster.options)
    options["ionq"] = {"url": ionq.url, "api_key": ionq.api_key, "poll_seconds": 0.1}
    backends = private_yaml(workdir / "backends.yaml", options)
    env = {
        "QCB_BACKENDS_FILE": str(backends),
        "SLURM_CONF": str(slurm_cluster.run / "slurm.conf"),
        "PYTHONPATH": str(ROOT),
    }
    with LocalStack(workdir, workers=2, env=env, settings=FAST_RECOVERY) as running:
        yield running


def store(stack: LocalStack) -> Database:
    """The stack's store, for checks the API does not offer."""
    return Database(stack.database_url)


def charge_lines(stack: LocalStack, job_id: str) -> list[Any]:
    """The job's ledger lines of kind charge."""
    db = store(stack)
    with db.read() as conn:
        rows = conn.execute(
            select(ledger).where(ledger.c.job_id == job_id, ledger.c.kind == "charge")
        ).all()
    db.dispose()
    return list(rows)


def task_rows(stack: LocalStack, job_id: str) -> list[Any]:
    """The job's tasks as the store has them."""
    db = store(stack)
    with db.read() as conn:
        rows = conn.execute(select(tasks).where(tasks.c.job_id == job_id)).all()
    db.dispose()
    return list(rows)


def h2(example: str = "vqe_h2.yaml", **overrides: Any) -> dict[str, Any]:
    """An example job as a dict, with top-level fields or inputs overridden."""
    job: dict[str, Any] = yaml.safe_load((ROOT / "examples" / example).read_text())
    job["algorithm"]["inputs"].update(overrides.pop("inputs", {}))
    job.update(overrides)
    return job


def logs(stack: LocalStack) -> str:
    """Every process's log tail, for assertion messages."""
    return "\n".join(
        f"--- {name} ---\n{stack.log(name)[-3000:]}"
        for name in ("api", "scheduler", *stack.workers)
    )

"""``qcb usage`` and ``qcb explain`` on a store driven in this process (no Celery)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from broker.cli.main import cli
from broker.client import Client
from broker.config import DEFAULT_POLICY, Settings
from broker.core.execution import Executor
from broker.core.queries import job_status
from broker.core.scheduler import Scheduler
from broker.errors import BrokerError, NotFound
from broker.jobfile import load_job
from tests.conftest import EXAMPLES

SOFT = DEFAULT_POLICY.read_text().replace(
    "{backend: aer, unit: evaluations, amount: 10000000}",
    "{backend: aer, unit: evaluations, amount: 40, enforcement: soft}",
) + ("overrun:\n  bands:\n    - {above_pct: 100, age_penalty: 30d}\n  hard_stop_pct: 100000\n")


def small_job(maxiter: int = 3) -> object:
    spec = load_job(EXAMPLES / "vqe_h2.yaml")
    spec.algorithm.inputs["optimizer"]["maxiter"] = maxiter
    spec.algorithm.inputs["reference"] = False
    return spec


def run_to_end(client: Client, job_id: str) -> None:
    broker = client._broker
    queue: list[str] = []
    scheduler = Scheduler(broker, lambda task_id, _queue: queue.append(task_id))
    executor = Executor(broker, "test-worker", release=scheduler.release)
    for _ in range(500):
        if job_status(broker.db, job_id).state.final:
            return
        scheduler.tick()
        while queue:
            executor.execute(queue.pop(0))
    raise AssertionError("job did not finish")


@pytest.fixture
def client(settings: Settings, tmp_path: Path) -> Client:
    policy = tmp_path / "soft.yaml"
    policy.write_text(SOFT)
    return Client(settings.model_copy(update={"policy_file": policy}), autostart=False)


def aer_evaluations(client: Client) -> object:
    (usage,) = client.usage("local")
    return next(b for b in usage.budgets if (b.backend, b.unit) == ("aer", "evaluations"))


def test_usage_shows_holds_then_charges(client: Client) -> None:
    job_id = client.submit(small_job())
    before = aer_evaluations(client)
    assert before.used == 0 and before.held > 0  # type: ignore[attr-defined]
    assert before.remaining == before.limit - before.held  # type: ignore[attr-defined]
    run_to_end(client, job_id)
    after = aer_evaluations(client)
    charged = sum(
        c.amount
        for c in client.result(job_id).charges
        if c.kind == "charge" and (c.backend, c.unit) == ("aer", "evaluations")
    )
    assert after.used == charged > 0 and after.held == 0  # type: ignore[attr-defined]


def test_explain_breaks_a_waiting_task_into_factors(client: Client) -> None:
    job_id = client.submit(small_job())
    (explanation,) = client.explain(job_id)
    assert explanation.proposal == "local" and explanation.backend == "aer"
    names = [row[0] for row in explanation.rows()]
    assert names == ["age", "fairshare", "score", "qos", "size", "hybrid"]
    assert explanation.priority == pytest.approx(sum(row[3] for row in explanation.rows()))
    assert explanation.rank == 1 and explanation.releasable and not explanation.reasons
    assert explanation.revision == client.policy().revision
    with pytest.raises(NotFound):
        Client(client.settings, user="mallory", autostart=False).explain(job_id)
    with pytest.raises(NotFound):
        client.explain("t-000000000000")
    run_to_end(client, job_id)
    with pytest.raises(BrokerError, match="no task waiting"):
        client.explain(job_id)


def test_a_soft_budget_overrun_moves_the_proposal_into_its_band(client: Client) -> None:
    run_to_end(client, client.submit(small_job(maxiter=10)))
    state = aer_evaluations(client)
    assert state.used_pct > 100  # type: ignore[attr-defined]
    (usage,) = client.usage("local")
    assert "overrun band above 100 %" in usage.standing
    (explanation,) = client.explain(client.submit(small_job()))
    assert any("overrun band" in note and "30d younger" in note for note in explanation.notes)
    assert explanation.factors.age == 0.0


def test_the_cli_prints_usage_draws_it_and_explains(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QCB_POLICY_FILE", str(client.settings.policy_file))
    job_id = client.submit(small_job())
    runner = CliRunner()
    png = tmp_path / "usage.png"
    out = runner.invoke(cli, ["usage", "--plot", str(png)], env={"COLUMNS": "120"})
    assert out.exit_code == 0, out.output
    assert "aer" in out.output and "evaluations" in out.output and png.stat().st_size > 10_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = runner.invoke(cli, ["explain", job_id])
    assert out.exit_code == 0 and "fairshare" in out.output and "priority" in out.output
    out = runner.invoke(cli, ["usage", "--proposal", "nope"])
    assert out.exit_code == 4 and "your proposals: local" in out.output

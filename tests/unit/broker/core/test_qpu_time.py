"""QPU seconds estimated at admission: held against a hard ``qpu_seconds`` budget, a job
that would pass it refused with the estimate named, charged from what the backend reports,
and the timing model a facility sets in the backends file."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.client import Client
from broker.config import Settings
from broker.core.qpu_time import DEFAULTS, estimated
from broker.errors import BrokerError, JobRefused
from policies.admission import Need
from policies.loader import parse_policy
from tests.unit.broker.accounting.test_usage_explain import run_to_end, small_job

POLICY = """\
apiVersion: qcbroker/v1
kind: Policy
metadata: {{name: qpu-time}}
backends:
  aer: {{units: [evaluations, qpu_seconds]}}
  ibm: {{units: [evaluations, shots, qpu_seconds]}}
  local: {{units: [core_hours]}}
proposals:
  - id: chem
    pi: alice
    members: [alice]
    budgets:
      - {{backend: aer, unit: evaluations, amount: 1000000}}
      - {{backend: aer, unit: qpu_seconds, amount: {seconds}, enforcement: hard}}
      - {{backend: local, unit: core_hours, amount: 100}}
"""


def client(settings: Settings, tmp_path: Path, seconds: float, backends: str = "") -> Client:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(seconds=seconds))
    update: dict[str, object] = {"policy_file": policy}
    if backends:
        (tmp_path / "backends.yaml").write_text(backends)
        update["backends_file"] = tmp_path / "backends.yaml"
    return Client(settings.model_copy(update=update), autostart=False, user="alice")


def vqe(maxiter: int) -> object:
    spec = small_job(maxiter)
    spec.proposal = "chem"  # type: ignore[attr-defined]
    return spec


def qpu(client: Client) -> object:
    (usage,) = client.usage("chem")
    return next(b for b in usage.budgets if b.unit == "qpu_seconds")


def test_a_vqe_that_would_pass_a_hard_qpu_budget_is_refused_naming_the_estimate(
    settings: Settings, tmp_path: Path
) -> None:
    c = client(settings, tmp_path, seconds=1.0)
    with pytest.raises(JobRefused) as refused:
        c.submit(vqe(maxiter=100))  # 900 evaluations at 0.01 s (aer's model): 9 s
    needs = {(n["unit"]): n["amount"] for n in refused.value.details["needs"]}
    assert needs["qpu_seconds"] == pytest.approx(needs["evaluations"] * 0.01) == 9.0
    assert "1 qpu_seconds left on 'aer'" in refused.value.message
    assert "this job may need up to 9" in refused.value.message


def test_the_estimate_is_held_then_what_the_backend_reports_is_charged(
    settings: Settings, tmp_path: Path
) -> None:
    c = client(settings, tmp_path, seconds=100.0)
    job_id = c.submit(vqe(maxiter=3))
    held = qpu(c)
    assert held.held == pytest.approx(27 * 0.01) and held.used == 0  # type: ignore[attr-defined]
    run_to_end(c, job_id)
    after = qpu(c)
    reported = sum(
        x.amount for x in c.result(job_id).charges if x.kind == "charge" and x.unit == "qpu_seconds"
    )
    assert after.held == 0 and after.used == pytest.approx(reported) and reported > 0  # type: ignore[attr-defined]


def test_the_backends_file_sets_a_backends_model_and_a_bad_one_is_named(
    settings: Settings, tmp_path: Path
) -> None:
    c = client(settings, tmp_path, 1e6, "aer: {timing: {per_circuit_s: 2.0, per_shot_s: 0}}\n")
    c.submit(vqe(maxiter=3))
    assert qpu(c).held == pytest.approx(27 * 2.0)  # type: ignore[attr-defined]
    bad = client(settings, tmp_path, 1e6, "aer: {timing: {per_circuit: 2.0}}\n")
    with pytest.raises(BrokerError, match=r"aer\.timing: per_circuit_s: Field required"):
        bad.submit(vqe(maxiter=3))
    endless = client(
        settings, tmp_path, 1e6, "aer: {timing: {per_circuit_s: .inf, per_shot_s: 0}}\n"
    )
    with pytest.raises(BrokerError, match=r"aer\.timing: per_circuit_s: Input should be a finite"):
        endless.submit(vqe(maxiter=3))


def test_a_providers_model_counts_shots_and_a_given_estimate_is_kept() -> None:
    policy = parse_policy(POLICY.format(seconds=1), "policy.yaml").policy
    ibm = estimated(
        [Need("ibm", "evaluations", 10), Need("ibm", "shots", 40_000)], policy, Settings()
    )
    assert ibm[-1] == Need("ibm", "qpu_seconds", 10 * 1.0 + 40_000 * 250e-6)
    assert DEFAULTS["ibm"].source  # every default says where it comes from
    given = [Need("ibm", "evaluations", 10), Need("ibm", "qpu_seconds", 5.0)]
    assert estimated(given, policy, Settings()) == given
    classical = [Need("local", "core_hours", 1.0)]
    assert estimated(classical, policy, Settings()) == classical

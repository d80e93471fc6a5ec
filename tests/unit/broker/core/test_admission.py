"""The admission pipeline: circuits wider than their backend are refused naming the widest
one allowed; circuits are checked (gates, depth) with their line; every refusal names its
check; a rule is added as one function."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from backends.base import QuantumBatch, QuantumItem
from broker.config import Settings
from broker.core import admission
from broker.core.models import TaskRequest
from broker.core.orchestrator import Broker
from broker.errors import InvalidJob, JobRefused
from broker.jobfile import parse_job
from broker.store.schema import audit, jobs, ledger


def _policy(path: Path, backends: list[str]) -> Path:
    policy = {
        "apiVersion": "qcbroker/v1",
        "kind": "Policy",
        "metadata": {"name": "t"},
        "backends": {b: {"units": ["evaluations", "shots"]} for b in backends}
        | {"local": {"units": ["core_hours"]}},
        "proposals": [
            {
                "id": "p1",
                "pi": "alice",
                "members": ["alice"],
                "budgets": [{"backend": b, "unit": "evaluations", "amount": 1e9} for b in backends]
                + [{"backend": "local", "unit": "core_hours", "amount": 100}],
            }
        ],
    }
    path.write_text(yaml.safe_dump(policy))
    return path


def _job(width: int, backend: str, more: str = "") -> str:
    gates = "\n".join(f"ry(t{i}) q[{i}];" for i in range(width)) + more
    inputs = "\n".join(f"input float[64] t{i};" for i in range(width))
    qasm = f'OPENQASM 3.0;\ninclude "stdgates.inc";\n{inputs}\nqubit[{width}] q;\n{gates}\n'
    hamiltonian = " + ".join(
        "1.0 * " + "".join("Z" if j == i else "I" for j in range(width)) for i in range(width)
    )
    return yaml.safe_dump(
        {
            "proposal": "p1",
            "backend": backend,
            "algorithm": {
                "name": "vqe",
                "inputs": {
                    "hamiltonian": hamiltonian,
                    "ansatz": {"qasm": qasm},
                    "optimizer": {"name": "adam", "maxiter": 2},
                    "reference": False,
                },
            },
        }
    )


@pytest.fixture
def broker(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Broker:
    limits = {"aer": {"max_qubits": 4}, "aer-mps": {"max_qubits": 10}}
    (tmp_path / "backends.yaml").write_text(yaml.safe_dump(limits))
    monkeypatch.setenv("QCB_BACKENDS_FILE", str(tmp_path / "backends.yaml"))
    policy = _policy(tmp_path / "policy.yaml", ["aer", "aer-mps"])
    monkeypatch.setenv("QCB_POLICY_FILE", str(policy))
    return Broker(Settings())


def _nothing_recorded(broker: Broker) -> None:
    with broker.db.read() as conn:
        assert conn.execute(jobs.select()).all() == []
        assert conn.execute(ledger.select()).all() == []


def test_a_circuit_too_wide_for_its_backend_names_one_that_takes_it(broker: Broker) -> None:
    with pytest.raises(JobRefused) as info:
        broker.submit(parse_job(_job(6, "aer")), "alice")
    message = str(info.value)
    assert message.startswith("job refused by backend-width: a circuit has 6 qubits")
    assert "6 qubits" in message and "at most 4" in message
    assert "aer-mps (10 qubits)" in message and "--backend aer-mps" in message
    _nothing_recorded(broker)
    assert broker.submit(parse_job(_job(6, "aer-mps")), "alice")


def test_a_circuit_too_wide_for_every_allowed_backend_names_the_widest(broker: Broker) -> None:
    with pytest.raises(JobRefused) as info:
        broker.submit(parse_job(_job(12, "aer")), "alice")
    message = str(info.value)
    assert "12 qubits" in message
    assert "widest backend proposal 'p1' may use is aer-mps with 10 qubits" in message
    _nothing_recorded(broker)


def test_a_circuit_with_an_unknown_gate_is_refused_with_its_task_item_and_line(
    broker: Broker,
) -> None:
    """A circuit an algorithm (or a driver program) sends is checked whatever made it."""
    good = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[1] q;\nh q[0];\n'
    bad = good + "frobnicate q[0];\n"
    batch = QuantumBatch(items=[QuantumItem(circuit=good), QuantumItem(circuit=bad)])
    candidate = admission.Candidate(
        spec=parse_job(_job(2, "aer")),
        user="alice",
        requests=[TaskRequest(key="wave-1", kind="quantum", quantum=batch)],
        policy=broker.policy.policy,
        backend=broker.backend,
        limits=broker.settings.limits,
        now=0.0,
    )
    with pytest.raises(InvalidJob) as info:
        admission.run(admission.JOB_CHECKS, candidate)
    message = str(info.value)
    assert message.startswith("task 'wave-1' items[1].circuit: line 5:"), message
    assert "frobnicate" in message


def test_a_circuit_deeper_than_the_deployment_allows_is_refused(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QCB_POLICY_FILE", str(_policy(tmp_path / "policy.yaml", ["aer"])))
    monkeypatch.setenv("QCB_MAX_CIRCUIT_DEPTH", "1")
    broker = Broker(Settings())
    with pytest.raises(InvalidJob, match=r"items\[0\]\.circuit: .*more than max_depth=1"):
        broker.submit(parse_job(_job(2, "aer", "\ncx q[0], q[1];")), "alice")
    _nothing_recorded(broker)


def test_a_policy_refusal_names_its_check_and_is_audited(broker: Broker) -> None:
    with pytest.raises(JobRefused, match=r"^job refused by membership-and-budget: user 'mallory'"):
        broker.submit(parse_job(_job(2, "aer")), "mallory")
    with broker.db.read() as conn:
        detail = conn.execute(select(audit.c.detail).where(audit.c.action == "refuse")).scalar()
    assert "membership-and-budget" in str(detail)


def test_a_rule_is_added_as_one_function_and_named_in_its_refusal(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def no_weekend_jobs(c: admission.Candidate) -> admission.Refusal | None:
        seen.append(c.spec.proposal)
        return admission.Refusal("no jobs this weekend", hint="come back on Monday")

    rule = admission.Check("no-weekend-jobs", no_weekend_jobs)
    monkeypatch.setattr(admission, "JOB_CHECKS", (*admission.JOB_CHECKS[:2], rule))
    with pytest.raises(JobRefused) as info:
        broker.submit(parse_job(_job(2, "aer")), "alice")
    assert (
        str(info.value)
        == "job refused by no-weekend-jobs: no jobs this weekend\ncome back on Monday"
    )
    assert seen == ["p1"]
    _nothing_recorded(broker)


def test_the_checks_run_in_the_documented_order() -> None:
    names = [check.name for check in admission.JOB_CHECKS]
    assert names == [
        "job-size",
        "circuits",
        "sampling",
        "classical-fit",
        "backend-width",
        "membership-and-budget",
    ]
    assert [c.in_store for c in admission.JOB_CHECKS] == [False] * 5 + [True]
    driver = [(c.name, c.in_store) for c in admission.DRIVER_TASK_CHECKS]
    assert driver == [
        ("job-size", False),
        ("circuits", False),
        ("sampling", False),
        ("backend-width", False),
        ("driver-allowance", True),
    ]
    doc = (Path(__file__).resolve().parents[4] / "docs" / "architecture.md").read_text()
    doc = doc[doc.index("## 5. Admission") :]
    positions = [doc.index(f"`{name}`") for name in names]
    assert positions == sorted(positions)

"""Admission refuses circuits wider than their backend, naming the widest one allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from broker.config import Settings
from broker.errors import JobRefused
from broker.jobfile import parse_job
from broker.orchestrator import Broker
from broker.store.schema import jobs, ledger


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


def _job(width: int, backend: str) -> str:
    gates = "\n".join(f"ry(t{i}) q[{i}];" for i in range(width))
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

"""The cutting example end to end on simulators too small for its circuit.

With ``examples/backends_small.yaml`` every simulator takes at most 4 qubits: the 8-qubit
circuit is refused whole, and the cut job reconstructs the uncut expectation values (computed
here, independently, from a statevector) within the bound it reports, from subexperiments
spread over two backends.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from qiskit.circuit.library import efficient_su2
from qiskit.quantum_info import Statevector

from broker import Client
from broker.core.models import JobSpec
from broker.errors import JobRefused
from broker.jobfile import load_job
from circuits.observables import PauliSum
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.integration

EXAMPLE = EXAMPLES / "cutting_su2.yaml"


@pytest.fixture
def small_backends(qcb_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's QCB_HOME, with the example's 4-qubit backends."""
    monkeypatch.setenv("QCB_BACKENDS_FILE", str(EXAMPLES / "backends_small.yaml"))
    return qcb_home


def _exact(job: JobSpec) -> list[float]:
    """The uncut circuit's expectation values, built from the job file's description."""
    spec = job.algorithm.inputs["circuit"]
    assert spec["library"] == "efficient_su2" and spec["parameters"] == "random"
    qc = efficient_su2(spec["num_qubits"], reps=spec["reps"], entanglement=spec["entanglement"])
    values = np.random.default_rng(spec["seed"]).uniform(-math.pi, math.pi, qc.num_parameters)
    state = Statevector(qc.assign_parameters(values))
    return [
        float(state.expectation_value(PauliSum.from_text(text).to_sparse_pauli_op()).real)
        for text in job.algorithm.inputs["observables"]
    ]


def _range(text: str) -> float:
    """Width of the interval an observable's value can lie in: twice its Pauli weight."""
    return 2 * sum(abs(t.coeff) for t in PauliSum.from_text(text).terms if not t.is_identity)


def test_the_cutting_example_reconstructs_the_uncut_values_within_its_bound(
    small_backends: Path,
) -> None:
    job = load_job(EXAMPLE)
    exact = _exact(job)
    client = Client()
    job_id = client.submit(job)
    status = client.wait(job_id, timeout=240)
    assert status.state == "COMPLETED", status.message
    result = client.result(job_id)
    out = result.result
    assert out is not None
    texts = job.algorithm.inputs["observables"]
    for value, bound, want, text in zip(
        out["expectation_values"], out["bound"], exact, texts, strict=True
    ):
        assert abs(value - want) <= bound, (text, value, want, bound)
        assert 0 < bound < 0.05 * _range(text), (text, bound)
    assert out["reference"] == pytest.approx(exact, abs=1e-9)
    assert out["cuts"] == 2 and out["sampling_overhead"] == pytest.approx(81.0)

    quantum = [t for t in result.lineage.tasks if t.kind == "quantum"]
    per_backend: dict[str, int] = {}
    for task in quantum:
        per_backend[task.backend] = per_backend.get(task.backend, 0) + len(task.circuits)
    assert set(per_backend) == {"pennylane", "aer"}
    assert per_backend == out["backends"]
    assert sum(per_backend.values()) == out["subexperiments"] == 144
    assert {t.step for t in quantum} == {0}, "every subexperiment runs in the first step"
    classical = [t for t in result.lineage.tasks if t.kind == "classical"]
    assert [(t.key, t.step) for t in classical] == [("reconstruct", 1)]
    assert status.progress["done"] == status.progress["total"] == 144
    client.shutdown()


@pytest.mark.parametrize(
    ("partition", "width"),
    [("AAAAAAAA", 8), ("AAAAABBB", 5)],
    ids=["uncut", "a 5-qubit piece"],
)
def test_a_circuit_wider_than_the_small_backends_is_refused_at_submission(
    small_backends: Path, partition: str, width: int
) -> None:
    job = load_job(EXAMPLE)
    job.algorithm.inputs["partition"] = partition
    job.algorithm.inputs["backends"] = ["aer"]
    with pytest.raises(
        JobRefused, match=rf"a circuit has {width} qubits but backend aer takes at most 4"
    ):
        Client(autostart=False).submit(job)

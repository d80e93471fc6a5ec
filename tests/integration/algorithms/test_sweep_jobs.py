"""Parameter sweeps through the embedded broker (a real scheduler and Celery worker): the
values against Qiskit's Statevector computed here, batches reassembled in grid order, and
one sweep spread over Aer and Cirq."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp, Statevector

from broker import Client
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.integration

RY = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] theta;
qubit[1] q;
ry(theta) q[0];
"""

THREE = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] a;
input float[64] b;
qubit[3] q;
ry(a) q[0];
cx q[0], q[1];
rx(b) q[2];
rzz(a) q[1], q[2];
ry(0.3) q[1];
"""
OBSERVABLES = ["ZZI", "0.5 * XIX - YYZ"]
A_VALUES = [0.0, 0.4, 1.1, 2.0, 2.9, 3.6, 5.0]
B_VALUES = {"start": -1.0, "stop": 2.0, "num": 6}


def expected_three(a: float, b: float) -> list[float]:
    """The same circuit built here with Qiskit, evaluated with Statevector."""
    qc = QuantumCircuit(3)
    qc.ry(a, 0)
    qc.cx(0, 1)
    qc.rx(b, 2)
    qc.rzz(a, 1, 2)
    qc.ry(0.3, 1)
    state = Statevector(qc)
    ops = [
        SparsePauliOp("ZZI"),
        SparsePauliOp.from_list([("XIX", 0.5), ("YYZ", -1.0)]),
    ]
    return [float(np.real(state.expectation_value(op))) for op in ops]


def sweep(inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "proposal": "local",
        "backend": "aer",
        "seed": 3,
        "algorithm": {"name": "sweep", "inputs": inputs},
    }


def two_d(**extra: Any) -> dict[str, Any]:
    # axes listed b first: the grid's order is the file's, not the circuit's (a, b)
    parameters = {"b": B_VALUES, "a": A_VALUES}
    return sweep({"circuit": THREE, "parameters": parameters, "observables": OBSERVABLES, **extra})


def test_sweeps_match_statevector_in_grid_order_on_one_or_two_backends(qcb_home: Path) -> None:
    client = Client()
    thetas = {"start": 0.0, "stop": 2 * math.pi, "num": 25}
    ids = {
        "rabi": client.submit(
            sweep({"circuit": RY, "parameters": {"theta": thetas}, "observables": ["Z"]})
        ),
        "aer": client.submit(two_d(batch_size=5)),
        "both": client.submit(two_d(batch_size=4, backends=["aer", "cirq"])),
        "example": client.submit(EXAMPLES / "sweep_rabi.yaml"),
    }
    results = {}
    for name, job_id in ids.items():
        status = client.wait(job_id, timeout=300)
        assert status.state == "COMPLETED", f"{name}: {status.message}"
        results[name] = client.result(job_id)

    rabi = results["rabi"].result
    assert rabi is not None and rabi["shape"] == [25]
    for theta, row in zip(rabi["axes"]["theta"], rabi["expectation_values"], strict=True):
        assert row[0] == pytest.approx(math.cos(theta), abs=1e-12)
    assert rabi["best"]["parameters"]["theta"] == pytest.approx(math.pi)

    grid = results["aer"].result
    assert grid is not None
    assert grid["shape"] == [6, 7] and list(grid["axes"]) == ["b", "a"]
    assert grid["axes"]["a"] == A_VALUES
    for (i, b), (j, a) in itertools.product(
        enumerate(grid["axes"]["b"]), enumerate(grid["axes"]["a"])
    ):
        assert grid["expectation_values"][i][j] == pytest.approx(expected_three(a, b), abs=1e-9)
    quantum = [t for t in results["aer"].lineage.tasks if t.kind == "quantum"]
    assert sorted(t.key for t in quantum) == [f"batch-{k:04d}" for k in range(9)]  # 42 / 5
    assert len({t.step for t in quantum}) == 1  # all batches in one step
    flat = [row[0] for plane in grid["expectation_values"] for row in plane]
    i, j = grid["best"]["index"]
    assert grid["best"]["value"] == min(flat) == grid["expectation_values"][i][j][0]

    both = results["both"]
    assert both.result is not None
    assert np.allclose(both.result["expectation_values"], grid["expectation_values"], atol=1e-9)
    by_backend = {t.backend for t in both.lineage.tasks if t.kind == "quantum"}
    assert by_backend == {"aer", "cirq"}
    assert len([t for t in both.lineage.tasks if t.kind == "quantum"]) == 11  # 42 / 4

    example = results["example"].result
    assert example is not None
    for theta, (z, x) in zip(example["axes"]["theta"], example["expectation_values"], strict=True):
        assert z == pytest.approx(math.cos(theta), abs=1e-12)
        assert x == pytest.approx(math.sin(theta), abs=1e-12)
    client.shutdown()

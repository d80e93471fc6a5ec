"""Parameter sweeps: the grid, its batches, validation, and reassembly of the results."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from backends.base import ItemResult, QuantumResult
from broker.algorithms.sweep import (
    MAX_BATCHES,
    MAX_POINTS,
    Sweep,
    SweepInputs,
    batch_key,
    batches,
    grid_rows,
    nest,
)
from broker.config import Settings
from broker.core.models import JobSpec, TaskRequest
from broker.core.orchestrator import Broker
from broker.errors import InvalidJob
from broker.jobfile import validate_job

TWO = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] phi;
input float[64] theta;
qubit[2] q;
ry(theta) q[0];
rx(phi) q[1];
"""
MEASURED = TWO + "bit[2] c;\nc = measure q;\n"
JOB = JobSpec(proposal="local", algorithm={"name": "sweep"})


def test_the_grid_is_the_cartesian_product_last_axis_fastest() -> None:
    axes = {"theta": [1.0, 2.0], "phi": [10.0, 20.0, 30.0]}
    rows = grid_rows(axes, ("phi", "theta"))  # rows come in the circuit's parameter order
    assert rows == [[p, t] for t, p in itertools.product([1.0, 2.0], [10.0, 20.0, 30.0])]
    assert rows[1] == [20.0, 1.0]


def test_batches_cut_in_order_and_nest_restores_the_shape() -> None:
    rows = [[float(i)] for i in range(10)]
    chunks = batches(rows, 4)
    assert [len(c) for c in chunks] == [4, 4, 2]
    assert list(itertools.chain.from_iterable(chunks)) == rows
    flat = list(range(24))
    nested = nest(flat, [2, 3, 4])
    assert np.array_equal(np.array(nested), np.arange(24).reshape(2, 3, 4))
    assert nest(flat[:5], [5]) == [0, 1, 2, 3, 4]
    assert batch_key(3) == "batch-0003" and batch_key(12345) == "batch-12345"


def test_a_range_axis_is_linspace_with_both_ends() -> None:
    inputs = SweepInputs(circuit=TWO, parameters={"theta": {"start": 0, "stop": 1, "num": 5}})
    assert inputs.axes["theta"] == [0.0, 0.25, 0.5, 0.75, 1.0]


@pytest.fixture
def broker(settings: Settings) -> Broker:
    return Broker(settings)


def _check(broker: Broker, inputs: dict[str, Any]) -> None:
    job = {"proposal": "local", "algorithm": {"name": "sweep", "inputs": inputs}}
    broker.parse_inputs(validate_job(job))


BOTH = {"theta": [0.0, 1.0], "phi": [0.0]}
ZZ = ["ZZ"]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (
            {"circuit": TWO, "parameters": {**BOTH, "psi": [1]}, "observables": ZZ},
            "algorithm.inputs.parameters.psi: the circuit has no parameter 'psi' "
            "(its parameters: phi, theta)",
        ),
        (
            {"circuit": TWO, "parameters": {"theta": [1]}, "observables": ZZ},
            "algorithm.inputs.parameters: no axis for the circuit's parameter(s) phi",
        ),
        (
            {"circuit": TWO, "parameters": {"theta": [], "phi": [0]}, "observables": ZZ},
            "algorithm.inputs.parameters.theta: should hold at least 1 item",
        ),
        (
            {"circuit": TWO, "parameters": {"theta": {"start": 0}, "phi": [0]}, "observables": ZZ},
            "algorithm.inputs.parameters.theta.stop: required field is missing",
        ),
        (
            {
                "circuit": TWO,
                "parameters": {
                    "theta": {"start": 0, "stop": 1, "num": 1000},
                    "phi": {"start": 0, "stop": 1, "num": 101},
                },
                "observables": ZZ,
            },
            f"the grid has 101000 points (1000 x 101); a sweep takes at most {MAX_POINTS}",
        ),
        (
            {
                "circuit": TWO,
                "parameters": {"theta": {"start": 0, "stop": 1, "num": 3000}, "phi": [0]},
                "observables": ZZ,
                "batch_size": 2,
            },
            f"algorithm.inputs.batch_size: 3000 points in batches of 2 make 1500 tasks; at "
            f"most {MAX_BATCHES}: use a batch_size of at least 3",
        ),
        (
            {"circuit": TWO, "parameters": BOTH, "observables": ["ZZ", "Z"]},
            "algorithm.inputs.observables[1]: acts on 1 qubits but the circuit has 2",
        ),
        (
            {"circuit": TWO, "parameters": BOTH, "observables": ["QQ"]},
            "algorithm.inputs.observables: observables[0]:",
        ),
        ({"circuit": MEASURED, "parameters": BOTH}, "algorithm.inputs.shots: without observables"),
        (
            {"circuit": TWO, "parameters": BOTH, "shots": 10},
            "algorithm.inputs.circuit: without observables a sweep samples the circuit's "
            "measurements, but it measures nothing",
        ),
        (
            {"circuit": "OPENQASM 3.0;\nqubit[1] q;\nfoo q[0];\n", "parameters": BOTH},
            "algorithm.inputs.circuit: ",
        ),
        (
            {"circuit": TWO, "parameters": BOTH, "observables": ZZ, "backends": ["aer", "nope"]},
            "algorithm.inputs.backends[1]: ",
        ),
        (
            {"circuit": TWO, "parameters": BOTH, "observables": ZZ, "backends": ["local"]},
            "algorithm.inputs.backends[0]: 'local' is a classical backend, not a quantum one",
        ),
        (
            {"circuit": TWO, "parameters": BOTH, "observables": ZZ, "batch_size": 0},
            "algorithm.inputs.batch_size: should be greater than or equal to 1",
        ),
    ],
)
def test_bad_sweeps_name_their_field(broker: Broker, inputs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidJob) as info:
        _check(broker, inputs)
    assert message in str(info.value)


def test_a_good_sweep_passes(broker: Broker) -> None:
    _check(broker, {"circuit": MEASURED, "parameters": BOTH, "shots": 100})
    _check(broker, {"circuit": TWO, "parameters": BOTH, "observables": "ZZ + 0.5 * XI"})


def _inputs(**extra: Any) -> SweepInputs:
    parameters = {"theta": [0.1, 0.2, 0.3], "phi": {"start": 0, "stop": 1, "num": 4}}
    return SweepInputs.model_validate(
        {"circuit": TWO, "parameters": parameters, "observables": ["ZI", "IZ"], **extra}
    )


def test_all_batches_go_out_at_once_round_robin() -> None:
    inputs = _inputs(batch_size=5, backends=["aer", "cirq"])
    out = Sweep().start(inputs, JOB, seed=40)
    assert [t.key for t in out.tasks] == ["batch-0000", "batch-0001", "batch-0002"]
    assert [t.backend for t in out.tasks] == ["aer", "cirq", "aer"]
    assert [t.quantum.seed for t in out.tasks if t.quantum] == [40, 41, 42]
    sizes = [len(t.quantum.items[0].parameter_values) for t in out.tasks if t.quantum]
    assert sizes == [5, 5, 2]
    needs = {(n.backend, n.unit): n.amount for n in Sweep().needs(inputs, JOB)}
    assert needs == {("aer", "evaluations"): 7, ("cirq", "evaluations"): 5}
    assert Sweep().backend_widths(inputs, JOB) == {"aer": 2, "cirq": 2}


def test_needs_count_shots_per_backend() -> None:
    sampled = _inputs(shots=100, batch_size=6)
    needs = {(n.backend, n.unit): n.amount for n in Sweep().needs(sampled, JOB)}
    # ZI and IZ are two observables of one commuting group each
    assert needs == {("aer", "evaluations"): 12, ("aer", "shots"): 12 * 100 * 2}
    counts = SweepInputs.model_validate(
        {"circuit": MEASURED, "parameters": {"theta": [1, 2], "phi": [3]}, "shots": 50}
    )
    needs = {(n.backend, n.unit): n.amount for n in Sweep().needs(counts, JOB)}
    assert needs == {("aer", "evaluations"): 2, ("aer", "shots"): 100}


def _answer(task: TaskRequest, circuit_order: tuple[str, ...]) -> QuantumResult:
    """Fabricated values that encode the point: [theta + 10 phi, -theta]."""
    assert task.quantum is not None
    rows = task.quantum.items[0].parameter_values
    by_name = [dict(zip(circuit_order, row, strict=True)) for row in rows]
    values = [[p["theta"] + 10 * p["phi"], -p["theta"]] for p in by_name]
    return QuantumResult(
        items=[ItemResult(expectation_values=values)],
        backend="test",
        backend_version="0",
        method="exact",
        shots=None,
        seed=task.quantum.seed,
        circuit_evaluations=len(rows),
        run_seconds=0.0,
    )


def test_results_come_back_in_grid_order_whatever_the_task_order() -> None:
    inputs = _inputs(batch_size=5)
    sweep = Sweep()
    out = sweep.start(inputs, JOB, seed=1)
    order = inputs.parsed.parameters
    results = {t.key: _answer(t, order) for t in reversed(out.tasks)}
    result = sweep.step(inputs, JOB, out.state, results).result
    assert result is not None
    assert result["axes"] == {"theta": [0.1, 0.2, 0.3], "phi": inputs.axes["phi"]}
    assert result["shape"] == [3, 4]
    for (i, theta), (j, phi) in itertools.product(
        enumerate(result["axes"]["theta"]), enumerate(result["axes"]["phi"])
    ):
        assert result["expectation_values"][i][j] == pytest.approx([theta + 10 * phi, -theta])
    assert result["best"] == {
        "index": [0, 0],
        "parameters": {"theta": 0.1, "phi": 0.0},
        "value": pytest.approx(0.1),
    }
    assert "std_errors" not in result


def test_counts_are_nested_by_grid_index() -> None:
    inputs = SweepInputs.model_validate(
        {"circuit": MEASURED, "parameters": {"theta": [1, 2, 3], "phi": [4, 5]}, "shots": 8}
    )
    out = Sweep().start(inputs, JOB, seed=1)
    task = out.tasks[0]
    assert task.quantum is not None
    rows = task.quantum.items[0].parameter_values
    counts = [{"00": int(row[0]), "11": int(row[1])} for row in rows]  # phi, theta
    result = QuantumResult(
        items=[ItemResult(counts=counts)],
        backend="test",
        backend_version="0",
        method="sampled",
        shots=8,
        seed=1,
        circuit_evaluations=len(rows),
        run_seconds=0.0,
    )
    final = Sweep().step(inputs, JOB, out.state, {task.key: result}).result
    assert final is not None
    assert final["counts"][2][0] == {"00": 4, "11": 3}  # theta = 3, phi = 4
    assert "best" not in final and "expectation_values" not in final

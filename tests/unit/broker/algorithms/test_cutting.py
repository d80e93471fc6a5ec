"""Circuit cutting: validation, the cut plan, the tasks it sends, and reconstruction of the
uncut values from exact subexperiment outcomes through the algorithm's own steps."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit.library import efficient_su2
from qiskit.quantum_info import Statevector
from qiskit_addon_cutting.utils.simulation import simulate_statevector_outcomes

from backends.base import ClassicalResult, ItemResult, QuantumResult
from broker.algorithms.cutting import tasks as cutting_tasks
from broker.algorithms.cutting.algorithm import MAX_SUBEXPERIMENTS, Cutting
from broker.algorithms.cutting.inputs import SHOTS_PER_TASK, CuttingInputs
from broker.algorithms.cutting.plan import assign_round_robin
from broker.algorithms.cutting.tasks import BOUND_SIGMAS
from broker.config import Settings
from broker.core.models import JobSpec
from broker.core.orchestrator import Broker
from broker.errors import InvalidJob
from broker.jobfile import validate_job
from circuits.canonical import Circuit
from circuits.observables import PauliSum

JOB = JobSpec(proposal="local", algorithm={"name": "cutting"}, backend="aer")
SU2: dict[str, Any] = {"library": "efficient_su2", "num_qubits": 8, "reps": 2, "seed": 5}
OBSERVABLES = ["ZIIIIIIZ + 0.5 * IIIZZIII", "XXXXXXXX - 0.25 * IIIIIIII"]


def _inputs(**changes: Any) -> CuttingInputs:
    raw: dict[str, Any] = {"circuit": SU2, "observables": OBSERVABLES, "partition": "AAAABBBB"}
    raw.update(changes)
    return CuttingInputs.model_validate(raw)


# --- validation ----------------------------------------------------------------------------


@pytest.fixture
def broker(settings: Settings) -> Broker:
    return Broker(settings)


def _check(broker: Broker, changes: dict[str, Any]) -> None:
    inputs: dict[str, Any] = {"circuit": SU2, "observables": OBSERVABLES, "partition": "AAAABBBB"}
    inputs.update(changes)
    job = {"proposal": "local", "algorithm": {"name": "cutting", "inputs": inputs}}
    broker.parse_inputs(validate_job(job))


MID_MEASURE = """OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
bit[1] c;
h q[0];
c[0] = measure q[0];
cx q[0], q[1];
"""


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"shot": 5}, "algorithm.inputs.shot: unknown field"),
        ({"num_samples": 0}, "algorithm.inputs.num_samples"),
        ({"observables": ["ZZZZZZZZ", "ZQ"]}, "algorithm.inputs.observables.1"),
        ({"observables": ["ZZZZZZZZ", "ZZZZ"]}, "algorithm.inputs.observables.1: acts on 4"),
        ({"observables": ["2 * IIIIIIII"]}, "algorithm.inputs.observables: only identity"),
        ({"partition": "AAAABBB"}, "algorithm.inputs.partition: has 7 labels but the circuit"),
        ({"max_subcircuit_qubits": 4}, "algorithm.inputs.partition: give either partition"),
        ({"partition": None}, "algorithm.inputs.partition: give how to cut: partition"),
        ({"cut_finding": {"wire_cuts": False}}, "algorithm.inputs.cut_finding: only applies"),
        (
            {"circuit": {**SU2, "parameters": [0.1, 0.2, 0.3]}},
            "algorithm.inputs.circuit.parameters: has 3 values but the circuit has 48",
        ),
        (
            {"circuit": {"qasm": MID_MEASURE}, "observables": ["ZZ"], "partition": "AB"},
            "algorithm.inputs.circuit.qasm: circuit .* measures or resets in the middle",
        ),
        (
            {"backends": ["aer", "local"]},
            "algorithm.inputs.backends\\[1\\]: 'local' is a classical",
        ),
        ({"backends": ["nosuch"]}, "algorithm.inputs.backends\\[0\\]: "),
        ({"backends": ["aer", "aer"]}, "algorithm.inputs.backends: names a backend twice"),
        (
            {"circuit": {**SU2, "entanglement": "full"}, "partition": "ABABABAB"},
            f"algorithm.inputs.num_samples: .* more than {MAX_SUBEXPERIMENTS}",
        ),
    ],
)
def test_bad_inputs_are_refused_naming_the_field(
    broker: Broker, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidJob, match=message):
        _check(broker, changes)


def test_sampled_weights_make_many_cuts_affordable(broker: Broker) -> None:
    many = {"circuit": {**SU2, "entanglement": "full"}, "partition": "ABABABAB"}
    _check(broker, {**many, "num_samples": 500})  # no error: at most 2 * 500 samples


# --- the plan ------------------------------------------------------------------------------


def test_a_partition_cuts_the_gates_between_its_parts() -> None:
    problem = _inputs().problem
    assert problem.widths == {"A": 4, "B": 4}
    assert len(problem.bases) == 2  # one CX between qubits 3 and 4 per repetition
    assert problem.sampling_overhead == pytest.approx(81.0)  # 9 per cut CX
    assert problem.groups("A") == problem.groups("B") == 2  # the Z strings, the X string
    assert problem.max_subexperiments(math.inf) == 36 * 2 * 2


def test_each_subexperiment_is_a_narrow_circuit_with_both_registers() -> None:
    inputs = _inputs()
    outcome = Cutting().start(inputs, JOB, seed=3)
    experiments = outcome.state["experiments"]
    assert len(experiments) == 144
    coefficients = [c for c, _ in outcome.state["coefficients"]]
    assert sum(abs(c) for c in coefficients) == pytest.approx(9.0)  # kappa = sqrt(81)
    items = {t.key: t.quantum.items for t in outcome.tasks if t.quantum is not None}
    mid = 0
    for exp in experiments:
        circuit = Circuit(qasm=items[exp["task"]][exp["item"]].circuit)
        assert circuit.num_qubits == 4
        layout = exp["layout"]
        obs_at, obs_size = layout["observable"]
        qpd_at, qpd_size = layout["qpd"]
        assert obs_at == 0 and qpd_at == obs_size
        assert circuit.num_clbits == layout["num_clbits"] == obs_size + qpd_size
        measured = [op for op in circuit.ir.ops if op.name == "measure"]
        mid += any(
            op.name != "measure" for op in circuit.ir.ops[circuit.ir.ops.index(measured[0]) :]
        )
    assert mid > 0, "QPD terms measure in the middle of the circuit"


def test_automatic_cuts_respect_the_width_and_may_cut_a_wire() -> None:
    qc = _fan_out()
    inputs = CuttingInputs.model_validate(
        {
            "circuit": {"qasm": Circuit.from_qiskit(qc).qasm},
            "observables": ["ZZZZZZ", "IIIXXI"],
            "max_subcircuit_qubits": 4,
        }
    )
    problem = inputs.problem
    assert max(problem.widths.values()) <= 4
    assert problem.wire_cuts == 1 and len(problem.bases) == 1
    assert problem.sampling_overhead == pytest.approx(16.0)  # one wire cut: kappa = 4


def _fan_out() -> QuantumCircuit:
    """Qubit 0 talks to every other qubit: one wire cut is cheaper than cutting its gates."""
    qc = QuantumCircuit(6)
    for q in range(6):
        qc.ry(0.3 + 0.2 * q, q)
    for q in range(1, 6):
        qc.cx(0, q)
    qc.cx(3, 4)
    qc.cx(4, 5)
    qc.cx(1, 2)
    for q in range(6):
        qc.rx(0.5 - 0.1 * q, q)
    return qc


def test_subexperiments_are_dealt_in_turn_and_sent_in_one_step() -> None:
    assert assign_round_robin(5, ["a", "b"]) == ["a", "b", "a", "b", "a"]
    inputs = _inputs(backends=["pennylane", "aer"], shots=1000, circuits_per_task=10)
    outcome = Cutting().start(inputs, JOB, seed=3)
    assert outcome.state["backends"] == {"pennylane": 72, "aer": 72}
    assert {t.backend for t in outcome.tasks} == {"pennylane", "aer"}
    assert all(t.quantum is not None and len(t.quantum.items) <= 10 for t in outcome.tasks)
    assert len(outcome.tasks) == 2 * 8  # 72 = 7 * 10 + 2 on each backend
    assert len({t.quantum.seed for t in outcome.tasks if t.quantum}) == len(outcome.tasks)
    assert (outcome.progress["done"], outcome.progress["total"]) == (0, 144)
    needs = {(n.backend, n.unit): n.amount for n in Cutting().needs(inputs, JOB)}
    assert needs[("pennylane", "evaluations")] == needs[("aer", "evaluations")] == 72
    assert needs[("aer", "shots")] == 72 * 1000
    assert ("local", "core_hours") in needs
    # By default a task holds at most SHOTS_PER_TASK shots, and at least one circuit.
    assert 1 < _inputs(shots=5_000).per_task <= SHOTS_PER_TASK // 5_000
    assert _inputs(shots=10 * SHOTS_PER_TASK).per_task == 1


def test_the_plan_is_the_same_for_the_same_seed_when_weights_are_sampled() -> None:
    inputs = _inputs(num_samples=20)
    first = Cutting().start(inputs, JOB, seed=8).state
    again = Cutting().start(inputs, JOB, seed=8).state
    other = Cutting().start(inputs, JOB, seed=9).state
    assert first["coefficients"] == again["coefficients"]
    assert first["coefficients"] != other["coefficients"]
    assert len(first["experiments"]) <= inputs.problem.max_subexperiments(20)


# --- reconstruction through the algorithm's steps ------------------------------------------

SCALE = 2**40  # outcome probabilities as counts, to ~1e-12


def _exact_counts(qasm: str) -> dict[str, int]:
    """Counts proportional to the exact outcome probabilities (mid-circuit ones included)."""
    circuit = Circuit(qasm=qasm)
    probabilities = simulate_statevector_outcomes(circuit.to_qiskit())
    width = circuit.num_clbits
    return {format(k, f"0{width}b"): round(p * SCALE) for k, p in probabilities.items() if p > 0}


def _run(inputs: CuttingInputs, seed: int = 1) -> dict[str, Any]:
    """The algorithm's steps with exact subexperiment outcomes and the real reconstruction."""
    algorithm = Cutting()
    outcome = algorithm.start(inputs, JOB, seed)
    results: dict[str, Any] = {}
    for task in outcome.tasks:
        assert task.quantum is not None
        items = [ItemResult(counts=[_exact_counts(i.circuit)]) for i in task.quantum.items]
        results[task.key] = QuantumResult(
            items=items,
            backend=task.backend or JOB.backend,
            backend_version="exact",
            method="exact",
            shots=SCALE,
            seed=None,
            circuit_evaluations=len(items),
            run_seconds=0.0,
        )
    second = algorithm.step(inputs, JOB, outcome.state, results)
    (task,) = second.tasks
    assert task.key == "reconstruct" and task.classical is not None
    total = len(outcome.state["experiments"])
    assert (second.progress["done"], second.progress["total"]) == (total, total)
    output = cutting_tasks.reconstruct(task.classical.payload)
    done = ClassicalResult(exit_code=0, output=output)
    final = algorithm.step(inputs, JOB, second.state, {"reconstruct": done})
    assert final.result is not None and not final.tasks
    return final.result


def _statevector_values(qc: QuantumCircuit, observables: list[str]) -> list[float]:
    state = Statevector(qc)
    return [
        float(state.expectation_value(PauliSum.from_text(o).to_sparse_pauli_op()).real)
        for o in observables
    ]


def test_exact_outcomes_reconstruct_the_uncut_values() -> None:
    result = _run(_inputs())
    qc = efficient_su2(8, reps=2, entanglement="linear")
    values = np.random.default_rng(SU2["seed"]).uniform(-math.pi, math.pi, qc.num_parameters)
    exact = _statevector_values(qc.assign_parameters(values), OBSERVABLES)
    assert result["expectation_values"] == pytest.approx(exact, abs=1e-9)
    assert result["reference"] == pytest.approx(exact, abs=1e-9)
    assert result["subexperiments"] == 144 and result["cuts"] == 2
    assert result["bound"] == pytest.approx([BOUND_SIGMAS * s for s in result["std_error_bound"]])


def test_a_wire_cut_found_automatically_reconstructs_the_uncut_values() -> None:
    qc = _fan_out()
    observables = ["ZZZZZZ", "0.5 * IIIXXI + YIIIIY"]
    inputs = CuttingInputs.model_validate(
        {
            "circuit": {"qasm": Circuit.from_qiskit(qc).qasm},
            "observables": observables,
            "max_subcircuit_qubits": 4,
        }
    )
    result = _run(inputs)
    assert result["expectation_values"] == pytest.approx(
        _statevector_values(qc, observables), abs=1e-9
    )
    assert result["wire_cuts"] == 1


def test_sampled_weights_need_fewer_subexperiments_and_pay_in_the_bound() -> None:
    exact_weights = _run(_inputs())
    sampled = _run(_inputs(num_samples=12), seed=4)
    assert sampled["coefficients"] < exact_weights["coefficients"] == 36
    assert sampled["subexperiments"] < exact_weights["subexperiments"]
    # Every joint term has probability 1/36 < 1/12, so all 12 draws are sampled: each
    # Pauli's variance gains kappa^2 / 12 = 81 / 12 (scaled by the observable's weight).
    for obs, s, e in zip(
        OBSERVABLES, sampled["std_error_bound"], exact_weights["std_error_bound"], strict=True
    ):
        weight = sum(abs(t.coeff) for t in PauliSum.from_text(obs).terms if not t.is_identity)
        assert (s / weight) ** 2 - (e / weight) ** 2 == pytest.approx(81 / 12)
    for value, want, bound in zip(
        sampled["expectation_values"],
        exact_weights["expectation_values"],
        sampled["bound"],
        strict=True,
    ):
        assert abs(value - want) <= bound


def test_an_idle_qubit_gets_a_partition_of_its_own_when_cuts_are_found() -> None:
    qc = QuantumCircuit(5)
    for q in range(4):
        qc.ry(0.4 + 0.3 * q, q)
    qc.cx(0, 1)
    qc.cx(1, 2)
    qc.cx(2, 3)  # qubit 4 is never touched
    observables = ["ZIIII + IIZZI", "XIIIX - 0.5 * ZIIIZ"]
    inputs = CuttingInputs.model_validate(
        {
            "circuit": {"qasm": Circuit.from_qiskit(qc).qasm},
            "observables": observables,
            "max_subcircuit_qubits": 2,
            "cut_finding": {"wire_cuts": False},
        }
    )
    assert sorted(inputs.problem.widths.values()) == [1, 2, 2]
    result = _run(inputs)
    assert result["expectation_values"] == pytest.approx(
        _statevector_values(qc, observables), abs=1e-9
    )

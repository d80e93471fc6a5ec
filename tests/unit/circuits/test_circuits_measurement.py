"""Shot-based estimation of Pauli sums agrees with exact expectation values."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import Statevector
from qiskit_aer import AerSimulator

from circuits import CircuitError, ObservableError, PauliSum
from circuits.ir import CircuitIR, Op
from circuits.measurement import (
    MeasurementGroup,
    basis_change_ops,
    estimate,
    measurement_groups,
    with_measurements,
)
from circuits.qiskit_convert import from_qiskit, to_qiskit

H2 = PauliSum.from_text(
    "-1.052373245772859*II + 0.39793742484318045*IZ - 0.39793742484318045*ZI "
    "- 0.01128010425623538*ZZ + 0.18093119978423156*XX"
)


def random_state(num_qubits: int, seed: int) -> QuantumCircuit:
    rng = np.random.default_rng(seed)
    qc = QuantumCircuit(num_qubits)
    for _ in range(2):
        for q in range(num_qubits):
            qc.u(*rng.uniform(-np.pi, np.pi, size=3), q)
        for q in range(num_qubits - 1):
            qc.cx(q, q + 1)
    return qc


def sampled_estimate(
    observable: PauliSum, state: QuantumCircuit, shots: int, seed: int
) -> tuple[float, float]:
    ir = from_qiskit(state)
    groups = measurement_groups(observable)
    simulator = AerSimulator(seed_simulator=seed)
    counts = [
        simulator.run(to_qiskit(with_measurements(ir, g)), shots=shots).result().get_counts()
        for g in groups
    ]
    return estimate(groups, counts)


@pytest.mark.parametrize(
    ("observable", "seed"),
    [
        (H2, 11),
        (PauliSum.from_text("0.7*XYZ - 0.4*YYI + 0.25*ZIX + 1.5*III - 0.3*IZZ + 0.2*YXY"), 5),
    ],
)
def test_sampled_estimate_agrees_with_exact_within_5_sigma(observable: PauliSum, seed: int) -> None:
    state = random_state(observable.num_qubits, seed)
    exact = observable.expectation(Statevector(state).data)
    value, error = sampled_estimate(observable, state, shots=8000, seed=seed)
    assert 0 < error < 0.05
    assert abs(value - exact) < 5 * error


def test_groups_are_qubit_wise_commuting_and_cover_all_terms() -> None:
    ps = PauliSum.from_text("1*XXI + 1*XIX + 2*IZZ + 3*III + 1*YYY - 1*ZZI")
    groups = measurement_groups(ps)
    covered = sorted((t.pauli, t.coeff) for g in groups for t in g.terms)
    assert covered == sorted((t.pauli, t.coeff) for t in ps.terms)
    for group in groups:
        for term in group.terms:
            for letter, basis in zip(term.pauli, group.basis, strict=True):
                assert letter in ("I", basis)
    assert len(groups) == 3


def test_basis_change_ops() -> None:
    group = MeasurementGroup(basis="ZYX", terms=[])
    assert basis_change_ops(group, 3) == [
        Op("h", (0,)),
        Op("sdg", (1,)),
        Op("h", (1,)),
        Op("measure", (0,), (), (0,)),
        Op("measure", (1,), (), (1,)),
        Op("measure", (2,), (), (2,)),
    ]
    with pytest.raises(ObservableError, match="acts on 3 qubits but the circuit has 2"):
        basis_change_ops(group, 2)


def test_with_measurements_refuses_measured_circuits() -> None:
    ir = CircuitIR(1, 1, (), (Op("measure", (0,), (), (0,)),))
    with pytest.raises(CircuitError, match="already contains measurements"):
        with_measurements(ir, MeasurementGroup(basis="Z", terms=[]))


def test_estimate_on_known_counts() -> None:
    ps = PauliSum.from_text("2*II + 0.5*IZ - 1*ZZ")
    groups = measurement_groups(ps)
    assert len(groups) == 1
    # Qubit 0 is the rightmost bit: "01" means qubit 0 = 1, so IZ = -1 and ZZ = -1.
    value, error = estimate(groups, [{"01": 100}])
    assert value == pytest.approx(2 - 0.5 + 1)
    assert error == 0.0
    value, error = estimate(groups, [{"00": 50, "01": 50}])
    # Per-shot values: 00 -> 2 + 0.5 - 1 = 1.5, 01 -> 2.5; mean 2, sample std 0.5025..
    assert value == pytest.approx(2.0)
    assert error == pytest.approx(np.sqrt(0.25 * 100 / 99 / 100))


def test_identity_only_needs_no_shots() -> None:
    groups = measurement_groups(PauliSum.from_text("-1.5*II"))
    assert not any(g.needs_shots for g in groups)
    assert estimate(groups, [{} for _ in groups]) == (-1.5, 0.0)


def test_estimate_errors() -> None:
    groups = measurement_groups(PauliSum.from_text("1*ZZ"))
    with pytest.raises(ObservableError, match="1 measurement groups but 2 counts"):
        estimate(groups, [{"00": 1}, {"00": 1}])
    with pytest.raises(ObservableError, match="no shots"):
        estimate(groups, [{}])
    with pytest.raises(ObservableError, match="not a bitstring"):
        estimate(groups, [{"0a": 3}])

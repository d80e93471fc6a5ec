"""VQE final analysis: energies, fidelity, gap and term energies of an ansatz state."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from qiskit.circuit.library import real_amplitudes
from qiskit.quantum_info import Statevector
from scipy.optimize import minimize

from broker.algorithms.analysis import vqe_analysis
from circuits.canonical import Circuit
from circuits.observables import PauliSum
from tests.conftest import H2_TERMS

OFFSET = 0.7199689944489797
HAMILTONIAN = PauliSum.from_list(H2_TERMS)
ANSATZ = Circuit.from_qiskit(real_amplitudes(2, reps=1))


def energy(parameters: np.ndarray[Any, Any]) -> float:
    return HAMILTONIAN.expectation(Statevector(ANSATZ.bind(list(parameters))).data)


@pytest.fixture(scope="module")
def optimum() -> list[float]:
    result = minimize(
        energy, [0.1] * len(ANSATZ.parameters), method="BFGS", options={"gtol": 1e-10}
    )
    return [float(v) for v in result.x]


def analyse(parameters: list[float], offset: float = OFFSET) -> dict[str, Any]:
    return vqe_analysis(
        {
            "hamiltonian": HAMILTONIAN.model_dump(),
            "circuit": ANSATZ.qasm,
            "parameters": parameters,
            "energy_offset": offset,
        }
    )


def test_optimized_parameters_give_the_ground_state(optimum: list[float]) -> None:
    result = analyse(optimum)
    assert result["exact_energy"] == pytest.approx(HAMILTONIAN.ground_energy() + OFFSET)
    assert result["ground_state_fidelity"] > 0.999
    assert -1e-12 <= result["error"] < 1e-6
    assert result["spectral_gap"] > 0.1


def test_zero_parameters_are_far_from_the_ground_state() -> None:
    result = analyse([0.0] * len(ANSATZ.parameters))
    assert result["ground_state_fidelity"] < 0.9
    assert result["error"] > 0.01
    assert result["state_energy"] == pytest.approx(result["exact_energy"] + result["error"])


def test_term_energies_add_up_to_the_state_energy(optimum: list[float]) -> None:
    for parameters in (optimum, [0.3, -1.2, 0.7, 2.0]):
        result = analyse(parameters)
        terms = result["term_energies"]
        assert [t["pauli"] for t in terms] == [label for label, _ in H2_TERMS]
        total = sum(t["coefficient"] * t["expectation"] for t in terms)
        assert total == pytest.approx(result["state_energy"] - OFFSET, abs=1e-12)
        assert all(-1 - 1e-12 <= t["expectation"] <= 1 + 1e-12 for t in terms)


def test_output_is_plain_json(optimum: list[float]) -> None:
    result = analyse(optimum)
    assert json.loads(json.dumps(result)) == result
    scalars = ["exact_energy", "state_energy", "error", "ground_state_fidelity", "spectral_gap"]
    assert all(type(result[key]) is float for key in scalars)


def test_degenerate_ground_space_counts_whole_weight() -> None:
    # Z on qubit 0 only: |01> and |11> both have energy -1; the state (|01> + |11>)/√2 made
    # by X on qubit 0 and H on qubit 1 lies wholly in that ground space.
    qasm = 'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nx q[0];\nh q[1];\n'
    result = vqe_analysis(
        {
            "hamiltonian": PauliSum.from_list([("IZ", 1.0)]).model_dump(),
            "circuit": qasm,
            "parameters": [],
        }
    )
    assert result["ground_state_fidelity"] == pytest.approx(1.0)
    assert result["error"] == pytest.approx(0.0, abs=1e-12)
    assert result["spectral_gap"] == pytest.approx(2.0)


def test_measurements_are_ignored_and_qubit_counts_checked() -> None:
    measured = ANSATZ.to_qiskit()
    measured.measure_all()
    result = vqe_analysis(
        {
            "hamiltonian": HAMILTONIAN.model_dump(),
            "circuit": Circuit.from_qiskit(measured).qasm,
            "parameters": [0.0] * 4,
        }
    )
    assert result["state_energy"] == pytest.approx(analyse([0.0] * 4, offset=0.0)["state_energy"])
    with pytest.raises(ValueError, match="qubits"):
        vqe_analysis(
            {
                "hamiltonian": PauliSum.from_list([("ZZZ", 1.0)]).model_dump(),
                "circuit": ANSATZ.qasm,
                "parameters": [0.0] * 4,
            }
        )

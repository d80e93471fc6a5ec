"""Resource estimates: circuit size, executions and shots of a request."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from circuits import Circuit, CircuitError, ObservableError, PauliSum
from circuits.coerce import coerce_pub
from circuits.resources import ResourceEstimate, estimate, estimate_pub

TEXT = """\
OPENQASM 3.0;
input float[64] theta;
qubit[3] q;
bit[2] c;
h q[0];
rz(theta) q[1];
cx q[0], q[1];
cx q[1], q[2];
barrier q;
c[0] = measure q[0];
"""


def test_size_of_the_circuit() -> None:
    result = estimate(Circuit.from_qasm(TEXT))
    assert result.qubits == 3 and result.clbits == 2
    assert result.depth == 3 and result.two_qubit_gates == 2
    assert result.gates == {"barrier": 1, "cx": 2, "h": 1, "measure": 1, "rz": 1}
    assert result.parameters == 1 and result.parameter_sets == 1
    assert result.shots is None and result.total_shots is None
    assert result.executions == 1


def test_sampling_and_estimation_executions() -> None:
    circuit = Circuit.from_qasm(TEXT)
    sampled = estimate(circuit, parameter_sets=5, shots=1000)
    assert (sampled.executions, sampled.total_shots) == (5, 5000)
    # ZZI and ZIZ share a group, XXX needs its own; the identity term rides along.
    h = PauliSum.from_text("0.5*ZZI + 0.2*ZIZ - 0.3*XXX + 1.0*III")
    z = PauliSum.from_text("1*IIZ")
    measured = estimate(circuit, parameter_sets=4, shots=100, observables=[h, z])
    assert measured.executions == 4 * (2 + 1)
    assert measured.total_shots == 1200
    exact = estimate(circuit, parameter_sets=4, observables=[h, z])
    assert (exact.executions, exact.total_shots) == (4, None)


def test_estimate_of_a_pub() -> None:
    pub = coerce_pub((Circuit.from_qasm(TEXT), "ZZI", [[0.1], [0.2]]), shots=10)
    assert estimate_pub(pub).total_shots == 20


def test_bad_requests_are_refused() -> None:
    circuit = Circuit.from_qasm(TEXT)
    with pytest.raises(CircuitError, match="parameter_sets must be at least 1"):
        estimate(circuit, parameter_sets=0)
    with pytest.raises(CircuitError, match="shots must be a positive integer"):
        estimate(circuit, shots=0)
    with pytest.raises(ObservableError, match="observable 0 acts on 2 qubits"):
        estimate(circuit, shots=10, observables=[PauliSum.from_text("1*ZZ")])


def test_estimate_is_frozen_and_serialisable() -> None:
    result = estimate(Circuit.from_qasm(TEXT), shots=10)
    with pytest.raises(ValidationError):
        result.shots = 5  # type: ignore[misc]
    assert ResourceEstimate.model_validate_json(result.model_dump_json()) == result

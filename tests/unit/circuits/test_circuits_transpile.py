"""Transpiling to a device: basis gates, routing on a coupling map, layouts and observables."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from qiskit.quantum_info import Statevector

from circuits import Circuit, CircuitError, ObservableError, PauliSum
from circuits.transpile import DeviceConstraints, transpile_for

# theta_ is renamed by a plain from_qiskit; the transpiled circuit must keep it.
TEXT = """\
OPENQASM 3.0;
input float[64] theta_;
input float[64] beta;
qubit[3] q;
h q[0];
cx q[0], q[2];
rz(2*theta_) q[1];
cx q[1], q[2];
ry(beta) q[0];
cx q[2], q[0];
rxx(beta) q[0], q[1];
"""

BASIS = ["rz", "sx", "x", "cx"]
OBSERVABLE = PauliSum.from_text("0.5*ZXY - 0.3*IZZ + 1.2*XII + 0.7*YYX - 0.4*ZIZ")
VALUES = [0.3, -1.1]


def _expectation(circuit: Circuit, observable: PauliSum) -> float:
    return observable.expectation(Statevector(circuit.bind(VALUES)).data)


@pytest.mark.parametrize("num_qubits", [3, 5])
def test_line_coupling_keeps_the_state_up_to_layout(num_qubits: int) -> None:
    circuit = Circuit.from_qasm(TEXT)
    line = [[i, i + 1] for i in range(num_qubits - 1)]
    device = DeviceConstraints(
        name="line", num_qubits=num_qubits, basis_gates=BASIS, coupling_map=line
    )
    result = transpile_for(circuit, device, seed=11)
    ops = result.circuit.ir.ops
    assert {op.name for op in ops} <= set(BASIS)
    assert all(op.qubits in {(a, b) for a, b in line} for op in ops if len(op.qubits) == 2)
    assert result.circuit.parameters == ("theta_", "beta")
    assert result.circuit.num_qubits == num_qubits
    assert sorted(result.layout) == sorted(set(result.layout)) and len(result.layout) == 3
    expected = _expectation(circuit, OBSERVABLE)
    mapped = result.map_observable(OBSERVABLE)
    assert mapped.num_qubits == num_qubits
    assert _expectation(result.circuit, mapped) == pytest.approx(expected, abs=1e-9)


def test_basis_only_and_gates_outside_our_set() -> None:
    circuit = Circuit.from_qasm(TEXT)
    plain = transpile_for(circuit, DeviceConstraints(name="any", num_qubits=3, basis_gates=BASIS))
    assert plain.layout == (0, 1, 2)
    assert _expectation(plain.circuit, OBSERVABLE) == pytest.approx(
        _expectation(circuit, OBSERVABLE), abs=1e-9
    )
    # ecr is not one of our gates: it is re-expressed in ours.
    ecr = DeviceConstraints(
        name="ecr",
        num_qubits=3,
        basis_gates=["rz", "sx", "x", "ecr"],
        coupling_map=[[0, 1], [1, 2]],
    )
    result = transpile_for(circuit, ecr, seed=3)
    assert "ecr" not in {op.name for op in result.circuit.ir.ops}
    assert _expectation(result.circuit, result.map_observable(OBSERVABLE)) == pytest.approx(
        _expectation(circuit, OBSERVABLE), abs=1e-9
    )


def test_measurements_survive_routing() -> None:
    circuit = Circuit.from_qasm(
        "qubit[3] q;\nbit[3] c;\nx q[0];\ncx q[0], q[2];\nc[0] = measure q[0];\n"
        "c[2] = measure q[2];\n"
    )
    device = DeviceConstraints(
        name="line", num_qubits=3, basis_gates=BASIS, coupling_map=[[0, 1], [1, 2]]
    )
    result = transpile_for(circuit, device, seed=1)
    measured = [op for op in result.circuit.ir.ops if op.name == "measure"]
    assert sorted(op.clbits[0] for op in measured) == [0, 2]
    assert result.circuit.num_clbits == 3


def test_fits_names_the_numbers() -> None:
    device = DeviceConstraints(name="small", num_qubits=5)
    wide = Circuit.from_qasm("qubit[7] q;\nh q[6];\n")
    assert device.fits(wide) == "the circuit has 7 qubits but small has 5"
    assert device.fits(Circuit.from_qasm(TEXT)) is None
    with pytest.raises(CircuitError, match="7 qubits but small has 5"):
        transpile_for(wide, device)
    split = DeviceConstraints(name="split", num_qubits=4, coupling_map=[[0, 1], [2, 3]])
    message = split.fits(Circuit.from_qasm(TEXT))
    assert message is not None and "links 3 qubits" in message and "has 2" in message
    single = DeviceConstraints(name="1q", num_qubits=3, basis_gates=["rz", "sx"])
    assert "no such basis gate" in (single.fits(Circuit.from_qasm(TEXT)) or "")
    assert single.fits(Circuit.from_qasm("qubit[3] q;\nh q[0];\nh q[2];\n")) is None


def test_device_constraints_are_checked() -> None:
    with pytest.raises(ValidationError, match="coupling pair"):
        DeviceConstraints(name="bad", num_qubits=2, coupling_map=[[0, 2]])
    with pytest.raises(ValidationError, match="basis_gates is empty"):
        DeviceConstraints(name="bad", num_qubits=2, basis_gates=[])
    device = DeviceConstraints.model_validate_json(
        '{"name": "d", "num_qubits": 3, "coupling_map": [[0, 1], [1, 2]]}'
    )
    assert device.coupling_map == [(0, 1), (1, 2)]
    cmap = device.qiskit_coupling_map()
    assert cmap is not None and sorted(cmap.physical_qubits) == [0, 1, 2]


def test_map_observable_checks_width() -> None:
    device = DeviceConstraints(name="any", num_qubits=3, basis_gates=BASIS)
    result = transpile_for(Circuit.from_qasm(TEXT), device)
    with pytest.raises(ObservableError, match="2 qubits but the original circuit has 3"):
        result.map_observable(PauliSum.from_text("1*ZZ"))

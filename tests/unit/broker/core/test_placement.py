"""A task's size for the priority's size factor is in its backend's units: a classical
task's nodes, a quantum batch's widest circuit in qubits; a quantum backend's size is its
qubits unless it says otherwise."""

from __future__ import annotations

from backends.base import Capabilities, QuantumBatch, QuantumItem
from broker.core import placement
from broker.core.models import TaskRequest
from broker.core.placement import task_size


def _circuit(qubits: int) -> str:
    return f'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[{qubits}] q;\nh q[0];\n'


def test_a_quantum_task_is_as_large_as_its_widest_circuit() -> None:
    batch = QuantumBatch(
        items=[QuantumItem(circuit=_circuit(2), parameter_values=[[]] * 40),
               QuantumItem(circuit=_circuit(5))]
    )  # fmt: skip
    assert task_size(TaskRequest(key="k", kind="quantum", quantum=batch)) == 5.0


def test_a_circuit_that_does_not_parse_counts_as_one_qubit() -> None:
    batch = QuantumBatch(items=[QuantumItem(circuit="OPENQASM 3.0; qubit[2 q;")])
    assert task_size(TaskRequest(key="k", kind="quantum", quantum=batch)) == 1.0


def test_a_quantum_backend_is_as_large_as_its_qubits_unless_it_says() -> None:
    assert Capabilities(kind="quantum", version="1", max_qubits=127).size == 127.0
    assert Capabilities(kind="quantum", version="1", max_qubits=127, size=20).size == 20.0
    assert Capabilities(kind="quantum", version="1").size is None
    assert Capabilities(kind="classical", version="1", max_qubits=None).size is None


def test_a_width_admission_found_is_used_and_the_widths_kept_are_bounded() -> None:
    placement.remember_width("not a circuit at all", 7)  # as admission's check records it
    assert placement.circuit_width("not a circuit at all") == 7
    for i in range(placement.WIDTHS_KEPT + 10):
        placement.remember_width(f"circuit {i}", 3)
    assert len(placement._WIDTHS) <= placement.WIDTHS_KEPT

"""Fitting circuits to a device: size and connectivity checks, and transpilation with Qiskit.

:func:`transpile_for` runs ``qiskit.transpile`` with a device's basis gates and coupling map
and gives the canonical :class:`Circuit` of the result together with its layout, so that
observables of the original circuit can be moved onto the transpiled circuit's qubits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from qiskit import transpile
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.transpiler import CouplingMap

from circuits import expressions, qiskit_convert
from circuits.canonical import Circuit
from circuits.errors import CircuitError, ObservableError
from circuits.ir import CircuitIR
from circuits.observables import PauliSum

__all__ = ["DeviceConstraints", "Transpiled", "transpile_for"]


class DeviceConstraints(BaseModel):
    """What a device offers: its qubits, native gates and connectivity.

    ``basis_gates`` are Qiskit gate names (``None``: any of ours); ``coupling_map`` lists the
    directed pairs ``[control, target]`` on which two-qubit gates run (``None``: all pairs).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    num_qubits: int = Field(ge=1)
    basis_gates: list[str] | None = None
    coupling_map: list[tuple[int, int]] | None = None

    @field_validator("basis_gates")
    @classmethod
    def _some_gates(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("basis_gates is empty; give None to allow every gate")
        return value

    @model_validator(mode="after")
    def _pairs_in_range(self) -> DeviceConstraints:
        for a, b in self.coupling_map or ():
            if a == b or not (0 <= a < self.num_qubits and 0 <= b < self.num_qubits):
                raise ValueError(
                    f"coupling pair [{a}, {b}] needs two different qubits in "
                    f"0..{self.num_qubits - 1}"
                )
        return self

    def qiskit_coupling_map(self) -> CouplingMap | None:
        """The coupling map as a Qiskit ``CouplingMap`` over all ``num_qubits`` qubits."""
        if self.coupling_map is None:
            return None
        cmap = CouplingMap([list(pair) for pair in self.coupling_map])
        for qubit in range(self.num_qubits):
            if qubit not in cmap.physical_qubits:
                cmap.add_physical_qubit(qubit)
        return cmap

    def fits(self, circuit: Circuit) -> str | None:
        """``None`` if ``circuit`` can run here after transpilation, otherwise why not.

        Checks the qubit count, that qubits linked by multi-qubit gates fit in one connected
        part of the coupling map, and that the basis has a multi-qubit gate when one is needed.
        """
        if circuit.num_qubits > self.num_qubits:
            return (
                f"the circuit has {circuit.num_qubits} qubits but {self.name} has {self.num_qubits}"
            )
        linked = _largest_group(
            circuit.num_qubits,
            [op.qubits for op in circuit.ir.ops if op.name != "barrier" and len(op.qubits) > 1],
        )
        if self.coupling_map is not None:
            connected = _largest_group(self.num_qubits, self.coupling_map)
            if linked > connected:
                return (
                    f"the circuit links {linked} qubits by multi-qubit gates but the largest "
                    f"connected group of qubits on {self.name} has {connected}"
                )
        if self.basis_gates is not None and linked > 1:
            standard = get_standard_gate_name_mapping()
            # Names Qiskit does not know might be multi-qubit gates: give them the benefit.
            if all(name in standard and standard[name].num_qubits < 2 for name in self.basis_gates):
                return f"the circuit has multi-qubit gates but {self.name} has no such basis gate"
        return None


def _largest_group(size: int, links: Sequence[tuple[int, ...]]) -> int:
    """Size of the largest set of nodes ``0..size-1`` connected through ``links``."""
    parent = list(range(size))

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for link in links:
        for other in link[1:]:
            parent[root(other)] = root(link[0])
    sizes: dict[int, int] = {}
    for node in range(size):
        sizes[root(node)] = sizes.get(root(node), 0) + 1
    return max(sizes.values(), default=0)


class Transpiled(BaseModel):
    """A circuit transpiled for a device.

    ``circuit`` keeps the original parameters in their order (some may no longer be used)
    and has one qubit per device qubit when the device has a coupling map. ``layout[i]`` is
    the physical qubit holding virtual qubit ``i`` at the end of the circuit.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    device: str
    circuit: Circuit
    layout: tuple[int, ...]

    def map_observable(self, observable: PauliSum) -> PauliSum:
        """``observable`` of the original circuit's qubits, moved onto the transpiled ones."""
        if observable.num_qubits != len(self.layout):
            raise ObservableError(
                f"the observable acts on {observable.num_qubits} qubits but the original "
                f"circuit has {len(self.layout)}"
            )
        op = observable.to_sparse_pauli_op().apply_layout(
            list(self.layout), num_qubits=self.circuit.num_qubits
        )
        return PauliSum.from_sparse_pauli_op(op)


def transpile_for(
    circuit: Circuit,
    device: DeviceConstraints,
    *,
    optimization_level: int = 1,
    seed: int | None = None,
) -> Transpiled:
    """Transpile ``circuit`` to ``device``'s basis gates and coupling map with Qiskit.

    Gates the device has but our canonical set lacks are re-expressed in our gates (as any
    circuit taken from Qiskit), so the result then uses gates outside ``basis_gates``.
    Raises :class:`CircuitError` when the circuit does not fit (see
    :meth:`DeviceConstraints.fits`) or Qiskit cannot transpile it.
    """
    problem = device.fits(circuit)
    if problem is not None:
        raise CircuitError(problem, hint="choose a larger device or split the circuit")
    if not 0 <= optimization_level <= 3:
        raise CircuitError(f"optimization_level must be 0 to 3, not {optimization_level}")
    try:
        basis = device.basis_gates
        if basis is not None and any(op.condition for op in circuit.ir.ops):
            basis = [*basis, "if_else"]  # a basis without it would refuse the circuit
        result: Any = transpile(
            circuit.to_qiskit(),
            basis_gates=basis,
            coupling_map=device.qiskit_coupling_map(),
            optimization_level=optimization_level,
            seed_transpiler=seed,
        )
    except Exception as exc:  # transpile raises many unrelated types
        raise CircuitError(f"cannot transpile the circuit for {device.name}: {exc}") from exc
    ir = qiskit_convert.from_qiskit(result)
    # from_qiskit orders parameters as Qiskit does (by name), drops unused ones and may
    # rename some (``theta_`` to ``theta``); binding must stay positional in the original order.
    originals = [p.name for p in result.parameters]
    back = dict(zip(qiskit_convert.sanitize_names(originals), originals, strict=True))
    ops = tuple(
        replace(op, params=tuple(expressions.rename(p, back) for p in op.params)) for op in ir.ops
    )
    ir = CircuitIR(ir.num_qubits, ir.num_clbits, circuit.parameters, ops)
    if result.layout is None:
        layout = tuple(range(circuit.num_qubits))
    else:
        layout = tuple(int(q) for q in result.layout.final_index_layout())
    return Transpiled(device=device.name, circuit=Circuit.from_ir(ir), layout=layout)

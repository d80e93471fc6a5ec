"""The :class:`Circuit` model: a circuit stored as canonical OpenQASM 3 text.

The text is always canonical (parsed and re-emitted on validation), so texts differing only
in whitespace, comments, aliases or register names give equal circuits with equal
:attr:`Circuit.sha256`.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr, field_validator
from qiskit import QuantumCircuit

from circuits import qasm, qiskit_convert
from circuits.errors import CircuitError
from circuits.ir import CircuitIR, depth, two_qubit_gate_count

__all__ = ["Circuit"]


class Circuit(BaseModel):
    """A circuit in canonical OpenQASM 3 text; its identity is :attr:`sha256` of that text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    qasm: str

    # Set once in model_post_init; always present so that == only depends on ``qasm``.
    _ir: CircuitIR = PrivateAttr()

    @field_validator("qasm")
    @classmethod
    def _canonical(cls, value: str) -> str:
        return qasm.dumps(_load(value))

    def model_post_init(self, context: Any, /) -> None:
        """Cache the IR of the canonical text (usually already parsed by the validator)."""
        self._ir = _load(self.qasm)

    @classmethod
    def from_qasm(cls, text: str) -> Circuit:
        """Parse OpenQASM text; raises :class:`~circuits.errors.CircuitError` (with line)."""
        return cls.from_ir(qasm.loads(text))

    @classmethod
    def from_ir(cls, ir: CircuitIR) -> Circuit:
        """Wrap an IR (checked and canonicalised); :class:`CircuitError` when its canonical
        text would pass the size limit of stored circuits."""
        text = qasm.dumps(ir)
        size = len(text.encode("utf-8"))
        if size > qasm.DEFAULT_MAX_BYTES:
            raise CircuitError(
                f"the circuit's canonical text would be {size} bytes, more than the limit of "
                f"{qasm.DEFAULT_MAX_BYTES}",
                hint="split the work into smaller circuits",
            )
        return cls(qasm=text)

    @classmethod
    def from_qiskit(cls, qc: QuantumCircuit) -> Circuit:
        """Convert a Qiskit circuit (unsupported gates decomposed, names sanitised)."""
        return cls.from_ir(qiskit_convert.from_qiskit(qc))

    @property
    def ir(self) -> CircuitIR:
        """The gate-list IR."""
        return self._ir

    @property
    def sha256(self) -> str:
        """Hex sha256 of the canonical UTF-8 text: the circuit's identity."""
        return hashlib.sha256(self.qasm.encode("utf-8")).hexdigest()

    @property
    def num_qubits(self) -> int:
        """Number of qubits."""
        return self._ir.num_qubits

    @property
    def num_clbits(self) -> int:
        """Number of classical bits."""
        return self._ir.num_clbits

    @property
    def parameters(self) -> tuple[str, ...]:
        """Input parameter names, in the order values are bound."""
        return self._ir.parameters

    @property
    def depth(self) -> int:
        """Depth as Qiskit counts it (barriers excluded)."""
        return depth(self._ir)

    @property
    def two_qubit_gates(self) -> int:
        """Number of two-qubit gates."""
        return two_qubit_gate_count(self._ir)

    @property
    def has_measurements(self) -> bool:
        """Whether the circuit measures any qubit."""
        return any(op.name == "measure" for op in self._ir.ops)

    def to_qiskit(self) -> QuantumCircuit:
        """A Qiskit circuit; bind it with :meth:`bind` or in :attr:`parameters` order."""
        return qiskit_convert.to_qiskit(self._ir)

    def bind(self, values: Sequence[float]) -> QuantumCircuit:
        """A bound Qiskit circuit, ``values`` given in :attr:`parameters` order."""
        return qiskit_convert.bind(self.to_qiskit(), self._ir, values)


@functools.lru_cache(maxsize=8)
def _load(text: str) -> CircuitIR:
    # Validation parses the text; when it is already canonical (the usual case: from_ir,
    # or reading a stored circuit back) model_post_init then gets the IR without a reparse.
    return qasm.loads(text)

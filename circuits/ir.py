"""Gate-list intermediate representation (IR) shared by the text form and the SDK converters.

Qubits and clbits are plain indices. Gate parameters are expression *text* in the syntax of
:mod:`circuits.expressions`, so the IR never holds SDK objects and is trivially hashable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from circuits import expressions
from circuits.errors import CircuitError

__all__ = [
    "GATES",
    "MAX_QUBITS",
    "NON_UNITARY",
    "CircuitIR",
    "Condition",
    "GateSpec",
    "Op",
    "depth",
    "supported_gate_names",
    "two_qubit_gate_count",
    "validate",
]

MAX_QUBITS = 100_000
"""Largest number of qubits (or clbits) a circuit may have."""


@dataclass(frozen=True)
class GateSpec:
    """Shape of a supported operation.

    ``num_qubits`` is ``None`` for ``barrier``, which takes any number of qubits.
    ``num_clbits`` is 1 only for ``measure``.
    """

    num_qubits: int | None
    num_params: int = 0
    num_clbits: int = 0
    unitary: bool = True


def _specs() -> dict[str, GateSpec]:
    specs: dict[str, GateSpec] = {}
    for name in ("id", "x", "y", "z", "h", "s", "sdg", "t", "tdg", "sx", "sxdg"):
        specs[name] = GateSpec(1)
    for name in ("rx", "ry", "rz", "p"):
        specs[name] = GateSpec(1, 1)
    specs["u"] = GateSpec(1, 3)
    for name in ("cx", "cy", "cz", "ch", "swap"):
        specs[name] = GateSpec(2)
    for name in ("crx", "cry", "crz", "cp", "rxx", "ryy", "rzz"):
        specs[name] = GateSpec(2, 1)
    for name in ("ccx", "cswap"):
        specs[name] = GateSpec(3)
    specs["measure"] = GateSpec(1, num_clbits=1, unitary=False)
    specs["reset"] = GateSpec(1, unitary=False)
    specs["barrier"] = GateSpec(None, unitary=False)
    return specs


GATES: Mapping[str, GateSpec] = MappingProxyType(_specs())
"""Every operation the IR (and therefore the canonical text) may contain, by name.

The names and parameter conventions are Qiskit's (``u`` is ``UGate``, ``p`` is ``PhaseGate``).
"""

NON_UNITARY: frozenset[str] = frozenset(n for n, s in GATES.items() if not s.unitary)
"""Operations that are not gates: ``measure``, ``reset`` and ``barrier``."""


def supported_gate_names() -> str:
    """The supported operation names as text for error messages (gates sorted first)."""
    gates = ", ".join(sorted(name for name in GATES if name not in NON_UNITARY))
    return f"{gates}; plus measure, reset, barrier"


Condition = tuple[tuple[int, ...], int]
"""A classical condition ``(clbits, value)``: the gate applies when the clbits, read as an
integer with ``clbits[0]`` least significant, equal ``value`` (Qiskit's ``if_test``). The
clbits are consecutive and ascending (one register of the text, or one bit)."""


@dataclass(frozen=True)
class Op:
    """One operation: a gate, ``measure`` (one qubit into one clbit), ``reset`` or ``barrier``.

    ``params`` are expression texts (see :mod:`circuits.expressions`), e.g. ``"2*theta + 0.5"``.
    A gate may have a ``condition`` (classical control); other operations may not.
    """

    name: str
    qubits: tuple[int, ...]
    params: tuple[str, ...] = ()
    clbits: tuple[int, ...] = ()
    condition: Condition | None = None


@dataclass(frozen=True)
class CircuitIR:
    """A flat circuit: register sizes, declared input parameters in order, and the ops.

    ``parameters`` is the order in which values are bound positionally.
    """

    num_qubits: int
    num_clbits: int
    parameters: tuple[str, ...]
    ops: tuple[Op, ...]


def depth(ir: CircuitIR) -> int:
    """Circuit depth as Qiskit computes it: longest path over qubit and clbit wires.

    Barriers do not count.
    """
    levels = [0] * (ir.num_qubits + ir.num_clbits)
    for op in ir.ops:
        if op.name == "barrier":
            continue
        read = op.condition[0] if op.condition else ()
        wires = [*op.qubits, *(ir.num_qubits + c for c in (*op.clbits, *read))]
        if not wires:
            continue
        level = max(levels[w] for w in wires) + 1
        for w in wires:
            levels[w] = level
    return max(levels, default=0)


def two_qubit_gate_count(ir: CircuitIR) -> int:
    """Number of gates acting on exactly two qubits (barriers excluded)."""
    return sum(1 for op in ir.ops if op.name != "barrier" and len(op.qubits) == 2)


def validate(ir: CircuitIR) -> None:
    """Raise :class:`CircuitError` unless ``ir`` only uses supported, well-formed ops."""
    if not 1 <= ir.num_qubits <= MAX_QUBITS:
        raise CircuitError(f"a circuit needs 1 to {MAX_QUBITS} qubits, not {ir.num_qubits}")
    if not 0 <= ir.num_clbits <= MAX_QUBITS:
        raise CircuitError(f"a circuit needs 0 to {MAX_QUBITS} clbits, not {ir.num_clbits}")
    declared = set(ir.parameters)
    if len(declared) != len(ir.parameters):
        raise CircuitError(f"duplicate parameter names in {ir.parameters}")
    for name in ir.parameters:
        if not expressions.is_parameter_name(name):
            raise CircuitError(f"{name!r} cannot name a parameter (reserved or not an identifier)")
    for index, op in enumerate(ir.ops):
        spec = GATES.get(op.name)
        where = f"op {index} ({op.name})"
        if spec is None:
            raise CircuitError(
                f"{where}: unknown gate", hint="supported gates: " + supported_gate_names()
            )
        wanted = spec.num_qubits
        if (wanted is None and not op.qubits) or (wanted is not None and len(op.qubits) != wanted):
            raise CircuitError(f"{where}: wrong number of qubits {len(op.qubits)}")
        if len(op.params) != spec.num_params or len(op.clbits) != spec.num_clbits:
            raise CircuitError(f"{where}: wrong number of parameters or clbits")
        if len(set(op.qubits)) != len(op.qubits):
            raise CircuitError(f"{where}: duplicate qubits {op.qubits}")
        if any(not 0 <= q < ir.num_qubits for q in op.qubits):
            raise CircuitError(f"{where}: qubit out of range for {ir.num_qubits} qubits")
        if any(not 0 <= c < ir.num_clbits for c in op.clbits):
            raise CircuitError(f"{where}: clbit out of range for {ir.num_clbits} clbits")
        for param in op.params:
            missing = expressions.names(param) - declared
            if missing:
                raise CircuitError(f"{where}: undeclared parameters {sorted(missing)}")
        if op.condition is not None:
            _validate_condition(op, where, ir.num_clbits)


def _validate_condition(op: Op, where: str, num_clbits: int) -> None:
    clbits, value = op.condition or ((), 0)
    if not GATES[op.name].unitary:
        raise CircuitError(f"{where}: only a gate can be classically controlled")
    if not clbits or list(clbits) != list(range(clbits[0], clbits[0] + len(clbits))):
        raise CircuitError(f"{where}: a condition reads consecutive clbits, not {clbits}")
    if any(not 0 <= c < num_clbits for c in clbits):
        raise CircuitError(f"{where}: condition clbit out of range for {num_clbits} clbits")
    if not 0 <= value < 2 ** len(clbits):
        raise CircuitError(f"{where}: condition value {value} does not fit {len(clbits)} bits")

"""Conversion between the IR and Cirq circuits.

Qubit ``i`` of the IR is ``cirq.LineQubit(i)``. Cirq writes basis states big-endian (the
first qubit of ``qubit_order`` is the most significant bit) while the IR uses Qiskit's order
(qubit 0 rightmost); simulate with ``qubit_order=qubits[::-1]`` to get Qiskit-ordered
amplitudes, and read counts through :func:`clbit_key`.

Parameters become ``sympy.Symbol`` objects named like the IR parameters, and expressions are
built from the IR's expression text. Bind values in the IR's (canonical) parameter order with
:func:`resolver` or :func:`sweep`, never in ``cirq.parameter_names`` order.

Gates keep their exact unitary up to global phase. ``u`` becomes three Cirq gates
(``p(lam)``, ``ry(theta)``, ``p(phi)``), and ``barrier`` is dropped: Cirq has no barrier and
nothing observable depends on one. Measurement of clbit ``n`` uses the key ``c<n>``, and a
classically controlled gate becomes Cirq's ``with_classical_controls`` on those keys.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import cirq
import numpy as np
import sympy

from circuits import expressions
from circuits.errors import CircuitError
from circuits.ir import CircuitIR, Condition, Op
from circuits.observables import PauliSum

__all__ = [
    "clbit_key",
    "observable_to_cirq",
    "resolver",
    "sweep",
    "to_cirq",
    "to_sympy",
]

Angle: TypeAlias = "float | sympy.Expr"
"""A gate angle in radians: a number, or a sympy expression of parameter symbols."""

_SYMPY_FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    name: getattr(sympy, name.replace("arc", "a")) for name in expressions.FUNCTIONS
}
_TEXT_FUNCTIONS = {f: name for name, f in _SYMPY_FUNCTIONS.items() if name != "sqrt"}
_OPERATORS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.Pow: operator.pow,
}  # fmt: skip
_KEY = re.compile(r"c(0|[1-9]\d*)")


def clbit_key(clbit: int) -> str:
    """The Cirq measurement key that :func:`to_cirq` gives clbit ``clbit``."""
    return f"c{clbit}"


# --- IR -> Cirq --------------------------------------------------------------------------


def to_sympy(expr: str) -> Angle:
    """Expression text as a float (no parameters) or a sympy expression of Symbols."""
    text = expressions.normalize(expr)
    if not expressions.names(text):
        return float(expressions.evaluate(text, {}))
    return _sympy_node(expressions.parse_tree(text))


def _sympy_node(node: ast.expr) -> Any:
    # The text was checked by expressions.normalize, so only its node types occur here.
    if isinstance(node, ast.Constant):
        value = node.value
        return sympy.Integer(value) if isinstance(value, int) else sympy.Float(value)
    if isinstance(node, ast.Name):
        if node.id == "pi":
            return sympy.pi
        if node.id == "tau":
            return 2 * sympy.pi
        return sympy.Symbol(node.id)
    if isinstance(node, ast.UnaryOp):
        operand = _sympy_node(node.operand)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        return _SYMPY_FUNCTIONS[node.func.id](_sympy_node(node.args[0]))
    assert isinstance(node, ast.BinOp)
    return _OPERATORS[type(node.op)](_sympy_node(node.left), _sympy_node(node.right))


def _turns(angle: Angle) -> Angle:
    """Radians as a Cirq exponent (half turns)."""
    return angle / sympy.pi if isinstance(angle, sympy.Basic) else angle / math.pi


_FIXED: dict[str, cirq.Gate] = {
    "id": cirq.I, "x": cirq.X, "y": cirq.Y, "z": cirq.Z, "h": cirq.H, "s": cirq.S, "t": cirq.T,
    "sdg": cirq.S**-1, "tdg": cirq.T**-1, "sx": cirq.X**0.5, "sxdg": cirq.X**-0.5,
    "cx": cirq.CNOT, "cy": cirq.CY, "cz": cirq.CZ, "ch": cirq.ControlledGate(cirq.H),
    "swap": cirq.SWAP, "ccx": cirq.CCX, "cswap": cirq.CSWAP,
}  # fmt: skip
_ROTATIONS: dict[str, Callable[[Angle], cirq.Gate]] = {
    "rx": cirq.rx, "ry": cirq.ry, "rz": cirq.rz,
    "p": lambda a: cirq.ZPowGate(exponent=_turns(a)),
    "crx": lambda a: cirq.ControlledGate(cirq.rx(a)),
    "cry": lambda a: cirq.ControlledGate(cirq.ry(a)),
    "crz": lambda a: cirq.ControlledGate(cirq.rz(a)),
    "cp": lambda a: cirq.CZPowGate(exponent=_turns(a)),
    "rxx": lambda a: cirq.XXPowGate(exponent=_turns(a), global_shift=-0.5),
    "ryy": lambda a: cirq.YYPowGate(exponent=_turns(a), global_shift=-0.5),
    "rzz": lambda a: cirq.ZZPowGate(exponent=_turns(a), global_shift=-0.5),
}  # fmt: skip


def _cirq_ops(op: Op, qubits: Sequence[cirq.LineQubit]) -> list[cirq.Operation]:
    targets = [qubits[q] for q in op.qubits]
    if op.name in _FIXED:
        return [_FIXED[op.name].on(*targets)]
    if op.name in _ROTATIONS:
        return [_ROTATIONS[op.name](to_sympy(op.params[0])).on(*targets)]
    if op.name == "u":
        # UGate(theta, phi, lam) = P(phi) . RY(theta) . P(lam), exactly.
        theta, phi, lam = (to_sympy(p) for p in op.params)
        p = _ROTATIONS["p"]
        return [p(lam).on(*targets), cirq.ry(theta).on(*targets), p(phi).on(*targets)]
    if op.name == "measure":
        return [cirq.measure(*targets, key=clbit_key(op.clbits[0]))]
    if op.name == "reset":
        return [cirq.reset(*targets)]
    if op.name == "barrier":
        return []
    raise CircuitError(f"unknown gate {op.name!r} in IR")


def to_cirq(ir: CircuitIR) -> tuple[cirq.Circuit, list[cirq.LineQubit]]:
    """A Cirq circuit for ``ir`` and its qubits (``qubits[i]`` is IR qubit ``i``).

    Pass the qubit list as ``qubit_order`` when simulating so that idle qubits are kept.
    """
    qubits = cirq.LineQubit.range(ir.num_qubits)
    ops: list[cirq.Operation] = []
    measured: set[int] = set()
    for op in ir.ops:
        pieces = _cirq_ops(op, qubits)
        if op.condition is not None:
            condition = _cirq_condition(op.condition, measured)
            if condition is False:
                continue
            if condition is not True:
                pieces = [piece.with_classical_controls(condition) for piece in pieces]
        measured.update(op.clbits)
        ops += pieces
    return cirq.Circuit(ops), qubits


def _cirq_condition(condition: Condition, measured: set[int]) -> cirq.Condition | bool:
    """Cirq's condition on the measurement keys of ``condition``'s clbits; a clbit not yet
    measured reads 0 (as in Qiskit), so a condition on none of them is a constant."""
    clbits, value = condition
    weights = {clbit_key(c): 2**i for i, c in enumerate(clbits) if c in measured}
    if value & ~sum(2**i for i, c in enumerate(clbits) if c in measured):
        return False  # the value needs a bit that is still 0
    if not weights:
        return value == 0
    if len(weights) == 1:  # one measured bit: Cirq's key conditions, much faster than sympy's
        (key, weight), wanted = next(iter(weights.items())), value
        if wanted & weight:
            return cirq.KeyCondition(cirq.MeasurementKey(key))
        return cirq.BitMaskKeyCondition(key, target_value=0, equal_target=True)
    total = sum(w * sympy.Symbol(k) for k, w in weights.items())
    return cirq.SympyCondition(sympy.Eq(total, value))


def resolver(ir: CircuitIR, values: Sequence[float]) -> cirq.ParamResolver:
    """A resolver binding ``values`` given in the IR's parameter order."""
    if len(values) != len(ir.parameters):
        raise CircuitError(
            f"expected {len(ir.parameters)} parameter values, got {len(values)}",
            hint=f"pass values in this order: {', '.join(ir.parameters) or '(none)'}",
        )
    return cirq.ParamResolver({n: float(v) for n, v in zip(ir.parameters, values, strict=True)})


def sweep(ir: CircuitIR, rows: Sequence[Sequence[float]] | np.ndarray) -> cirq.ListSweep:
    """One resolver per row of values (each in the IR's parameter order), for ``*_sweep``."""
    return cirq.ListSweep([resolver(ir, list(row)) for row in rows])


def observable_to_cirq(obs: PauliSum, qubits: Sequence[cirq.Qid]) -> cirq.PauliSum:
    """The Cirq ``PauliSum`` of ``obs``; its rightmost letter acts on ``qubits[0]``."""
    if obs.num_qubits != len(qubits):
        raise CircuitError(f"observable on {obs.num_qubits} qubits, but {len(qubits)} given")
    paulis = {"X": cirq.X, "Y": cirq.Y, "Z": cirq.Z}
    strings: list[cirq.PauliString[cirq.Qid]] = [
        cirq.PauliString(
            {qubits[i]: paulis[c] for i, c in enumerate(reversed(t.pauli)) if c != "I"},
            coefficient=t.coeff,
        )
        for t in obs.terms
    ]
    return cirq.PauliSum.from_pauli_strings(strings)

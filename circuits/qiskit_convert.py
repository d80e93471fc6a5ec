"""Conversion between the IR and Qiskit ``QuantumCircuit`` objects.

Parameter order: Qiskit sorts ``QuantumCircuit.parameters`` by name, which is generally not
the IR order. Values are always bound in the IR's ``parameters`` order; use
:func:`parameters_in_order` or :func:`bind` rather than ``qc.parameters`` for positional
binding. The ``Parameter`` objects built here are deterministic (same name, same uuid), so
two circuits converted from the IR share parameters with equal names.

The global phase of a Qiskit circuit is not kept: the IR describes states and measurement
statistics, for which it is unobservable.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from qiskit import QuantumCircuit, transpile
from qiskit.circuit import (
    CircuitInstruction,
    ClassicalRegister,
    Clbit,
    Gate,
    IfElseOp,
    Parameter,
    ParameterExpression,
    QuantumRegister,
    Qubit,
)
from qiskit.circuit import library as lib
from qiskit.circuit.classical import expr

from circuits import expressions
from circuits.errors import CircuitError
from circuits.ir import GATES, NON_UNITARY, CircuitIR, Condition, Op

__all__ = [
    "bind",
    "from_qiskit",
    "parameters_in_order",
    "qiskit_parameter",
    "sanitize_names",
    "to_qiskit",
]

_GATE_CLASSES: dict[str, Callable[..., Gate]] = {
    "id": lib.IGate,
    "x": lib.XGate,
    "y": lib.YGate,
    "z": lib.ZGate,
    "h": lib.HGate,
    "s": lib.SGate,
    "sdg": lib.SdgGate,
    "t": lib.TGate,
    "tdg": lib.TdgGate,
    "sx": lib.SXGate,
    "sxdg": lib.SXdgGate,
    "rx": lib.RXGate,
    "ry": lib.RYGate,
    "rz": lib.RZGate,
    "p": lib.PhaseGate,
    "u": lib.UGate,
    "cx": lib.CXGate,
    "cy": lib.CYGate,
    "cz": lib.CZGate,
    "ch": lib.CHGate,
    "swap": lib.SwapGate,
    "crx": lib.CRXGate,
    "cry": lib.CRYGate,
    "crz": lib.CRZGate,
    "cp": lib.CPhaseGate,
    "rxx": lib.RXXGate,
    "ryy": lib.RYYGate,
    "rzz": lib.RZZGate,
    "ccx": lib.CCXGate,
    "cswap": lib.CSwapGate,
}

_UUID_NAMESPACE = uuid.UUID("4f7c1f0e-3d0b-5d7e-9a43-6b1f1c1e0a51")
_BASIS_GATES = sorted(name for name in GATES if name not in NON_UNITARY)
_TMP_PREFIX = "_qcb_tmp"


def qiskit_parameter(name: str) -> Parameter:
    """The Qiskit ``Parameter`` used for IR parameter ``name`` (deterministic uuid)."""
    return Parameter(name, uuid=uuid.uuid5(_UUID_NAMESPACE, name))


def parameters_in_order(ir: CircuitIR) -> tuple[Parameter, ...]:
    """The ``Parameter`` objects of :func:`to_qiskit`'s circuit, in IR (binding) order.

    Parameters that no gate uses are included although Qiskit drops them from
    ``qc.parameters``; bind with ``assign_parameters(..., strict=False)`` or use :func:`bind`.
    """
    return tuple(qiskit_parameter(name) for name in ir.parameters)


def to_qiskit(ir: CircuitIR) -> QuantumCircuit:
    """Build a ``QuantumCircuit`` (registers ``q`` and ``c``) from ``ir``.

    The result's ``parameters`` are sorted by name by Qiskit; see :func:`bind` for
    positional binding in IR order.
    """
    registers: list[QuantumRegister | ClassicalRegister] = [QuantumRegister(ir.num_qubits, "q")]
    if ir.num_clbits:
        registers.append(ClassicalRegister(ir.num_clbits, "c"))
    qc = QuantumCircuit(*registers)
    env = {name: qiskit_parameter(name) for name in ir.parameters}
    for op in ir.ops:
        if op.name == "measure":
            qc.measure(op.qubits[0], op.clbits[0])
        elif op.name == "reset":
            qc.reset(op.qubits[0])
        elif op.name == "barrier":
            qc.barrier(*op.qubits)
        elif op.name in _GATE_CLASSES:
            params = [_qiskit_value(expressions.evaluate(p, env)) for p in op.params]
            gate = _GATE_CLASSES[op.name](*params)
            if op.condition is None:
                qc.append(gate, list(op.qubits), copy=False)
                continue
            with qc.if_test(_qiskit_condition(qc, op.condition)):
                qc.append(gate, list(op.qubits), copy=False)
        else:
            raise CircuitError(f"unknown gate {op.name!r} in IR")
    return qc


def _qiskit_condition(qc: QuantumCircuit, condition: Condition) -> Any:
    """Qiskit's ``(Clbit, bool)`` or ``(ClassicalRegister, int)`` for an IR condition; a run of
    bits short of the whole register is a conjunction of its bits (a register of its own
    would add a key to every count)."""
    clbits, value = condition
    if len(clbits) == 1:
        return qc.clbits[clbits[0]], bool(value)
    if len(clbits) == qc.num_clbits:
        return qc.cregs[0], value
    terms = [
        expr.lift(qc.clbits[c]) if value >> i & 1 else expr.logic_not(qc.clbits[c])
        for i, c in enumerate(clbits)
    ]
    result = terms[0]
    for term in terms[1:]:
        result = expr.logic_and(result, term)
    return result


def _condition_bits(node: expr.Expr, clbit_index: dict[Clbit, int]) -> dict[int, int] | None:
    """The bits that a conjunction of bits and negated bits (what :func:`_qiskit_condition`
    makes) requires, by clbit; None for any other expression."""
    if isinstance(node, expr.Binary) and node.op is expr.Binary.Op.LOGIC_AND:
        left = _condition_bits(node.left, clbit_index)
        right = _condition_bits(node.right, clbit_index)
        return None if left is None or right is None else left | right
    wanted = 1
    if isinstance(node, expr.Unary) and node.op is expr.Unary.Op.LOGIC_NOT:
        node, wanted = node.operand, 0
    if isinstance(node, expr.Var) and isinstance(node.var, Clbit):
        return {clbit_index[node.var]: wanted}
    return None


def _qiskit_value(value: Any) -> Any:
    if isinstance(value, ParameterExpression) and not value.parameters:
        return float(value)
    return value


def bind(qc: QuantumCircuit, ir: CircuitIR, values: Sequence[float]) -> QuantumCircuit:
    """Bind ``values`` (in IR ``parameters`` order) into ``qc`` built by :func:`to_qiskit`."""
    if len(values) != len(ir.parameters):
        raise CircuitError(
            f"expected {len(ir.parameters)} parameter values, got {len(values)}",
            hint=f"pass values in this order: {', '.join(ir.parameters) or '(none)'}",
        )
    present = set(qc.parameters)
    mapping = {p: float(v) for p, v in zip(parameters_in_order(ir), values, strict=True)}
    return qc.assign_parameters({p: v for p, v in mapping.items() if p in present})


def sanitize_names(names: Sequence[str]) -> list[str]:
    """Turn arbitrary parameter names into unique, valid, unreserved identifiers.

    ``θ[0]`` becomes ``θ_0``; names that are already valid are kept; clashes get ``_2``...
    """
    result: list[str] = []
    taken: set[str] = set()
    for index, name in enumerate(names):
        base = re.sub(r"\W+", "_", name).strip("_")
        if not base or base[0].isdigit():
            base = f"p_{base}".rstrip("_")
        if not expressions.is_parameter_name(base):
            base = f"{base}_" if expressions.is_parameter_name(f"{base}_") else f"p{index}"
        candidate, suffix = base, 2
        while candidate in taken or not expressions.is_parameter_name(candidate):
            candidate, suffix = f"{base}_{suffix}", suffix + 1
        taken.add(candidate)
        result.append(candidate)
    return result


def from_qiskit(qc: QuantumCircuit) -> CircuitIR:
    """Convert ``qc`` to the IR, decomposing gates outside the supported set.

    Qubits and clbits are numbered by their index in ``qc`` (registers flattened).
    Parameters keep ``qc.parameters`` order, renamed by :func:`sanitize_names`.
    """
    originals = list(qc.parameters)
    final_names = sanitize_names([p.name for p in originals])
    temporaries = {p: Parameter(f"{_TMP_PREFIX}{i}") for i, p in enumerate(originals)}
    renames = {f"{_TMP_PREFIX}{i}": n for i, n in enumerate(final_names)}
    flat = _decompose(qc)
    qubit_index = {bit: i for i, bit in enumerate(flat.qubits)}
    clbit_index = {bit: i for i, bit in enumerate(flat.clbits)}
    ops: list[Op] = []
    for instruction in flat.data:
        operation = instruction.operation
        if isinstance(operation, IfElseOp):
            ops += _conditioned(instruction, qubit_index, clbit_index, temporaries, renames)
            continue
        if operation.name not in GATES:
            raise CircuitError(
                f"operation {operation.name!r} is not supported",
                hint="only circuits of supported gates, measure, reset, barrier and if_test "
                "convert (no loops, while, switch or delays)",
            )
        qubits = tuple(qubit_index[q] for q in instruction.qubits)
        if operation.name == "barrier" and not qubits:
            continue
        params = tuple(_param_text(p, temporaries, renames) for p in operation.params)
        clbits = tuple(clbit_index[c] for c in instruction.clbits)
        ops.append(Op(operation.name, qubits, params, clbits))
    return CircuitIR(qc.num_qubits, qc.num_clbits, tuple(final_names), tuple(ops))


def _decompose(qc: QuantumCircuit) -> QuantumCircuit:
    if all(instruction.operation.name in GATES for instruction in qc.data):
        return qc
    try:
        return transpile(qc, basis_gates=[*_BASIS_GATES, "if_else"], optimization_level=0)
    except Exception as exc:  # transpile raises many unrelated types
        raise CircuitError(
            f"cannot decompose the circuit into supported gates: {exc}",
            hint="remove loops and custom non-unitary instructions",
        ) from exc


def _conditioned(
    instruction: CircuitInstruction,
    qubit_index: dict[Qubit, int],
    clbit_index: dict[Clbit, int],
    temporaries: dict[Parameter, Parameter],
    renames: dict[str, str],
) -> list[Op]:
    """The gates of an ``if_test`` (and of its ``else``, for a one-bit condition)."""
    operation = instruction.operation
    required = None
    if isinstance(operation.condition, expr.Expr):
        required = _condition_bits(operation.condition, clbit_index)
        target, value = (
            None,
            sum(v << i for i, (_, v) in enumerate(sorted((required or {}).items()))),
        )
    else:
        target, value = operation.condition
    if isinstance(target, Clbit):
        clbits: tuple[int, ...] = (clbit_index[target],)
    elif isinstance(target, ClassicalRegister):
        clbits = tuple(clbit_index[bit] for bit in target)
    elif required:
        clbits = tuple(sorted(required))
    else:
        raise CircuitError(
            "a condition that is a classical expression is not supported",
            hint="condition on one bit or one register: qc.if_test((creg, value))",
        )
    condition = (clbits, int(value))
    ops: list[Op] = []
    for block, when in zip(operation.blocks, (condition, (clbits, 1 - int(value))), strict=False):
        if block is not operation.blocks[0] and len(clbits) != 1:
            raise CircuitError("an 'else' after a condition on several bits is not supported")
        outer = dict(zip(block.qubits, instruction.qubits, strict=True))
        for inner in block.data:
            gate = inner.operation
            if gate.name not in GATES or gate.name in NON_UNITARY:
                raise CircuitError(
                    f"{gate.name!r} inside an if_test is not supported: only gates can be "
                    "classically controlled"
                )
            qubits = tuple(qubit_index[outer[q]] for q in inner.qubits)
            params = tuple(_param_text(p, temporaries, renames) for p in gate.params)
            ops.append(Op(gate.name, qubits, params, condition=when))
    return ops


def _param_text(
    value: Any, temporaries: dict[Parameter, Parameter], renames: dict[str, str]
) -> str:
    if isinstance(value, ParameterExpression):
        if not value.parameters:
            return _number_text(complex(value))
        return _expression_text(value, temporaries, renames)
    try:
        return _number_text(complex(value))
    except TypeError as exc:
        raise CircuitError(f"gate parameter {value!r} is not a number") from exc


def _number_text(value: complex) -> str:
    if value.imag != 0.0 or not math.isfinite(value.real):
        raise CircuitError(f"gate parameter {value!r} is not a finite real number")
    return repr(float(value.real))


def _expression_text(
    value: ParameterExpression, temporaries: dict[Parameter, Parameter], renames: dict[str, str]
) -> str:
    # Temporary names avoid clashes inside qiskit between old and new names; the final
    # names are put in while printing our canonical form.
    substituted = value.subs({p: temporaries[p] for p in value.parameters})
    raw = str(substituted)
    try:
        text = expressions.rename(raw, renames)
    except CircuitError as exc:
        raise CircuitError(
            f"cannot express parameter {raw!r} in the supported expression syntax",
            hint=exc.hint,
        ) from exc
    _verify(substituted, text, renames)
    return text


def _verify(value: ParameterExpression, text: str, renames: dict[str, str]) -> None:
    """Check numerically that ``text`` means the same as ``value`` (guards ``str()`` quirks)."""
    env_tmp = {p: 0.2 + 0.37 * ((7 * i) % 11) / 11 for i, p in enumerate(value.parameters)}
    env = {renames[p.name]: v for p, v in env_tmp.items()}
    try:
        expected = complex(value.bind(env_tmp))
    except (ArithmeticError, ValueError, TypeError):
        return  # outside the expression's domain at the probe point; nothing to compare
    actual = expressions.evaluate(text, env)
    if not math.isclose(float(actual), expected.real, rel_tol=1e-9, abs_tol=1e-12):
        raise CircuitError(
            f"parameter expression {str(value)!r} did not convert exactly (got {text!r})",
            hint="bind the parameters numerically before converting",
        )

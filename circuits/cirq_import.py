"""Conversion of Cirq circuits to the IR: the reverse of :mod:`circuits.cirq_convert`.

Cirq gates map onto the canonical gate set with their global shifts accounted for (for a
controlled gate, a shift becomes a phase gate on the control); anything else is decomposed
with ``cirq.decompose`` (gates known only by their matrix through ``MatrixGate``) until it
maps, and what still does not map is refused naming the gate and its moment.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import cirq
import sympy

from circuits import expressions
from circuits.cirq_convert import _KEY, _TEXT_FUNCTIONS
from circuits.errors import CircuitError
from circuits.ir import CircuitIR, Op, supported_gate_names, validate
from circuits.qiskit_convert import sanitize_names

__all__ = ["from_cirq"]


def _sympy_text(value: Any, renames: dict[str, str]) -> str:
    """Parenthesised text of a sympy expression (normalised by the caller)."""
    if value == sympy.pi:
        return "pi"
    if isinstance(value, sympy.Rational):
        return f"({value.p})" if value.q == 1 else f"({value.p}/{value.q})"
    if not value.free_symbols:
        return f"({_number_text(value)})"
    if isinstance(value, sympy.Symbol):
        return renames[value.name]
    args = [_sympy_text(arg, renames) for arg in value.args]
    if isinstance(value, sympy.Add):
        return "(" + " + ".join(args) + ")"
    if isinstance(value, sympy.Mul):
        return "(" + "*".join(args) + ")"
    if isinstance(value, sympy.Pow):
        return f"({args[0]}**{args[1]})"
    name = _TEXT_FUNCTIONS.get(value.func)
    if name is None or len(args) != 1:
        raise CircuitError(
            f"parameter expression {value} uses {value.func}, which has no equivalent",
            hint="expressions may use + - * / **, pi and "
            + ", ".join(sorted(expressions.FUNCTIONS)),
        )
    return f"{name}({args[0]})"


def _number_text(value: Any) -> str:
    try:
        number = complex(value)
    except TypeError as exc:
        raise CircuitError(f"gate parameter {value!r} is not a number") from exc
    if number.imag != 0.0 or not math.isfinite(number.real):
        raise CircuitError(f"gate parameter {value!r} is not a finite real number")
    return repr(float(number.real))


def _angle_text(value: Any, renames: dict[str, str]) -> str:
    if not _symbolic(value):
        return _number_text(value)
    text = expressions.normalize(_sympy_text(value, renames))
    probe = {s: 0.2 + 0.37 * ((7 * i) % 11) / 11 for i, s in enumerate(value.free_symbols)}
    try:
        expected = complex(value.subs(probe))
    except (ArithmeticError, ValueError, TypeError):
        expected = complex(math.nan, math.nan)
    if expected.imag != 0.0 or not math.isfinite(expected.real):
        return text  # outside the expression's domain at the probe point
    actual = expressions.evaluate(text, {renames[s.name]: v for s, v in probe.items()})
    if not math.isclose(float(actual), expected.real, rel_tol=1e-9, abs_tol=1e-12):
        raise CircuitError(f"parameter expression {value} did not convert exactly ({text!r})")
    return text


def _symbolic(value: Any) -> bool:
    return isinstance(value, sympy.Basic) and bool(value.free_symbols)


def _is(value: Any, number: float) -> bool:
    return not _symbolic(value) and float(value) == number


def _radians(exponent: Any) -> Any:
    return exponent * sympy.pi if _symbolic(exponent) else float(exponent) * math.pi


# A one-qubit gate U as (name, angles in radians, phase a) with U = exp(i a) * gate(angles).
_OneQubit = tuple[str, list[Any], Any]


class _Raw(NamedTuple):
    """An IR op whose parameters are still numbers or sympy expressions (radians)."""

    name: str
    qubits: tuple[int, ...]
    params: tuple[Any, ...] = ()


_NAMED: dict[type, dict[float, str]] = {
    cirq.XPowGate: {1.0: "x", 0.5: "sx", -0.5: "sxdg"},
    cirq.YPowGate: {1.0: "y"},
    cirq.ZPowGate: {1.0: "z", 0.5: "s", -0.5: "sdg", 0.25: "t", -0.25: "tdg"},
    cirq.HPowGate: {1.0: "h"},
}
_CONTROLLED = {"x": "cx", "y": "cy", "z": "cz", "h": "ch", "rx": "crx", "ry": "cry"}
_CONTROLLED |= {"rz": "crz", "p": "cp"}
_PARITY = {cirq.XXPowGate: "rxx", cirq.YYPowGate: "ryy", cirq.ZZPowGate: "rzz"}
_CONTROLLED_POWERS = {
    cirq.CXPowGate: cirq.XPowGate, cirq.CYPowGate: cirq.YPowGate,
    cirq.CZPowGate: cirq.ZPowGate, cirq.CCXPowGate: cirq.XPowGate,
}  # fmt: skip


def _one_qubit(gate: Any, *, controlled: bool = False) -> _OneQubit | None:
    """``gate`` as a supported gate and a phase; only gates with a controlled form if
    ``controlled`` (``s`` as ``p(pi/2)``, ...)."""
    names = next((n for cls, n in _NAMED.items() if isinstance(gate, cls)), None)
    if names is None:
        return None
    e, shift = gate.exponent, gate.global_shift
    for number, name in names.items():
        if _is(e, number) and (name in _CONTROLLED or not controlled):
            return name, [], math.pi * number * shift
    angle = _radians(e)
    if isinstance(gate, cirq.XPowGate):
        return "rx", [angle], angle * (shift + 0.5)
    if isinstance(gate, cirq.YPowGate):
        return "ry", [angle], angle * (shift + 0.5)
    if isinstance(gate, cirq.ZPowGate):
        return ("rz", [angle], 0.0) if shift == -0.5 else ("p", [angle], angle * shift)
    return None  # HPowGate at a fractional power: decomposed


def _direct(gate: Any, qubits: tuple[int, ...]) -> list[_Raw] | None:
    """Ops for a gate with a direct equivalent (up to global phase), else None."""
    if isinstance(gate, cirq.IdentityGate):
        return [_Raw("id", (q,)) for q in qubits]
    if isinstance(gate, cirq.GlobalPhaseGate):
        return []
    if isinstance(gate, cirq.ResetChannel):
        return [_Raw("reset", qubits)]
    single = _one_qubit(gate)
    if single is not None:
        return [_Raw(single[0], qubits, tuple(single[1]))]
    e = getattr(gate, "exponent", None)
    for cls, sub in _CONTROLLED_POWERS.items():
        if isinstance(gate, cls):  # the gate's global shift is a global phase: dropped
            return _controlled(sub(exponent=e), gate.num_qubits() - 1, qubits)
    for cls, name in _PARITY.items():
        if isinstance(gate, cls):
            return [_Raw(name, qubits, (_radians(e),))]
    if isinstance(gate, cirq.SwapPowGate) and _is(e, 1.0):
        return [_Raw("swap", qubits)]
    if isinstance(gate, cirq.CSwapGate):
        return [_Raw("cswap", qubits)]
    if isinstance(gate, cirq.ControlledGate):
        shape, controls = gate.control_qid_shape, gate.num_controls()
        if shape == (2,) * controls and gate.control_values.is_trivial:
            return _controlled(gate.sub_gate, controls, qubits)
    return None


def _controlled(sub: Any, controls: int, qubits: tuple[int, ...]) -> list[_Raw] | None:
    """Ops for ``sub`` controlled by the first ``controls`` qubits, else None."""
    if controls == 2 and sub == cirq.X:
        return [_Raw("ccx", qubits)]
    if controls == 1 and sub == cirq.SWAP:
        return [_Raw("cswap", qubits)]
    single = _one_qubit(sub, controlled=True) if controls == 1 else None
    if single is None:
        return None
    name, angles, phase = single
    # C(exp(i a) V) = P(a) on the control, then C(V).
    ops = [_Raw(_CONTROLLED[name], qubits, tuple(angles))]
    if _symbolic(phase) or float(phase) != 0.0:
        ops.append(_Raw("p", qubits[:1], (phase,)))
    return ops


def _qubit_indices(
    circuit: cirq.AbstractCircuit, qubits: Sequence[cirq.Qid] | None
) -> dict[cirq.Qid, int]:
    present = circuit.all_qubits()
    if qubits is None:
        line: dict[cirq.Qid, int] = {
            q: q.x for q in present if isinstance(q, cirq.LineQubit) and q.x >= 0
        }
        if len(line) == len(present):
            return line
        qubits = sorted(present)
    index = {q: i for i, q in enumerate(qubits)}
    missing = sorted(present - set(index))
    if missing:
        raise CircuitError(f"qubits {missing} are not in the given qubit order")
    if any(q.dimension != 2 for q in index):
        raise CircuitError("only qubits convert (a qid of dimension other than 2 is used)")
    return index


def _flatten(circuit: cirq.AbstractCircuit, index: dict[cirq.Qid, int]) -> list[tuple[int, Any]]:
    """(moment index, operation) pairs, each a measurement or mappable, decomposing others."""

    def keep(op: cirq.Operation) -> bool:
        if isinstance(op, cirq.ClassicallyControlledOperation):
            return True  # refused below; decomposing it would hide the condition
        if isinstance(op.gate, cirq.MeasurementGate):
            return True
        if any(q not in index for q in op.qubits):
            return False  # a decomposition that borrows ancillas
        return _direct(op.gate, tuple(index[q] for q in op.qubits)) is not None

    def fallback(op: cirq.Operation) -> list[cirq.Operation] | None:
        # Gates known only by their matrix: Cirq decomposes 1-3 qubit matrices itself.
        if 1 <= len(op.qubits) <= 3 and cirq.has_unitary(op) and not cirq.is_parameterized(op):
            return [cirq.MatrixGate(cirq.unitary(op)).on(*op.qubits)]
        return None

    flat: list[tuple[int, Any]] = []
    for moment_index, moment in enumerate(circuit):
        for op in moment:
            pieces = cirq.decompose(
                op, keep=keep, fallback_decomposer=fallback, on_stuck_raise=None
            )
            for piece in pieces:
                if not keep(piece) or isinstance(piece, cirq.ClassicallyControlledOperation):
                    raise CircuitError(
                        f"moment {moment_index}: {op.gate or op!r} on {list(op.qubits)} has no "
                        "equivalent in the supported gate set",
                        hint="supported gates: " + supported_gate_names(),
                    )
                flat.append((moment_index, piece))
    return flat


def _clbits(flat: list[tuple[int, Any]]) -> tuple[dict[str, list[int]], int]:
    """Clbits of each measurement key and the number of clbits (see :func:`from_cirq`)."""
    sizes: dict[str, int] = {}
    for moment_index, op in flat:
        gate = op.gate
        if not isinstance(gate, cirq.MeasurementGate):
            continue
        key = str(cirq.measurement_key_obj(op))
        if any(gate.invert_mask) or gate.confusion_map:
            raise CircuitError(f"moment {moment_index}: measurement {key!r} inverts its bits")
        if sizes.setdefault(key, len(op.qubits)) != len(op.qubits):
            raise CircuitError(f"moment {moment_index}: key {key!r} measures varying qubits")
    direct = {k: int(m.group(1)) for k in sizes if (m := _KEY.fullmatch(k)) and sizes[k] == 1}
    if len(direct) == len(sizes):
        return {k: [n] for k, n in direct.items()}, max(direct.values(), default=-1) + 1
    result, start = {}, 0
    for key, size in sizes.items():
        result[key] = list(range(start, start + size))
        start += size
    return result, start


def from_cirq(
    circuit: cirq.AbstractCircuit,
    *,
    qubits: Sequence[cirq.Qid] | None = None,
    parameters: Sequence[str] | None = None,
) -> CircuitIR:
    """Convert a Cirq circuit to the IR (unsupported gates decomposed with ``cirq.decompose``).

    Qubits: ``qubits[i]`` becomes qubit ``i``; by default ``LineQubit(i)`` is qubit ``i`` and
    other qubits are numbered in sorted order. Measurements: when every key is
    ``c<n>`` on one qubit (as :func:`to_cirq` writes them), key ``c<n>`` is clbit ``n``;
    otherwise keys take consecutive clbits in order of first measurement, one per measured
    qubit in the order the measurement lists them. Parameters: symbol names sorted (or in the
    order of ``parameters``), sanitised into identifiers. Global phase is dropped.

    Raises:
        CircuitError: naming the gate and its moment, when it neither maps nor decomposes
            into supported gates (noise channels, classical control, ...).
    """
    index = _qubit_indices(circuit, qubits)
    symbols = sorted(cirq.parameter_names(circuit))
    if parameters is not None:
        missing = sorted(set(symbols) - set(parameters))
        if missing:
            raise CircuitError(f"parameters {missing} are missing from the given order")
        symbols = list(parameters)
    renames = dict(zip(symbols, sanitize_names(symbols), strict=True))
    flat = _flatten(circuit, index)
    keys, num_clbits = _clbits(flat)
    ops: list[Op] = []
    for moment_index, op in flat:
        targets = tuple(index[q] for q in op.qubits)
        if isinstance(op.gate, cirq.MeasurementGate):
            clbits = keys[str(cirq.measurement_key_obj(op))]
            ops += [Op("measure", (q,), (), (c,)) for q, c in zip(targets, clbits, strict=True)]
            continue
        for raw in _direct(op.gate, targets) or []:
            try:
                params = tuple(_angle_text(p, renames) for p in raw.params)
            except CircuitError as exc:
                raise CircuitError(f"moment {moment_index}: {exc.message}", hint=exc.hint) from exc
            ops.append(Op(raw.name, raw.qubits, params))
    num_qubits = max(index.values(), default=-1) + 1
    ir = CircuitIR(num_qubits, num_clbits, tuple(renames.values()), tuple(ops))
    validate(ir)
    return ir

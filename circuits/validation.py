"""Admission checks at the circuit boundary: size limits and parameter values.

:func:`check_circuit` parses a circuit and checks it against :class:`Limits`, reporting every
problem at once (one per line of the :class:`~circuits.errors.CircuitError` message, each also
in ``CircuitError.errors``) with the 1-based line of the statement responsible where there is
one. :func:`check_parameter_values` turns the usual shapes of parameter values into one
``(sets, parameters)`` array in the circuit's binding order.
"""

from __future__ import annotations

import math
import numbers
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from circuits import qasm
from circuits.canonical import Circuit
from circuits.errors import CircuitError
from circuits.ir import GATES, CircuitIR, depth, supported_gate_names, two_qubit_gate_count

__all__ = ["ALWAYS_ALLOWED", "MAX_REPORTED", "Limits", "check_circuit", "check_parameter_values"]

ALWAYS_ALLOWED: frozenset[str] = frozenset({"measure", "barrier"})
"""Operations that :attr:`Limits.gates` never refuses (``reset`` must be listed to be allowed)."""

MAX_REPORTED = 20
"""Most parse problems :func:`check_circuit` reports for one text."""

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


class Limits(BaseModel):
    """What a circuit may use; ``None`` means no limit.

    ``gates`` lists the allowed operation names (Qiskit names, see ``circuits.ir.GATES``);
    ``measure`` and ``barrier`` are always allowed, ``reset`` only when listed.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_qubits: int | None = Field(default=None, ge=1)
    max_depth: int | None = Field(default=None, ge=0)
    max_two_qubit_gates: int | None = Field(default=None, ge=0)
    max_bytes: int = Field(default=qasm.DEFAULT_MAX_BYTES, ge=1)
    gates: frozenset[str] | None = None
    max_parameters: int | None = Field(default=None, ge=0)

    @field_validator("gates")
    @classmethod
    def _known_gates(cls, value: frozenset[str] | None) -> frozenset[str] | None:
        unknown = sorted(set(value or ()) - set(GATES))
        if unknown:
            raise ValueError(
                f"unknown gate names {unknown}; supported gates: {supported_gate_names()}"
            )
        return value


def check_circuit(source: str | Circuit, limits: Limits | None = None) -> Circuit:
    """The :class:`Circuit` of ``source`` (OpenQASM text or a ``Circuit``) within ``limits``.

    Text over ``limits.max_bytes`` is refused before it is read. Otherwise every parse
    problem (up to :data:`MAX_REPORTED`) and every broken limit is reported in one
    :class:`CircuitError`. Lines refer to the text given (the canonical text for a
    ``Circuit``): a disallowed gate gives the line of its first use, too many qubits the line
    first using a qubit beyond the limit (or the qubit declaration if none is used).
    """
    limits = limits or Limits()
    if isinstance(source, Circuit):
        text = source.qasm
    elif isinstance(source, str):
        text = source
    else:
        raise CircuitError(
            f"cannot check a {type(source).__name__}",
            hint="pass OpenQASM text or a circuits.Circuit (see circuits.coerce_circuit)",
        )
    size = len(text.encode("utf-8", errors="replace"))
    if size > limits.max_bytes:
        raise CircuitError(
            f"circuit text is {size} bytes, more than max_bytes={limits.max_bytes}",
            hint="split the work into smaller circuits",
        )
    parsed = qasm.parse(
        text, max_bytes=limits.max_bytes, max_errors=MAX_REPORTED, max_qubits=limits.max_qubits
    )
    problems = list(parsed.errors)
    if len(problems) >= MAX_REPORTED:
        problems.append(CircuitError(f"stopped after {MAX_REPORTED} problems; more may follow"))
    if parsed.ir is not None:
        problems += _limit_problems(parsed, parsed.ir, limits)
    if problems:
        problems.sort(key=lambda error: (error.line is None, error.line or 0))
        raise CircuitError.collect(problems)
    if isinstance(source, Circuit):
        return source
    assert parsed.ir is not None  # no problems means the text parsed
    return Circuit.from_ir(parsed.ir)


def _limit_problems(parsed: qasm.Parsed, ir: CircuitIR, limits: Limits) -> list[CircuitError]:
    problems: list[CircuitError] = []
    if limits.max_qubits is not None and ir.num_qubits > limits.max_qubits:
        problems.append(_too_many_qubits(parsed, ir, limits.max_qubits))
    if limits.gates is not None:
        allowed = limits.gates | ALWAYS_ALLOWED
        uses = Counter(op.name for op in ir.ops if op.name not in allowed)
        first: dict[str, int] = {}
        for op, line in zip(ir.ops, parsed.op_lines, strict=True):
            if op.name in uses:
                first.setdefault(op.name, line)
        for name, line in first.items():
            where = f"; used {uses[name]} times, first here" if uses[name] > 1 else ""
            problems.append(
                CircuitError(
                    f"gate {name!r} is not allowed{where}",
                    line=line,
                    hint=f"allowed gates: {', '.join(sorted(allowed))}",
                )
            )
    # After parse errors ``ir`` lacks the bad statements: its counts are lower bounds.
    has = "has at least" if parsed.errors else "has"
    limit = limits.max_depth
    if limit is not None and (value := depth(ir)) > limit:
        problems.append(
            CircuitError(f"the circuit {has} depth {value}, more than max_depth={limit}")
        )
    limit = limits.max_two_qubit_gates
    if limit is not None and (value := two_qubit_gate_count(ir)) > limit:
        problems.append(
            CircuitError(
                f"the circuit {has} {value} two-qubit gates, more than max_two_qubit_gates={limit}"
            )
        )
    limit = limits.max_parameters
    if limit is not None and len(ir.parameters) > limit:
        problems.append(
            CircuitError(
                f"the circuit has {len(ir.parameters)} parameters, more than "
                f"max_parameters={limit}",
                hint="bind some of them to numbers",
            )
        )
    return problems


def _too_many_qubits(parsed: qasm.Parsed, ir: CircuitIR, limit: int) -> CircuitError:
    message = f"the circuit has {ir.num_qubits} qubits, more than max_qubits={limit}"
    if parsed.beyond is not None:  # the parser left those statements unexpanded
        line, qubit = parsed.beyond
        return CircuitError(f"{message}; qubit {qubit} is first used here", line=line)
    for op, line in zip(ir.ops, parsed.op_lines, strict=True):
        beyond = [q for q in op.qubits if q >= limit]
        if beyond and op.name != "barrier":
            return CircuitError(f"{message}; qubit {beyond[0]} is first used here", line=line)
    used = 1 + max((q for op in ir.ops if op.name != "barrier" for q in op.qubits), default=0)
    return CircuitError(
        f"{message} (only {used} are used)",
        line=parsed.qubit_line,
        hint=f"declare only the qubits used: qubit[{used}] q;",
    )


def check_parameter_values(circuit: Circuit | CircuitIR, values: object = None) -> FloatArray:
    """Parameter values as a ``(sets, parameters)`` float array in ``circuit.parameters`` order.

    ``values`` may be ``None`` (no parameters), one number, a flat sequence (one set), a
    sequence of sequences (several sets), a numpy array (leading axes flattened into sets),
    or a mapping ``{name: value or sequence}`` (single values broadcast over the sets).
    Errors name the parameter (and the set, when there are several).
    """
    names = tuple(circuit.parameters)
    if isinstance(values, Mapping):
        array = _from_mapping(names, values)
    else:
        array = _from_sequence(names, values)
    for set_index, row in enumerate(array):
        for name, value in zip(names, row, strict=True):
            if not math.isfinite(value):
                raise CircuitError(
                    f"parameter {name!r} has the non-finite value {value} in set {set_index}",
                    hint="parameter values must be finite numbers",
                )
    return array


def _listing(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "(none)"


def _is_number(value: object) -> bool:
    if isinstance(value, np.ndarray):
        return value.ndim == 0
    return isinstance(value, numbers.Number)


def _is_set(value: object) -> bool:
    if isinstance(value, np.ndarray):
        return value.ndim == 1
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _from_sequence(names: tuple[str, ...], values: object) -> FloatArray:
    several = False
    rows: list[list[object]]
    if values is None:
        rows = [[]]
    elif _is_number(values):
        rows = [[values]]
    elif isinstance(values, np.ndarray):
        several = values.ndim > 1
        flat = values.reshape(math.prod(values.shape[:-1]), values.shape[-1])
        rows = [list(row) for row in flat]
    elif _is_set(values):
        items = list(values)  # type: ignore[call-overload]
        several = any(_is_set(item) for item in items)
        if several and not all(_is_set(item) for item in items):
            raise CircuitError(
                "parameter values mix numbers and lists",
                hint="give one list of values, or one list per parameter set",
            )
        rows = [list(item) for item in items] if several else [items]
    else:
        raise CircuitError(
            f"cannot use a {type(values).__name__} as parameter values",
            hint=f"give a list of numbers in this order: {_listing(names)}, a list of such "
            "lists, a numpy array, or a {name: value} mapping",
        )
    if not rows:
        raise CircuitError("no parameter sets given", hint="give at least one set of values")
    array = [_row(names, row, index, several) for index, row in enumerate(rows)]
    return np.array(array, dtype=np.float64).reshape(len(rows), len(names))


def _row(names: tuple[str, ...], row: list[object], index: int, several: bool) -> list[float]:
    where = f" in set {index}" if several else ""
    if len(row) < len(names):
        raise CircuitError(
            f"parameter {names[len(row)]!r} has no value{where}: got {len(row)} value(s) for "
            f"{len(names)} parameters",
            hint=f"give values in this order: {_listing(names)}",
        )
    if len(row) > len(names):
        raise CircuitError(
            f"got {len(row)} values{where} but the circuit has {len(names)} parameter(s): "
            f"{_listing(names)}",
            hint="give one value per parameter, in that order",
        )
    return [_number(name, value, where) for name, value in zip(names, row, strict=True)]


def _number(name: str, value: object, where: str) -> float:
    real = isinstance(value, numbers.Real) or (
        isinstance(value, np.ndarray) and not np.iscomplexobj(value)
    )
    if real:
        try:
            return float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            pass
    raise CircuitError(f"parameter {name!r}{where}: {value!r} is not a real number")


def _from_mapping(names: tuple[str, ...], values: Mapping[Any, object]) -> FloatArray:
    problems: list[CircuitError] = []
    columns: dict[str, list[object]] = {}
    for key, value in values.items():
        name = key if isinstance(key, str) else getattr(key, "name", None)
        if not isinstance(name, str) or name not in names:
            shown = repr(name) if isinstance(name, str) else repr(key)
            problems.append(
                CircuitError(
                    f"no parameter named {shown}; the circuit's parameters are: {_listing(names)}"
                )
            )
            continue
        column = list(value) if _is_set(value) else [value]  # type: ignore[call-overload]
        if column:
            columns[name] = column
    problems += [CircuitError(f"parameter {n!r} has no value") for n in names if n not in columns]
    if problems:
        raise CircuitError.collect(problems)
    lengths = {name: len(column) for name, column in columns.items() if len(column) != 1}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name!r} has {count}" for name, count in lengths.items())
        raise CircuitError(
            f"parameters have different numbers of values: {described}",
            hint="give every parameter the same number of values (or a single value)",
        )
    sets = max(lengths.values(), default=1)
    array = np.empty((sets, len(names)), dtype=np.float64)
    for position, name in enumerate(names):
        column = columns[name]
        for index in range(sets):
            value = column[index if len(column) > 1 else 0]
            array[index, position] = _number(name, value, f" in set {index}" if sets > 1 else "")
    return array

"""Turn the loose inputs users give (SDK objects, text, lists) into our canonical types.

:func:`coerce_pub` reads "primitive unified blocs" in the style of Qiskit's primitives: a
circuit with its parameter values and either shots (sampling) or observables (estimation).
Cirq and PennyLane objects are recognised by the module of their type, so those SDKs are only
imported (by ``circuits.cirq_import`` / ``circuits.pennylane_convert``) when such an object
is given.
"""

from __future__ import annotations

import importlib
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from qiskit import QuantumCircuit
from qiskit.quantum_info import SparsePauliOp

from circuits.canonical import Circuit
from circuits.errors import CircuitError, ObservableError
from circuits.ir import CircuitIR
from circuits.observables import PauliSum, PauliTerm, validation_message
from circuits.validation import check_parameter_values

__all__ = ["PUB_FORMS", "CircuitPub", "coerce_circuit", "coerce_observable", "coerce_pub"]

_CIRCUIT_FORMS = (
    "pass a qiskit QuantumCircuit, OpenQASM 3 (or 2) text, a circuits.Circuit, a cirq.Circuit "
    "or a PennyLane QuantumScript (tape)"
)
PUB_FORMS = (
    "give a circuit, (circuit, values), (circuit, values, shots), (circuit, observables), "
    "(circuit, observables, values), (circuit, observables, values, precision), or a dict "
    "with the keys circuit, parameter_values, observables, shots"
)
"""The accepted forms of a PUB, for error hints."""

_PUB_KEYS = ("circuit", "parameter_values", "observables", "shots", "precision")


def coerce_circuit(obj: object) -> Circuit:
    """A :class:`Circuit` from a ``Circuit``, a Qiskit ``QuantumCircuit``, OpenQASM 2/3 text,
    a Cirq circuit or a PennyLane ``QuantumScript`` (tape)."""
    if isinstance(obj, Circuit):
        return obj
    if isinstance(obj, QuantumCircuit):
        return Circuit.from_qiskit(obj)
    if isinstance(obj, str):
        return Circuit.from_qasm(obj)
    module = type(obj).__module__
    for sdk in ("cirq", "pennylane"):
        if module.startswith(sdk):
            return _convert(obj, sdk)
    raise CircuitError(f"cannot use a {type(obj).__name__} as a circuit", hint=_CIRCUIT_FORMS)


_CONVERTERS = {"cirq": "circuits.cirq_import", "pennylane": "circuits.pennylane_convert"}


def _convert(obj: object, sdk: str) -> Circuit:
    # Imported by name so that this module needs neither the SDK nor its converter to load.
    module, function = _CONVERTERS[sdk], f"from_{sdk}"
    try:
        convert = getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError) as exc:
        raise CircuitError(
            f"cannot convert a {type(obj).__name__} from {sdk}: {exc}",
            hint=f"install qcbroker[{sdk}]",
        ) from exc
    result = convert(obj)
    if isinstance(result, Circuit):
        return result
    if isinstance(result, CircuitIR):
        return Circuit.from_ir(result)
    raise CircuitError(f"{module}.{function} gave a {type(result).__name__}, not a circuit")


def coerce_observable(obj: object) -> PauliSum:
    """A :class:`PauliSum` from a ``PauliSum``, ``SparsePauliOp``, text or list of terms.

    Lists may hold ``(pauli, coeff)`` pairs or ``{"pauli": ..., "coeff": ...}`` maps.
    """
    if isinstance(obj, PauliSum):
        return obj
    if isinstance(obj, SparsePauliOp):
        return PauliSum.from_sparse_pauli_op(obj)
    if isinstance(obj, str):
        return PauliSum.from_text(obj)
    if isinstance(obj, list | tuple):
        terms = [_term(index, item) for index, item in enumerate(obj)]
        try:
            return PauliSum(terms=terms)
        except ValidationError as exc:
            raise ObservableError(f"invalid observable: {validation_message(exc)}") from exc
    raise ObservableError(
        f"cannot use a {type(obj).__name__} as an observable",
        hint="pass a PauliSum, a qiskit SparsePauliOp, text like '0.5 * ZZ - 0.2 * XI', "
        "or a list of {pauli, coeff} maps or (pauli, coeff) pairs",
    )


def _term(index: int, item: Any) -> PauliTerm:
    try:
        if isinstance(item, PauliTerm):
            return item
        if isinstance(item, Mapping):
            return PauliTerm.model_validate(dict(item))
        if isinstance(item, list | tuple) and len(item) == 2:
            pauli, coeff = item
            return PauliTerm(pauli=pauli, coeff=coeff)
    except ValidationError as exc:
        raise ObservableError(f"term {index}: {validation_message(exc)}") from exc
    raise ObservableError(
        f"term {index}: {item!r} is not a (pauli, coeff) pair or a {{pauli, coeff}} map"
    )


def _one_empty_set() -> list[list[float]]:
    return [[]]


class CircuitPub(BaseModel):
    """A canonical PUB: a circuit, its parameter value sets, shots and observables.

    ``parameter_values`` is sets x parameters in ``circuit.parameters`` order (``[[]]`` for a
    circuit without parameters). ``shots`` is ``None`` for exact results. With
    ``observables`` the PUB asks for expectation values, otherwise for samples.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    circuit: Circuit
    parameter_values: list[list[float]] = Field(default_factory=_one_empty_set)
    shots: int | None = Field(default=None, ge=1)
    observables: list[PauliSum] = Field(default_factory=list)

    @model_validator(mode="after")
    def _fits_circuit(self) -> CircuitPub:
        check_parameter_values(self.circuit, self.parameter_values)
        _check_widths(self.observables, self.circuit)
        return self


def coerce_pub(obj: object, *, shots: int | None = None) -> CircuitPub:
    """A :class:`CircuitPub` from a circuit alone, a PUB tuple or a PUB dict.

    Tuples follow Qiskit's primitives: ``(circuit, values[, shots])`` for sampling and
    ``(circuit, observables[, values[, precision]])`` for estimation, told apart by whether
    the second item is an observable (or a list of them). ``precision`` p asks for
    ``ceil(1 / p**2)`` shots, and 0 for exact values. A PUB's own shots or precision override
    ``shots``, which is used when the PUB gives neither (``None``: exact).
    """
    if isinstance(obj, CircuitPub):
        return obj
    if isinstance(obj, Mapping):
        parts = _from_dict(obj)
    elif isinstance(obj, tuple | list):
        parts = _from_tuple(obj)
    else:
        parts = _Parts(obj)
    try:
        circuit = coerce_circuit(parts.circuit)
    except CircuitError as exc:
        if exc.hint != _CIRCUIT_FORMS:
            raise
        raise CircuitError(exc.message, hint=f"{PUB_FORMS}; {_CIRCUIT_FORMS}") from exc
    values = check_parameter_values(circuit, parts.values)
    observables = _observables(parts.observables)
    _check_widths(observables, circuit)
    return CircuitPub(
        circuit=circuit,
        parameter_values=values.tolist(),
        shots=_shots(parts, _checked_shots(shots)),
        observables=observables,
    )


@dataclass
class _Parts:
    circuit: object
    values: object = None
    observables: object = None
    shots: object = None
    precision: object = None


def _from_tuple(items: tuple[object, ...] | list[object]) -> _Parts:
    if not 1 <= len(items) <= 4:
        raise CircuitError(f"a PUB has 1 to 4 items, not {len(items)}", hint=PUB_FORMS)
    circuit, *rest = items
    if not rest:
        return _Parts(circuit)
    if _looks_like_observables(rest[0]):
        rest += [None] * (3 - len(rest))
        return _Parts(circuit, observables=rest[0], values=rest[1], precision=rest[2])
    if len(rest) == 3:
        raise CircuitError(
            f"a PUB of 4 items is (circuit, observables, values, precision), but item 1 "
            f"(a {type(rest[0]).__name__}) is not an observable",
            hint=PUB_FORMS,
        )
    return _Parts(circuit, values=rest[0], shots=rest[1] if len(rest) == 2 else None)


def _from_dict(data: Mapping[Any, object]) -> _Parts:
    unknown = [repr(key) for key in data if key not in _PUB_KEYS]
    if unknown:
        raise CircuitError(
            f"unknown PUB keys {', '.join(unknown)}",
            hint=f"the keys are {', '.join(_PUB_KEYS)}",
        )
    if "circuit" not in data:
        raise CircuitError("the PUB has no 'circuit'", hint=PUB_FORMS)
    return _Parts(
        data["circuit"],
        values=data.get("parameter_values"),
        observables=data.get("observables"),
        shots=data.get("shots"),
        precision=data.get("precision"),
    )


def _looks_like_observables(obj: object) -> bool:
    """Whether ``obj`` is an observable or a list of them, rather than parameter values."""
    if isinstance(obj, PauliSum | PauliTerm | SparsePauliOp | str):
        return True
    if isinstance(obj, Mapping):
        return "pauli" in obj
    if isinstance(obj, list | tuple) and obj:
        return _looks_like_observables(obj[0])
    return False


def _is_term(item: object) -> bool:
    """Whether ``item`` is one term: a PauliTerm, a {pauli, coeff} map or a (pauli, coeff) pair."""
    if isinstance(item, PauliTerm | Mapping):
        return True
    return (
        isinstance(item, list | tuple)
        and len(item) == 2
        and isinstance(item[0], str)
        and isinstance(item[1], numbers.Real)
    )


def _observables(obj: object) -> list[PauliSum]:
    if obj is None:
        return []
    # A list of terms is one observable; a list of anything else is several.
    several = isinstance(obj, list | tuple) and not (obj and _is_term(obj[0]))
    items = list(obj) if several else [obj]  # type: ignore[call-overload]
    result = []
    for index, item in enumerate(items):
        try:
            result.append(coerce_observable(item))
        except ObservableError as exc:
            where = f"observable {index}" if several else "observable"
            raise ObservableError(f"{where}: {exc.message}", hint=exc.hint) from exc
    return result


def _check_widths(observables: list[PauliSum], circuit: Circuit) -> None:
    for index, observable in enumerate(observables):
        if observable.num_qubits != circuit.num_qubits:
            raise ObservableError(
                f"observable {index} acts on {observable.num_qubits} qubits but the circuit "
                f"has {circuit.num_qubits}",
                hint="write one Pauli letter per qubit, qubit 0 rightmost",
            )


def _checked_shots(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value) >= 1:
        return int(value)
    raise CircuitError(
        f"shots must be a positive integer, not {value!r}",
        hint="leave shots out (or None) for exact results",
    )


def _shots(parts: _Parts, default: int | None) -> int | None:
    shots = _checked_shots(parts.shots)
    if parts.precision is None:
        return default if shots is None else shots
    if shots is not None:
        raise CircuitError("give shots or precision, not both", hint=PUB_FORMS)
    precision = parts.precision
    if not isinstance(precision, numbers.Real) or not math.isfinite(precision) or precision < 0:
        raise CircuitError(
            f"precision must be a finite number >= 0, not {precision!r}",
            hint="precision is the target standard error; 0 asks for exact values",
        )
    return None if precision == 0 else math.ceil(1 / float(precision) ** 2)

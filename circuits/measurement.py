"""Shot-based estimation of a :class:`PauliSum` expectation value from measurement counts.

Terms are grouped so that every group is qubit-wise commuting and can be measured with one
circuit: rotate each qubit into the Z basis of its group letter, measure all qubits, and
read each term's eigenvalue as the parity of the measured bits where the term is not ``I``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, field_validator

from circuits.errors import CircuitError, ObservableError
from circuits.ir import CircuitIR, Op
from circuits.observables import PauliSum, PauliTerm

__all__ = [
    "MeasurementGroup",
    "basis_change_ops",
    "estimate",
    "measurement_groups",
    "with_measurements",
]


class MeasurementGroup(BaseModel):
    """Qubit-wise commuting terms measured together.

    ``basis`` has one letter per qubit (``X``, ``Y`` or ``Z``; qubit 0 rightmost, as in the
    Pauli strings); qubits on which every term is ``I`` are measured in ``Z``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    basis: str
    terms: list[PauliTerm]

    @field_validator("basis")
    @classmethod
    def _basis_letters(cls, value: str) -> str:
        if not value or set(value) - set("XYZ"):
            raise ValueError(f"basis {value!r} must be a non-empty string over X, Y, Z")
        return value

    @property
    def num_qubits(self) -> int:
        """Number of qubits measured."""
        return len(self.basis)

    @property
    def needs_shots(self) -> bool:
        """False when every term is the identity (its value is known exactly)."""
        return not all(term.is_identity for term in self.terms)


def measurement_groups(pauli_sum: PauliSum) -> list[MeasurementGroup]:
    """Partition the terms into qubit-wise commuting groups (Qiskit's graph colouring)."""
    groups: list[MeasurementGroup] = []
    for part in pauli_sum.to_sparse_pauli_op().group_commuting(qubit_wise=True):
        terms = [PauliTerm(pauli=label, coeff=complex(c).real) for label, c in part.to_list()]
        basis = []
        for position in range(pauli_sum.num_qubits):
            letters = {t.pauli[position] for t in terms} - {"I"}
            basis.append(letters.pop() if letters else "Z")
        groups.append(MeasurementGroup(basis="".join(basis), terms=terms))
    return groups


def basis_change_ops(group: MeasurementGroup, num_qubits: int) -> list[Op]:
    """IR ops rotating each qubit into ``group``'s basis, then measuring qubit i into clbit i."""
    if group.num_qubits != num_qubits:
        raise ObservableError(
            f"observable acts on {group.num_qubits} qubits but the circuit has {num_qubits}"
        )
    ops: list[Op] = []
    for qubit in range(num_qubits):
        letter = group.basis[-1 - qubit]
        if letter == "X":
            ops.append(Op("h", (qubit,)))
        elif letter == "Y":
            ops += [Op("sdg", (qubit,)), Op("h", (qubit,))]
    ops += [Op("measure", (qubit,), (), (qubit,)) for qubit in range(num_qubits)]
    return ops


def with_measurements(ir: CircuitIR, group: MeasurementGroup) -> CircuitIR:
    """``ir`` (which must not measure) followed by ``group``'s basis change and measurements.

    The result has one clbit per qubit, clbit i holding qubit i.
    """
    if any(op.name == "measure" for op in ir.ops):
        raise CircuitError(
            "the circuit already contains measurements",
            hint="give the state-preparation circuit without measurements",
        )
    ops = ir.ops + tuple(basis_change_ops(group, ir.num_qubits))
    return CircuitIR(ir.num_qubits, ir.num_qubits, ir.parameters, ops)


def _outcome(key: str) -> int:
    text = key.replace(" ", "")
    try:
        if text.startswith("0x"):
            return int(text, 16)
        if text and set(text) <= {"0", "1"}:
            return int(text, 2)
    except ValueError:
        pass
    raise ObservableError(f"counts key {key!r} is not a bitstring")


def _mask(pauli: str) -> int:
    return sum(1 << qubit for qubit, letter in enumerate(reversed(pauli)) if letter != "I")


def estimate(
    groups: Sequence[MeasurementGroup], counts_per_group: Sequence[Mapping[str, int]]
) -> tuple[float, float]:
    """Expectation value and its standard error from counts, one counts dict per group.

    Counts keys are Qiskit bitstrings (clbit 0 rightmost) of circuits built with
    :func:`with_measurements`. Identity terms contribute their coefficient exactly; groups of
    identity terms only need no shots. The variance of each group's estimate is the sample
    variance of its per-shot values divided by the shots; groups are independent.
    """
    if len(groups) != len(counts_per_group):
        raise ObservableError(
            f"{len(groups)} measurement groups but {len(counts_per_group)} counts dicts"
        )
    value = 0.0
    variance = 0.0
    for index, (group, counts) in enumerate(zip(groups, counts_per_group, strict=True)):
        value += sum(t.coeff for t in group.terms if t.is_identity)
        active = [(_mask(t.pauli), t.coeff) for t in group.terms if not t.is_identity]
        if not active:
            continue
        shots = sum(counts.values())
        if shots <= 0 or any(n < 0 for n in counts.values()):
            raise ObservableError(f"group {index} has no shots (or negative counts)")
        total = 0.0
        squares = 0.0
        for key, n in counts.items():
            outcome = _outcome(key)
            shot_value = sum(
                -coeff if (outcome & mask).bit_count() % 2 else coeff for mask, coeff in active
            )
            total += n * shot_value
            squares += n * shot_value * shot_value
        mean = total / shots
        spread = max(squares / shots - mean * mean, 0.0)
        if shots > 1:
            spread *= shots / (shots - 1)
        value += mean
        variance += spread / shots
    return value, math.sqrt(variance)

"""Translation between qcbroker circuits and Amazon Braket circuits, counts and observables.

Every gate of :data:`circuits.ir.GATES` becomes Braket gates with the same unitary up to a
global phase (the unit tests compare each one with Qiskit's matrix). Gates with a Braket
namesake map one to one (``sdg``→``si``, ``sx``→``v``, ``p``→``phaseshift``,
``rxx``→``xx``: Braket's Ising gates use Qiskit's angle convention); ``u`` and the controlled
rotations ``ch``/``crx``/``cry``/``crz`` are decomposed into gates that AWS devices commonly
accept, instead of Braket's ``U`` or ``ctrl @`` modifiers, which few of them take.

Parameters are bound here, numerically, with :func:`circuits.expressions.evaluate`: every
(circuit, parameter set) pair becomes one concrete Braket circuit, so that no expression
syntax has to survive Braket's own parameter handling.

Braket circuits cannot hold a gate after a measurement on the same qubit, nor a reset, so
only circuits that measure at the end are accepted. Braket reports bitstrings with the first
measured qubit leftmost; :func:`qiskit_counts` turns them into Qiskit-order keys over the
circuit's clbits.

:func:`exact_work` and :func:`sampled_work` turn a whole batch into its executables (one
bound Braket circuit per circuit and parameter set, in order) and a function that folds the
per-executable results back into items through :mod:`backends.runs`; the backend only
decides how many native calls carry them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from braket.circuits import Circuit as BraketCircuit
from braket.circuits import Instruction, Observable, gates
from braket.circuits.observables import X, Y, Z
from braket.device_schema import DeviceActionType

from backends.base import ItemResult, QuantumBatch
from backends.errors import BackendError
from backends.runs import exact_items, exact_runs, sampling_plan
from circuits import expressions
from circuits.canonical import Circuit
from circuits.observables import PauliSum

__all__ = [
    "GATE_MAP",
    "Template",
    "Work",
    "combine_terms",
    "exact_work",
    "expectation_terms",
    "pauli_observable",
    "program_set_size",
    "qiskit_counts",
    "raw_results",
    "sampled_work",
    "template",
]

# (circuit, qubits, angles) -> appends the Braket gates for one IR gate.
Appender = Callable[[BraketCircuit, tuple[int, ...], tuple[float, ...]], None]


def _gate(factory: Callable[..., Any]) -> Appender:
    """One Braket gate on the same qubits, taking the angles in the same order."""

    def append(circuit: BraketCircuit, qubits: tuple[int, ...], angles: tuple[float, ...]) -> None:
        circuit.add_instruction(Instruction(factory(*angles), target=list(qubits)))

    return append


def _add(circuit: BraketCircuit, gate: Any, *qubits: int) -> None:
    circuit.add_instruction(Instruction(gate, target=list(qubits)))


def _u(circuit: BraketCircuit, q: tuple[int, ...], a: tuple[float, ...]) -> None:
    # Qiskit's U(θ, φ, λ) = e^{i(φ+λ)/2} Rz(φ) Ry(θ) Rz(λ).
    theta, phi, lam = a
    _add(circuit, gates.Rz(lam), q[0])
    _add(circuit, gates.Ry(theta), q[0])
    _add(circuit, gates.Rz(phi), q[0])


def _ch(circuit: BraketCircuit, q: tuple[int, ...], a: tuple[float, ...]) -> None:
    # H = Ry(π/4) Z Ry(-π/4), so conjugating CZ gives CH exactly (no relative phase).
    _add(circuit, gates.Ry(-math.pi / 4), q[1])
    _add(circuit, gates.CZ(), q[0], q[1])
    _add(circuit, gates.Ry(math.pi / 4), q[1])


def _controlled_rotation(rotation: Callable[[float], Any], basis: bool = False) -> Appender:
    """C-R(θ) as R(θ/2), CX, R(-θ/2), CX, exact for rotations that X conjugates to R(-θ)
    (Ry, Rz); ``basis`` wraps an Rz version in H on the target for Rx."""

    def append(circuit: BraketCircuit, q: tuple[int, ...], a: tuple[float, ...]) -> None:
        control, target = q
        if basis:
            _add(circuit, gates.H(), target)
        _add(circuit, rotation(a[0] / 2), target)
        _add(circuit, gates.CNot(), control, target)
        _add(circuit, rotation(-a[0] / 2), target)
        _add(circuit, gates.CNot(), control, target)
        if basis:
            _add(circuit, gates.H(), target)

    return append


GATE_MAP: Mapping[str, Appender] = {
    "id": _gate(gates.I),
    "x": _gate(gates.X),
    "y": _gate(gates.Y),
    "z": _gate(gates.Z),
    "h": _gate(gates.H),
    "s": _gate(gates.S),
    "sdg": _gate(gates.Si),
    "t": _gate(gates.T),
    "tdg": _gate(gates.Ti),
    "sx": _gate(gates.V),
    "sxdg": _gate(gates.Vi),
    "rx": _gate(gates.Rx),
    "ry": _gate(gates.Ry),
    "rz": _gate(gates.Rz),
    "p": _gate(gates.PhaseShift),
    "u": _u,
    "cx": _gate(gates.CNot),
    "cy": _gate(gates.CY),
    "cz": _gate(gates.CZ),
    "ch": _ch,
    "swap": _gate(gates.Swap),
    "crx": _controlled_rotation(gates.Rz, basis=True),
    "cry": _controlled_rotation(gates.Ry),
    "crz": _controlled_rotation(gates.Rz),
    "cp": _gate(gates.CPhaseShift),
    "rxx": _gate(gates.XX),
    "ryy": _gate(gates.YY),
    "rzz": _gate(gates.ZZ),
    "ccx": _gate(gates.CCNot),
    "cswap": _gate(gates.CSwap),
}
"""How each canonical gate is appended to a Braket circuit."""


@dataclass(frozen=True)
class Template:
    """A circuit ready to bind: its gates, the qubits to measure and where each clbit reads.

    ``clbit_qubits[k]`` is the qubit measured into clbit ``k`` (None: never written, reads 0).
    """

    circuit: Circuit
    gates: tuple[tuple[str, tuple[int, ...], tuple[str, ...]], ...]
    measured: tuple[int, ...]
    clbit_qubits: tuple[int | None, ...]

    def bind(self, values: Sequence[float]) -> BraketCircuit:
        """A concrete Braket circuit at one parameter set (canonical parameter order)."""
        env = dict(zip(self.circuit.parameters, (float(v) for v in values), strict=True))
        out = BraketCircuit()
        # Braket only knows the qubits that something touches and refuses to measure others
        # or to run a circuit without gates, so such qubits get an identity first.
        touched = {q for _, qubits, _ in self.gates for q in qubits}
        for qubit in sorted(set(self.measured) - touched) or ([] if touched else [0]):
            _add(out, gates.I(), qubit)
        for name, qubits, params in self.gates:
            angles = tuple(float(expressions.evaluate(p, env)) for p in params)
            GATE_MAP[name](out, qubits, angles)
        if self.measured:
            out.measure(list(self.measured))
        return out


def template(circuit: Circuit) -> Template:
    """Prepare ``circuit`` for binding.

    Raises:
        BackendError: the circuit resets a qubit, or acts on a qubit after measuring it.
    """
    ops = []
    measured: dict[int, None] = {}
    clbit_qubits: list[int | None] = [None] * circuit.num_clbits
    for op in circuit.ir.ops:
        if op.name == "barrier":
            continue
        if op.condition is not None:
            raise BackendError(
                f"circuit {circuit.sha256[:12]} is classically controlled ('if'), which "
                "Braket's circuits cannot express; run it on aer, cirq or pennylane"
            )
        if op.name == "reset" or (op.name != "measure" and measured.keys() & set(op.qubits)):
            raise BackendError(
                f"circuit {circuit.sha256[:12]} resets or measures in the middle; Braket "
                "circuits take measurements only at the end"
            )
        if op.name == "measure":
            measured[op.qubits[0]] = None
            clbit_qubits[op.clbits[0]] = op.qubits[0]
            continue
        ops.append((op.name, op.qubits, op.params))
    return Template(circuit, tuple(ops), tuple(measured), tuple(clbit_qubits))


def qiskit_counts(
    counts: Mapping[str, int], measured_qubits: Sequence[int], clbit_qubits: Sequence[int | None]
) -> dict[str, int]:
    """Braket counts (character ``j`` is ``measured_qubits[j]``) keyed by Qiskit bitstrings
    over the clbits (clbit 0 rightmost)."""
    column = {int(q): j for j, q in enumerate(measured_qubits)}
    out: dict[str, int] = {}
    for bits, n in counts.items():
        key = "".join("0" if q is None else bits[column[q]] for q in reversed(clbit_qubits))
        out[key] = out.get(key, 0) + int(n)
    return out


def pauli_observable(pauli: str) -> tuple[Any, list[int]]:
    """The Braket observable and target qubits of a non-identity Pauli string (qubit 0
    rightmost)."""
    factors: list[Any] = []
    targets: list[int] = []
    for qubit, letter in enumerate(reversed(pauli)):
        if letter != "I":
            factors.append({"X": X, "Y": Y, "Z": Z}[letter]())
            targets.append(qubit)
    if not factors:
        raise ValueError(f"{pauli!r} is the identity")
    observable = factors[0]
    for factor in factors[1:]:
        observable = observable @ factor
    assert isinstance(observable, Observable)
    return observable, targets


def expectation_terms(observables: Sequence[PauliSum]) -> list[str]:
    """The distinct non-identity Pauli strings of ``observables``, in first-seen order: one
    Braket expectation result type each."""
    seen: dict[str, None] = {}
    for obs in observables:
        for term in obs.terms:
            if not term.is_identity:
                seen.setdefault(term.pauli)
    return list(seen)


def combine_terms(observables: Sequence[PauliSum], values: Mapping[str, float]) -> list[float]:
    """Each observable's value from the values of its Pauli strings (identity terms add
    their coefficients)."""
    return [
        sum(t.coeff * (1.0 if t.is_identity else values[t.pauli]) for t in obs.terms)
        for obs in observables
    ]


@dataclass
class Work:
    """The Braket circuits of a batch (executables, in order), the shots for each (0: exact)
    and how to fold their raw results (:func:`raw_results`) back into items."""

    circuits: list[BraketCircuit]
    shots: int
    finish: Callable[[list[Any]], list[ItemResult]]
    evaluations: int


def exact_work(batch: QuantumBatch) -> Work:
    """One circuit with expectation result types per (item, parameter set) with terms."""
    circuits: list[BraketCircuit] = []
    slots: list[tuple[list[Any], list[str], list[int | None]]] = []
    for run in exact_runs(batch):
        tmpl, terms = template(run.circuit), expectation_terms(run.observables)
        indices: list[int | None] = []
        for row in run.values:
            if not terms:  # identity only: nothing to run
                indices.append(None)
                continue
            circuit = tmpl.bind(row)
            for pauli in terms:
                observable, targets = pauli_observable(pauli)
                circuit.expectation(observable, target=targets)
            indices.append(len(circuits))
            circuits.append(circuit)
        slots.append((list(run.observables), terms, indices))

    def finish(raw: list[Any]) -> list[ItemResult]:
        values = []
        for observables, terms, indices in slots:
            rows = []
            for index in indices:
                found = [] if index is None else raw[index]
                rows.append(combine_terms(observables, dict(zip(terms, found, strict=True))))
            values.append(np.asarray(rows, dtype=float))
        return exact_items(values)

    return Work(circuits, 0, finish, sum(len(indices) for _, _, indices in slots))


def sampled_work(batch: QuantumBatch, shots: int) -> Work:
    """One measured circuit per run of the sampling plan and parameter set."""
    plan = sampling_plan(batch)
    circuits: list[BraketCircuit] = []
    layout = []
    for run in plan.runs:
        tmpl = template(run.circuit)
        layout.append((tmpl.clbit_qubits, len(circuits), run.executions))
        circuits.extend(tmpl.bind(row) for row in run.values)

    def finish(raw: list[Any]) -> list[ItemResult]:
        counts = []
        for clbits, start, n in layout:
            rows = [raw[start + s] for s in range(n)]
            counts.append([qiskit_counts(found, qubits, clbits) for found, qubits in rows])
        return plan.assemble(counts)

    return Work(circuits, shots, finish, plan.executions)


def raw_results(result: Any, exact: bool) -> list[Any]:
    """Raw results per executable: expectation values, or (counts, measured qubits)."""
    if hasattr(result, "entries"):  # a program set: entries per program, then executables
        return [
            (dict(m.counts), list(m.measured_qubits)) for e in result.entries for m in e.entries
        ]
    if exact:
        return [list(result.values)]
    return [(dict(result.measurement_counts), list(result.measured_qubits))]


def program_set_size(properties: Any, shots: int) -> int:
    """Executables per program set the device takes at ``shots`` each (0: none)."""
    action = properties.action.get(DeviceActionType.OPENQASM_PROGRAM_SET)
    if action is None or shots == 0:
        return 0
    size = int(action.maximumExecutables or 1_000_000)
    if action.maximumTotalShots:
        size = min(size, int(action.maximumTotalShots) // shots)
    return size

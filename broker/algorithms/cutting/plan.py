"""Cut plans for the ``cutting`` algorithm: where to cut, and the subexperiments to run.

Everything here is deterministic given its inputs and seed, so that ``needs``, ``start``
and the tests see the same plan. The cutting itself is qiskit-addon-cutting's:
``partition_problem`` with the user's partition labels, or ``find_cuts`` (then
``cut_wires``/``expand_observables``) for a width limit, and ``generate_cutting_experiments``
for the subexperiments and their quasi-probability (QPD) coefficients.

Each subexperiment measures into two classical registers, ``observable_measurements`` and
``qpd_measurements``. The canonical OpenQASM form flattens registers into one ``bit[n] c``
in register order, so a :class:`Layout` records where each register lies among the clbits;
the reconstruction splits the backends' counts back along it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.quantum_info import PauliList
from qiskit_addon_cutting import (
    DeviceConstraints,
    OptimizationParameters,
    cut_wires,
    expand_observables,
    find_cuts,
    generate_cutting_experiments,
    partition_problem,
)
from qiskit_addon_cutting.qpd import QPDBasis, TwoQubitQPDGate
from qiskit_addon_cutting.utils.observable_grouping import ObservableCollection

from circuits.canonical import Circuit
from circuits.observables import PauliSum

OBSERVABLE_REGISTER = "observable_measurements"
QPD_REGISTER = "qpd_measurements"

__all__ = [
    "OBSERVABLE_REGISTER",
    "QPD_REGISTER",
    "CutFindingSettings",
    "CutProblem",
    "Layout",
    "Subexperiment",
    "assign_round_robin",
    "cut",
    "generate",
    "layout_of",
    "paulis_of",
]


@dataclass(frozen=True)
class CutFindingSettings:
    """What ``find_cuts`` may do: gate and/or wire cuts, its search limits, its seed."""

    max_subcircuit_qubits: int
    gate_cuts: bool = True
    wire_cuts: bool = True
    max_gamma: float = 1024.0
    max_backjumps: int | None = 10000
    seed: int = 0


@dataclass(frozen=True)
class Layout:
    """Where a subexperiment's two registers lie among its clbits: ``(offset, size)`` each,
    offsets counted from clbit 0 (the rightmost character of a Qiskit-order bitstring)."""

    num_clbits: int
    observable: tuple[int, int]
    qpd: tuple[int, int]

    def to_json(self) -> dict[str, Any]:
        """Plain JSON for the algorithm's state and the reconstruction's payload."""
        return {
            "num_clbits": self.num_clbits,
            "observable": list(self.observable),
            "qpd": list(self.qpd),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Layout:
        """The inverse of :meth:`to_json`."""
        obs, qpd = data["observable"], data["qpd"]
        return cls(int(data["num_clbits"]), (int(obs[0]), int(obs[1])), (int(qpd[0]), int(qpd[1])))


def layout_of(qc: QuantumCircuit) -> Layout:
    """The :class:`Layout` of a subexperiment from its registers (ValueError if it lacks one,
    or has clbits outside both)."""
    spans: dict[str, tuple[int, int]] = {}
    for register in qc.cregs:
        indices = [qc.find_bit(bit).index for bit in register]
        if indices != list(range(indices[0], indices[0] + len(indices))):
            raise ValueError(f"register {register.name} is not contiguous among the clbits")
        spans[register.name] = (indices[0], len(indices))
    if set(spans) != {OBSERVABLE_REGISTER, QPD_REGISTER}:
        raise ValueError(f"expected registers {OBSERVABLE_REGISTER} and {QPD_REGISTER}")
    return Layout(qc.num_clbits, spans[OBSERVABLE_REGISTER], spans[QPD_REGISTER])


@dataclass
class CutProblem:
    """A circuit cut into subcircuits, with its observables' Pauli strings split to match.

    ``subcircuits`` and ``subobservables`` are keyed by partition label (as text);
    ``bases`` holds one QPD basis per cut gate or wire.
    """

    subcircuits: dict[str, QuantumCircuit]
    subobservables: dict[str, PauliList]
    bases: list[QPDBasis]
    wire_cuts: int = 0

    @property
    def sampling_overhead(self) -> float:
        """The QPD sampling overhead: the product of each cut's ``kappa**2``."""
        return float(np.prod([basis.overhead for basis in self.bases]))

    @property
    def widths(self) -> dict[str, int]:
        """Qubits of each subcircuit."""
        return {label: qc.num_qubits for label, qc in self.subcircuits.items()}

    def groups(self, label: str) -> int:
        """Commuting groups of the partition's subobservables: circuits per QPD sample."""
        return len(ObservableCollection(self.subobservables[label]).groups)

    def max_samples(self, num_samples: float) -> int:
        """The most distinct QPD samples (coefficients) ``generate`` can give.

        With every weight exact, the nonzero terms of the joint decomposition; with finite
        ``num_samples``, at most ``num_samples`` weights above ``1/num_samples`` are exact and
        at most ``ceil(num_samples)`` more are drawn.
        """
        terms = math.prod(int(np.count_nonzero(b.probabilities)) for b in self.bases)
        if math.isfinite(num_samples):
            return min(terms, 2 * math.ceil(num_samples))
        return terms

    def max_subexperiments(self, num_samples: float) -> int:
        """The most subexperiments ``generate`` can give."""
        samples = self.max_samples(num_samples)
        return sum(samples * self.groups(label) for label in self.subcircuits)


def cut(
    circuit: QuantumCircuit,
    paulis: Sequence[str],
    partition: str | None = None,
    finding: CutFindingSettings | None = None,
) -> CutProblem:
    """Cut ``circuit`` (no measurements, gates on at most two qubits) along ``partition``
    labels (one character per qubit, qubit 0 first) or where ``find_cuts`` chooses under
    ``finding``; ``paulis`` are the non-identity Pauli strings to measure (qubit 0
    rightmost). Raises ValueError when the addon cannot cut it."""
    observables = PauliList(list(paulis))
    if partition is not None:
        problem = partition_problem(circuit, list(partition), observables=observables)
        return _problem(problem.subcircuits, problem.subobservables, problem.bases)
    assert finding is not None, "give a partition or cut-finding settings"
    options = OptimizationParameters(
        seed=finding.seed,
        max_gamma=finding.max_gamma,
        max_backjumps=finding.max_backjumps,
        gate_lo=finding.gate_cuts,
        wire_lo=finding.wire_cuts,
    )
    constraints = DeviceConstraints(qubits_per_subcircuit=finding.max_subcircuit_qubits)
    marked, metadata = find_cuts(circuit, options, constraints)
    wire_cuts = sum(1 for kind, _ in metadata["cuts"] if kind == "Wire Cut")
    moved = cut_wires(marked)
    expanded = expand_observables(observables, circuit, moved)
    labels = _connected_labels(moved)
    problem = partition_problem(moved, labels, observables=expanded)
    return _problem(problem.subcircuits, problem.subobservables, problem.bases, wire_cuts)


def _connected_labels(circuit: QuantumCircuit) -> list[str]:
    """Partition labels from the circuit's connectivity, ignoring the gates marked for
    cutting: as ``partition_problem`` chooses them (numbered by lowest qubit), except that
    an idle qubit gets a partition of its own instead of none (the addon would leave its
    observables without a subcircuit)."""
    parent = list(range(circuit.num_qubits))

    def root(q: int) -> int:
        while parent[q] != q:
            parent[q] = parent[parent[q]]
            q = parent[q]
        return q

    for instruction in circuit.data:
        if isinstance(instruction.operation, TwoQubitQPDGate):
            continue
        qubits = [circuit.find_bit(q).index for q in instruction.qubits]
        for other in qubits[1:]:
            parent[root(other)] = root(qubits[0])
    numbers: dict[int, int] = {}
    return [str(numbers.setdefault(root(q), len(numbers))) for q in range(circuit.num_qubits)]


def _problem(
    subcircuits: dict[Any, QuantumCircuit],
    subobservables: dict[Any, PauliList] | None,
    bases: list[QPDBasis],
    wire_cuts: int = 0,
) -> CutProblem:
    assert subobservables is not None
    return CutProblem(
        subcircuits={str(k): v for k, v in subcircuits.items()},
        subobservables={str(k): v for k, v in subobservables.items()},
        bases=list(bases),
        wire_cuts=wire_cuts,
    )


@dataclass(frozen=True)
class Subexperiment:
    """One circuit to sample: its partition, its place in that partition's list (the order
    the reconstruction expects), the circuit in canonical form and its register layout."""

    label: str
    index: int
    circuit: Circuit
    layout: Layout


_GLOBAL_RNG = threading.Lock()


@contextmanager
def _seeded_global_rng(seed: int) -> Iterator[None]:
    """NumPy's global generator seeded for the duration, then restored: the addon samples
    QPD weights with ``np.random.choice`` and takes no seed of its own."""
    with _GLOBAL_RNG:
        saved = np.random.get_state()
        np.random.seed(seed % 2**32)
        try:
            yield
        finally:
            np.random.set_state(saved)


def generate(
    problem: CutProblem, num_samples: float, seed: int
) -> tuple[list[Subexperiment], list[tuple[float, str]]]:
    """The subexperiments (partition by partition, each in the addon's order) and the QPD
    coefficients as ``(value, "EXACT" | "SAMPLED")``. ``num_samples=inf`` gives exact
    weights; a finite one samples the tail of the distribution, seeded by ``seed``."""
    with _seeded_global_rng(seed):
        experiments, coefficients = generate_cutting_experiments(
            problem.subcircuits, problem.subobservables, num_samples
        )
    assert isinstance(experiments, dict)
    out: list[Subexperiment] = []
    for label, circuits in experiments.items():
        for index, qc in enumerate(circuits):
            out.append(Subexperiment(str(label), index, Circuit.from_qiskit(qc), layout_of(qc)))
    return out, [(float(value), kind.name) for value, kind in coefficients]


def assign_round_robin(count: int, backends: Sequence[str]) -> list[str]:
    """The backend of each of ``count`` subexperiments, dealt in turn: every backend gets
    ``count // len(backends)`` of them, the first ones one more."""
    return [backends[i % len(backends)] for i in range(count)]


def paulis_of(observables: Sequence[PauliSum]) -> list[str]:
    """The distinct non-identity Pauli strings of ``observables``, in first-seen order."""
    seen: dict[str, None] = {}
    for obs in observables:
        for term in obs.terms:
            if not term.is_identity:
                seen.setdefault(term.pauli, None)
    return list(seen)

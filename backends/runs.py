"""What every quantum backend does with a batch before and after its SDK runs it.

A :class:`~backends.base.QuantumBatch` is turned once into flat lists of *runs* — one
circuit with all its parameter sets — that a backend hands to its SDK in as few native calls
as it allows; the per-run answers are then folded back into one
:class:`~backends.base.ItemResult` per item. Backends only translate runs to and from their
SDK, so that every backend reads a batch, orders parameters, groups Pauli terms and
estimates expectation values the same way.

- Exact mode (``shots=None``): :func:`exact_runs` gives each item's circuit without
  measurements, its parameter values and its observables; the backend returns one row of
  expectation values per parameter set.
- Sampled mode: :func:`sampling_plan` gives the circuits to sample. An item without
  observables samples its own measurements; an item with observables samples one circuit per
  qubit-wise commuting group of each observable (basis change and measurement appended), and
  :meth:`SamplingPlan.assemble` estimates the values and standard errors from the counts.

Counts are always keyed by Qiskit-order bitstrings: clbit 0 is the rightmost character, and
every key has exactly ``num_clbits`` characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from backends.base import ItemResult, QuantumBatch, QuantumItem
from backends.errors import BackendError
from circuits.canonical import Circuit
from circuits.ir import CircuitIR
from circuits.measurement import estimate, measurement_groups, with_measurements
from circuits.observables import PauliSum

__all__ = [
    "ExactRun",
    "SampleRun",
    "SamplingPlan",
    "exact_items",
    "exact_runs",
    "parameter_values",
    "quasi_probabilities",
    "sampling_plan",
    "without_measurements",
]


def parameter_values(circuit: Circuit, item: QuantumItem) -> np.ndarray:
    """The item's parameter sets as a ``(sets, parameters)`` array, in the circuit's
    canonical parameter order (:attr:`Circuit.parameters`).

    Raises:
        BackendError: a set has the wrong number of values.
    """
    rows = [list(row) for row in item.parameter_values]
    for index, row in enumerate(rows):
        if len(row) != len(circuit.parameters):
            raise BackendError(
                f"circuit {circuit.sha256[:12]} has {len(circuit.parameters)} parameters "
                f"({', '.join(circuit.parameters) or 'none'}), but parameter set {index} has "
                f"{len(row)} values"
            )
    return np.asarray(rows, dtype=float).reshape(len(rows), len(circuit.parameters))


def without_measurements(circuit: Circuit) -> Circuit:
    """The circuit with its final measurements and barriers removed (for exact simulation).

    Raises:
        BackendError: a measurement or reset is followed by a gate, so the circuit has no
            single final state to take expectation values of.
    """
    ops = circuit.ir.ops
    measured: set[int] = set()
    kept = []
    for op in ops:
        if op.name == "barrier":
            continue
        if op.name == "measure":
            measured.update(op.qubits)
            continue
        if op.name == "reset" or measured.intersection(op.qubits):
            raise BackendError(
                f"circuit {circuit.sha256[:12]} measures or resets in the middle; exact "
                "simulation needs measurements only at the end (or set shots to sample it)"
            )
        kept.append(op)
    if len(kept) == len(ops) and circuit.num_clbits == 0:
        return circuit
    return Circuit.from_ir(CircuitIR(circuit.num_qubits, 0, circuit.parameters, tuple(kept)))


@dataclass(frozen=True)
class ExactRun:
    """One item in exact mode: expectation value of each observable at each parameter set."""

    circuit: Circuit
    values: np.ndarray
    observables: list[PauliSum]


def exact_runs(batch: QuantumBatch) -> list[ExactRun]:
    """One :class:`ExactRun` per item (every item must have observables)."""
    runs = []
    for index, item in enumerate(batch.items):
        if not item.observables:
            raise BackendError(
                f"item {index}: exact simulation returns expectation values; give the item "
                "observables, or set shots to sample counts"
            )
        circuit = Circuit(qasm=item.circuit)
        for obs in item.observables:
            if obs.num_qubits != circuit.num_qubits:
                raise BackendError(
                    f"item {index}: an observable acts on {obs.num_qubits} qubits but the "
                    f"circuit has {circuit.num_qubits}"
                )
        bare = without_measurements(circuit)
        runs.append(ExactRun(bare, parameter_values(bare, item), list(item.observables)))
    return runs


def exact_items(values: Sequence[np.ndarray]) -> list[ItemResult]:
    """Item results from exact expectation values, one ``(sets, observables)`` array per item
    (standard errors are zero)."""
    items = []
    for evs in values:
        arr = np.asarray(evs, dtype=float)
        items.append(
            ItemResult(expectation_values=arr.tolist(), std_errors=np.zeros_like(arr).tolist())
        )
    return items


@dataclass(frozen=True)
class SampleRun:
    """One circuit to sample, at each of ``values``' parameter sets."""

    circuit: Circuit
    values: np.ndarray

    @property
    def executions(self) -> int:
        """Circuit executions this run takes (one per parameter set)."""
        return int(self.values.shape[0])


@dataclass
class SamplingPlan:
    """The runs a sampled batch needs and how to fold their counts back into items."""

    batch: QuantumBatch
    runs: list[SampleRun] = field(default_factory=list)
    # Per item, per observable (or one entry for plain sampling): indices into ``runs``.
    _index: list[list[list[int]]] = field(default_factory=list)

    @property
    def executions(self) -> int:
        """Circuit executions over all runs."""
        return sum(run.executions for run in self.runs)

    def assemble(self, counts: Sequence[Sequence[dict[str, int]]]) -> list[ItemResult]:
        """Item results from ``counts[run][parameter_set]`` (Qiskit-order bitstring keys)."""
        if len(counts) != len(self.runs):
            raise BackendError(f"expected counts for {len(self.runs)} runs, got {len(counts)}")
        items = []
        for item, per_obs in zip(self.batch.items, self._index, strict=True):
            sets = range(len(item.parameter_values))
            if not item.observables:
                rows = [dict(counts[per_obs[0][0]][s]) for s in sets]
                items.append(ItemResult(counts=rows, quasi_probabilities=quasi_probabilities(rows)))
                continue
            groups = [measurement_groups(obs) for obs in item.observables]
            evs, stds = [], []
            for s in sets:
                row = [
                    estimate(g, [counts[i][s] for i in idx])
                    for g, idx in zip(groups, per_obs, strict=True)
                ]
                evs.append([v for v, _ in row])
                stds.append([e for _, e in row])
            items.append(ItemResult(expectation_values=evs, std_errors=stds))
        return items


def sampling_plan(batch: QuantumBatch) -> SamplingPlan:
    """The circuits to sample for ``batch`` (see the module docstring)."""
    plan = SamplingPlan(batch)
    for index, item in enumerate(batch.items):
        circuit = Circuit(qasm=item.circuit)
        if not item.observables:
            if not circuit.has_measurements:
                raise BackendError(
                    f"item {index}: circuit {circuit.sha256[:12]} has no measurements; add "
                    "them, or give observables to estimate"
                )
            plan.runs.append(SampleRun(circuit, parameter_values(circuit, item)))
            plan._index.append([[len(plan.runs) - 1]])
            continue
        bare = without_measurements(circuit)
        values = parameter_values(bare, item)
        per_obs = []
        for obs in item.observables:
            if obs.num_qubits != circuit.num_qubits:
                raise BackendError(
                    f"item {index}: an observable acts on {obs.num_qubits} qubits but the "
                    f"circuit has {circuit.num_qubits}"
                )
            indices = []
            for group in measurement_groups(obs):
                measured = Circuit.from_ir(with_measurements(bare.ir, group))
                plan.runs.append(SampleRun(measured, values))
                indices.append(len(plan.runs) - 1)
            per_obs.append(indices)
        plan._index.append(per_obs)
    return plan


def quasi_probabilities(counts: Sequence[dict[str, int]]) -> list[dict[str, float]]:
    """Counts divided by their shots, one dict per parameter set."""
    out = []
    for row in counts:
        total = sum(row.values())
        out.append({k: v / total for k, v in row.items()} if total else {})
    return out

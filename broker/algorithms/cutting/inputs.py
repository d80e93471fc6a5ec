"""The inputs of the ``cutting`` algorithm: the circuit, its observables, and how to cut.

A circuit is a library circuit (``efficient_su2``, ``real_amplitudes``) with fixed or seeded
random parameter values, or OpenQASM text with its parameter values. The circuit to cut is
always its canonical form, bound and without measurements (:attr:`CuttingInputs.uncut`).
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from qiskit import QuantumCircuit
from qiskit.circuit.library import efficient_su2, real_amplitudes
from qiskit.transpiler.passes import RemoveBarriers

from backends.errors import BackendError
from backends.runs import without_measurements
from broker.algorithms.cutting import plan
from broker.limits import MAX_SEED
from circuits.canonical import Circuit
from circuits.coerce import coerce_observable
from circuits.errors import CircuitError
from circuits.observables import PauliSum

SHOTS_PER_TASK = 20_000
"""Shots one quantum task holds by default. Simulators run a batch in one native call, and
some (Aer) hold the GIL through it: a short task keeps the worker's heartbeat beating, and
spreads the subexperiments into more, finer-grained units of progress."""

__all__ = [
    "SHOTS_PER_TASK",
    "CutFinding",
    "CuttingInputs",
    "LibraryCircuit",
    "ParameterCount",
    "QasmCircuit",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class LibraryCircuit(_Strict):
    """A circuit from Qiskit's library with fixed parameter values (given, or drawn uniformly
    from [-pi, pi) with ``seed``)."""

    library: Literal["efficient_su2", "real_amplitudes"] = Field(
        description="A circuit library name: efficient_su2..."
    )
    num_qubits: int = Field(ge=2, le=1000, description="Its width.")
    reps: int = Field(default=2, ge=1, le=50, description="Repetitions of its layers.")
    entanglement: Literal["linear", "full", "circular", "reverse_linear"] = Field(
        default="linear", description="linear, full, circular, ... (Qiskit's)."
    )
    parameters: list[float] | Literal["random"] = Field(
        default="random", description="Values in the circuit's parameter order, or 'random'."
    )
    seed: int = Field(
        default=0, ge=0, le=MAX_SEED, description="Seeds the random parameter values."
    )


class QasmCircuit(_Strict):
    """An OpenQASM 3 (or 2) circuit; final measurements are dropped."""

    qasm: str = Field(description="OpenQASM 3 text.")
    parameters: list[float] = Field(
        default_factory=list, description="Values of its input parameters, in declared order."
    )


class CutFinding(_Strict):
    """Options of the automatic cut finder (``find_cuts``)."""

    gate_cuts: bool = Field(default=True, description="Cut gates.")
    wire_cuts: bool = Field(default=True, description="Cut wires.")
    max_gamma: float = Field(
        default=1024.0, ge=1.0, description="Largest sampling overhead accepted."
    )
    max_backjumps: int | None = Field(
        default=10000, ge=0, description="Bound on the search's effort."
    )
    seed: int = Field(default=0, ge=0, le=MAX_SEED, description="Seed of the search.")


def _one_observable(value: Any) -> PauliSum:
    if isinstance(value, dict) and "terms" in value:
        return PauliSum.model_validate(value)
    return coerce_observable(value)


class CuttingInputs(_Strict):
    """Inputs of ``algorithm: {name: cutting}``."""

    circuit: LibraryCircuit | QasmCircuit = Field(
        description="A library circuit, or OpenQASM 3 text."
    )
    observables: list[Annotated[PauliSum, BeforeValidator(_one_observable)]] = Field(
        min_length=1, description="Pauli sums ('0.5 * ZZII - XXII'), qubit 0 rightmost."
    )
    partition: str | None = Field(
        default=None, min_length=1, description="One label per qubit, qubit 0 first: 'AAABBB'."
    )
    max_subcircuit_qubits: int | None = Field(
        default=None, ge=1, description="Find cuts automatically for subcircuits this wide."
    )
    cut_finding: CutFinding | None = Field(
        default=None, description="Options of the automatic cut search."
    )
    num_samples: int | Literal["exact"] = Field(
        default="exact", description="QPD samples; 'exact' computes every weight."
    )
    shots: int = Field(default=10000, ge=1, description="Shots of each subexperiment.")
    backends: list[str] | None = Field(
        default=None, min_length=1, description="Where subexperiments run; default the job's."
    )
    circuits_per_task: int | None = Field(
        default=None,
        ge=1,
        description="Subexperiments per quantum task; default: as many as hold "
        "SHOTS_PER_TASK shots (at least one).",
    )
    reference: bool = Field(default=True, description="Also compute the uncut exact value.")

    @field_validator("observables", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        return [value] if isinstance(value, str | dict) else value

    @field_validator("num_samples")
    @classmethod
    def _positive(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError("num_samples must be at least 1 (or 'exact')")
        return value

    @property
    def samples(self) -> float:
        """``num_samples`` as the addon takes it (infinity: exact weights)."""
        return math.inf if self.num_samples == "exact" else float(self.num_samples)

    @property
    def per_task(self) -> int:
        """Subexperiments per quantum task."""
        if self.circuits_per_task is not None:
            return self.circuits_per_task
        return max(1, SHOTS_PER_TASK // self.shots)

    @cached_property
    def uncut(self) -> Circuit:
        """The circuit to cut, bound and without measurements (canonical form)."""
        spec = self.circuit
        if isinstance(spec, LibraryCircuit):
            build = efficient_su2 if spec.library == "efficient_su2" else real_amplitudes
            qc = build(spec.num_qubits, reps=spec.reps, entanglement=spec.entanglement)
            if spec.parameters == "random":
                rng = np.random.default_rng(spec.seed)
                values = rng.uniform(-math.pi, math.pi, qc.num_parameters).tolist()
            else:
                values = list(spec.parameters)
            _check_count(values, qc.num_parameters)
            return Circuit.from_qiskit(qc.assign_parameters(values))
        try:
            bare = without_measurements(Circuit.from_qasm(spec.qasm))
        except BackendError as exc:
            raise CircuitError(exc.message) from None
        _check_count(spec.parameters, len(bare.parameters))
        return Circuit.from_qiskit(bare.bind(spec.parameters))

    @cached_property
    def paulis(self) -> list[str]:
        """The distinct non-identity Pauli strings to measure."""
        return plan.paulis_of(self.observables)

    @cached_property
    def problem(self) -> plan.CutProblem:
        """The cut circuit and observables (ValueError when the addon cannot cut it)."""
        return plan.cut(_cuttable(self.uncut), self.paulis, self.partition, self.finding)

    @property
    def finding(self) -> plan.CutFindingSettings | None:
        """Settings of the automatic cut finder, when cuts are to be found."""
        if self.max_subcircuit_qubits is None:
            return None
        options = self.cut_finding or CutFinding()
        return plan.CutFindingSettings(
            max_subcircuit_qubits=self.max_subcircuit_qubits, **options.model_dump()
        )


class ParameterCount(CircuitError):
    """The parameter values do not match the circuit's parameters."""


def _check_count(values: list[float], wanted: int) -> None:
    if len(values) != wanted:
        raise ParameterCount(f"has {len(values)} values but the circuit has {wanted} parameters")


def _cuttable(circuit: Circuit) -> QuantumCircuit:
    """The circuit as the addon cuts it: no barriers, no gates on three qubits."""
    qc = RemoveBarriers()(circuit.to_qiskit())
    while any(inst.operation.num_qubits > 2 for inst in qc.data):
        qc = qc.decompose(gates_to_decompose=["ccx", "cswap"])
    return qc

"""VQE: minimize <psi(theta)|H|psi(theta)> with an ask/tell optimizer.

Each step sends all the points the optimizer asks for (for Adam, the point and its 2P
parameter shifts) to the quantum backend as one batch: one circuit, P-dimensional parameter
sets, one observable. Optionally a classical task computes the exact ground energy of the
Hamiltonian in parallel with the first step, as a reference for the result.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator
from qiskit.circuit.library import efficient_su2, real_amplitudes

from backends.base import ClassicalResult, ClassicalSpec, QuantumBatch, QuantumItem, QuantumResult
from broker.algorithms import optimizers
from broker.algorithms.base import (
    Algorithm,
    StepOutcome,
    TaskResult,
    classical_need,
    classical_task,
)
from broker.errors import InvalidJob
from broker.models import JobSpec, TaskRequest
from circuits.canonical import Circuit
from circuits.coerce import coerce_observable
from circuits.errors import CircuitError
from circuits.expressions import names as expression_names
from circuits.observables import PauliSum
from policies.admission import Need

# Gates whose parameter-shift rule is the two-term pi/2 shift.
_SHIFTABLE = {"rx", "ry", "rz", "p", "rxx", "ryy", "rzz"}
_REFERENCE_MAX_QUBITS = 14


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LibraryAnsatz(_Strict):
    """A hardware-efficient ansatz from Qiskit's circuit library."""

    library: Literal["real_amplitudes", "efficient_su2"]
    reps: int = Field(default=2, ge=1, le=50)
    entanglement: Literal["linear", "full", "circular", "reverse_linear"] = "linear"
    num_qubits: int | None = Field(default=None, ge=1, description="Default: the Hamiltonian's.")


class QasmAnsatz(_Strict):
    """An ansatz given as OpenQASM 3 with ``input float[64]`` parameters."""

    qasm: str


class VQEInputs(_Strict):
    """Inputs of ``algorithm: {name: vqe}``."""

    hamiltonian: PauliSum = Field(description="Pauli sum: text '0.5 * ZZ - 1.0 * XI' or terms.")
    energy_offset: float = Field(
        default=0.0, description="Added to energies, e.g. nuclear repulsion."
    )
    ansatz: LibraryAnsatz | QasmAnsatz = LibraryAnsatz(library="real_amplitudes")
    optimizer: optimizers.OptimizerOptions = optimizers.AdamOptions()
    initial_point: list[float] | Literal["random", "zeros"] = "random"
    shots: int | None = Field(default=None, ge=1, description="None: exact expectation values.")
    reference: bool = Field(default=True, description="Also compute the exact ground energy.")

    @field_validator("hamiltonian", mode="before")
    @classmethod
    def _coerce_hamiltonian(cls, value: Any) -> PauliSum:
        return coerce_observable(value)

    @cached_property
    def circuit(self) -> Circuit:
        """The ansatz in canonical form."""
        if isinstance(self.ansatz, QasmAnsatz):
            return Circuit.from_qasm(self.ansatz.qasm)
        n = self.ansatz.num_qubits or self.hamiltonian.num_qubits
        build = real_amplitudes if self.ansatz.library == "real_amplitudes" else efficient_su2
        qc = build(n, reps=self.ansatz.reps, entanglement=self.ansatz.entanglement)
        return Circuit.from_qiskit(qc)


def _invalid(path: str, message: str) -> InvalidJob:
    return InvalidJob(f"algorithm.inputs.{path}: {message}")


class VQE(Algorithm):
    """The variational quantum eigensolver."""

    name = "vqe"
    inputs_model = VQEInputs

    def check(self, inputs: VQEInputs, job: JobSpec) -> None:
        """The ansatz parses, fits the Hamiltonian, and suits the optimizer."""
        try:
            circuit = inputs.circuit
        except CircuitError as exc:
            raise _invalid("ansatz.qasm", str(exc)) from None
        if circuit.num_qubits != inputs.hamiltonian.num_qubits:
            raise _invalid(
                "hamiltonian",
                f"the Hamiltonian acts on {inputs.hamiltonian.num_qubits} qubits but the "
                f"ansatz has {circuit.num_qubits}; they must match",
            )
        if not circuit.parameters:
            raise _invalid("ansatz", "the ansatz has no parameters to optimize")
        if isinstance(inputs.initial_point, list) and len(inputs.initial_point) != len(
            circuit.parameters
        ):
            raise _invalid(
                "initial_point",
                f"has {len(inputs.initial_point)} values but the ansatz has "
                f"{len(circuit.parameters)} parameters",
            )
        if inputs.optimizer.name == "adam" and not _parameter_shift_ok(circuit):
            raise _invalid(
                "optimizer",
                "adam uses parameter-shift gradients, which need every parameter to appear "
                f"once, alone, in one of {', '.join(sorted(_SHIFTABLE))}; use "
                "optimizer: {name: spsa} for this ansatz",
            )

    def _points_per_iteration(self, inputs: VQEInputs) -> int:
        if inputs.optimizer.name == "adam":
            return 2 * len(inputs.circuit.parameters) + 1
        return 3

    def needs(self, inputs: VQEInputs, job: JobSpec) -> list[Need]:
        """At most maxiter iterations of the optimizer's points, plus the reference task."""
        evaluations = inputs.optimizer.maxiter * self._points_per_iteration(inputs)
        needs = [Need(job.backend, "evaluations", float(evaluations))]
        if inputs.shots:
            groups = len(inputs.hamiltonian.to_sparse_pauli_op().group_commuting(True))
            needs.append(Need(job.backend, "shots", float(evaluations * inputs.shots * groups)))
        if self._wants_reference(inputs):
            needs.append(classical_need(job, self._reference_spec(inputs)))
        return needs

    def _reference_spec(self, inputs: VQEInputs) -> ClassicalSpec:
        return ClassicalSpec(
            name="vqe-reference",
            entrypoint="broker.algorithms.reference:ground_energy",
            payload={"hamiltonian": inputs.hamiltonian.model_dump()},
            time_limit_s=_REFERENCE_LIMIT_S,
        )

    def _wants_reference(self, inputs: VQEInputs) -> bool:
        return inputs.reference and inputs.hamiltonian.num_qubits <= _REFERENCE_MAX_QUBITS

    def _batch(self, inputs: VQEInputs, points: list[list[float]], seed: int) -> TaskRequest:
        item = QuantumItem(
            circuit=inputs.circuit.qasm, parameter_values=points, observables=[inputs.hamiltonian]
        )
        batch = QuantumBatch(items=[item], shots=inputs.shots, seed=seed)
        return TaskRequest(key="energy", kind="quantum", quantum=batch)

    def start(self, inputs: VQEInputs, job: JobSpec, seed: int) -> StepOutcome:
        """Pick the initial point; ask for its batch (and the reference energy)."""
        n = len(inputs.circuit.parameters)
        if inputs.initial_point == "random":
            x0 = np.random.default_rng(seed).uniform(-math.pi / 4, math.pi / 4, n).tolist()
        elif inputs.initial_point == "zeros":
            x0 = [0.0] * n
        else:
            x0 = list(inputs.initial_point)
        opt = optimizers.start(inputs.optimizer, x0, seed)
        tasks = [self._batch(inputs, opt.ask(), seed)]
        if self._wants_reference(inputs):
            tasks.append(classical_task(job, "reference", self._reference_spec(inputs)))
        state = {"optimizer": opt.state, "seed": seed, "reference": None}
        progress = {"step": 0, "maxiter": inputs.optimizer.maxiter}
        return StepOutcome(state=state, tasks=tasks, progress=progress)

    def step(
        self, inputs: VQEInputs, job: JobSpec, state: dict[str, Any], results: dict[str, TaskResult]
    ) -> StepOutcome:
        """Tell the optimizer the energies; ask for the next batch or finish."""
        energy_result = results["energy"]
        assert isinstance(energy_result, QuantumResult)
        values = energy_result.items[0].expectation_values or []
        reference = results.get("reference")
        if isinstance(reference, ClassicalResult) and isinstance(reference.output, dict):
            state["reference"] = reference.output["ground_energy"]
        opt = optimizers.make(inputs.optimizer, state["optimizer"])
        opt.tell([row[0] for row in values])
        state["optimizer"] = opt.state
        offset = inputs.energy_offset
        iteration = opt.state["iteration"]
        progress = {
            "step": iteration,
            "maxiter": inputs.optimizer.maxiter,
            "energy": opt.state["history"][-1] + offset,
            "best_energy": opt.state["best_value"] + offset,
        }
        if not opt.done:
            seed = state["seed"] + iteration
            return StepOutcome(state, [self._batch(inputs, opt.ask(), seed)], progress)
        result: dict[str, Any] = {
            "energy": opt.state["best_value"] + offset,
            "parameters": opt.state["best_x"],
            "iterations": iteration,
            "converged": bool(opt.state["converged"]),
            "history": [v + offset for v in opt.state["history"]],
            "energy_offset": offset,
        }
        if state["reference"] is not None:
            result["reference_energy"] = state["reference"] + offset
            result["error"] = result["energy"] - result["reference_energy"]
        return StepOutcome(state, progress=progress, result=result)

    def circuits(self, inputs: VQEInputs) -> list[str]:
        """The ansatz."""
        return [inputs.circuit.sha256]

    def observables(self, inputs: VQEInputs) -> list[str]:
        """The Hamiltonian."""
        return [inputs.hamiltonian.sha256]


_REFERENCE_LIMIT_S = 600


def _parameter_shift_ok(circuit: Circuit) -> bool:
    seen: set[str] = set()
    for op in circuit.ir.ops:
        for expr in op.params:
            if expr in circuit.parameters:
                if op.name not in _SHIFTABLE or expr in seen:
                    return False
                seen.add(expr)
            elif expression_names(expr) & set(circuit.parameters):
                return False
    return True

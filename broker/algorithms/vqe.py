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
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from backends.base import ClassicalResult, ClassicalSpec, QuantumBatch, QuantumItem, QuantumResult
from broker.algorithms import optimizers
from broker.algorithms.ansatz import LibraryAnsatz, QasmAnsatz, ansatz_circuit
from broker.algorithms.base import (
    Algorithm,
    StepOutcome,
    TaskResult,
    classical_need,
    classical_task,
    invalid,
)
from broker.core.models import JobSpec, TaskRequest
from broker.errors import InvalidJob
from circuits import resources
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
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ProblemBuilder(_Strict):
    """A classical task that builds the Hamiltonian: an entry point ``module:function`` on
    the classical backend, called with ``args``, returning ``{"hamiltonian": ...,
    "energy_offset": ...}`` (e.g. ``broker.algorithms.chemistry:h2``)."""

    builder: str = Field(
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
        description="module:function that returns the Hamiltonian.",
    )
    args: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments of the builder."
    )
    time_limit_s: int = Field(
        default=600, ge=1, description="Wall-time limit of the building task, s."
    )


class VQEInputs(_Strict):
    """Inputs of ``algorithm: {name: vqe}``: a ``hamiltonian``, or a ``problem`` that a
    classical task builds first."""

    hamiltonian: PauliSum | None = Field(
        default=None, description="Pauli sum: text '0.5 * ZZ - 1.0 * XI' or terms."
    )
    problem: ProblemBuilder | None = Field(
        default=None, description="A classical task that builds the Hamiltonian."
    )
    energy_offset: float = Field(
        default=0.0, description="Added to energies, e.g. nuclear repulsion."
    )
    ansatz: LibraryAnsatz | QasmAnsatz = Field(
        default=LibraryAnsatz(library="real_amplitudes"),
        description="A library ansatz, or OpenQASM 3 text.",
    )
    optimizer: optimizers.OptimizerOptions = Field(
        default=optimizers.AdamOptions(), description="adam or spsa, with its options."
    )
    initial_point: list[float] | Literal["random", "zeros"] = Field(
        default="random", description="Start: a list of parameters, random or zeros."
    )
    shots: int | None = Field(default=None, ge=1, description="None: exact expectation values.")
    reference: bool = Field(default=True, description="Also compute the exact ground energy.")
    analysis: bool = Field(
        default=False,
        description="End with a classical analysis of the optimum (fidelity, gap, terms).",
    )

    @field_validator("hamiltonian", mode="before")
    @classmethod
    def _coerce_hamiltonian(cls, value: Any) -> PauliSum | None:
        return None if value is None else coerce_observable(value)

    @model_validator(mode="after")
    def _one_source(self) -> VQEInputs:
        if self.hamiltonian is None and self.problem is None:
            raise ValueError(
                "give hamiltonian (a Pauli sum such as '0.5 * ZZ - 1.0 * XI') or problem "
                "(a classical task that builds it); the inputs have neither"
            )
        if self.hamiltonian is not None and self.problem is not None:
            raise ValueError("give either hamiltonian or problem (a builder), not both")
        return self

    @property
    def num_qubits(self) -> int | None:
        """Qubits of the Hamiltonian, when it is known before the job runs."""
        if self.hamiltonian is not None:
            return self.hamiltonian.num_qubits
        if isinstance(self.ansatz, LibraryAnsatz):
            return self.ansatz.num_qubits
        return None

    @cached_property
    def circuit(self) -> Circuit:
        """The ansatz in canonical form."""
        return ansatz_circuit(self.ansatz, self.num_qubits)


class VQE(Algorithm):
    """The variational quantum eigensolver."""

    name = "vqe"
    inputs_model = VQEInputs

    def check(self, inputs: VQEInputs, job: JobSpec) -> None:
        """The ansatz parses, fits the Hamiltonian, and suits the optimizer."""
        if inputs.num_qubits is None:
            raise invalid(
                "ansatz.num_qubits",
                "with a problem builder, say how many qubits the library ansatz has",
            )
        try:
            circuit = inputs.circuit
        except CircuitError as exc:
            raise invalid("ansatz.qasm", str(exc)) from None
        if inputs.hamiltonian is not None and circuit.num_qubits != inputs.hamiltonian.num_qubits:
            raise invalid(
                "hamiltonian",
                f"the Hamiltonian acts on {inputs.hamiltonian.num_qubits} qubits but the "
                f"ansatz has {circuit.num_qubits}; they must match",
            )
        if not circuit.parameters:
            raise invalid("ansatz", "the ansatz has no parameters to optimize")
        if isinstance(inputs.initial_point, list) and len(inputs.initial_point) != len(
            circuit.parameters
        ):
            raise invalid(
                "initial_point",
                f"has {len(inputs.initial_point)} values but the ansatz has "
                f"{len(circuit.parameters)} parameters",
            )
        if inputs.optimizer.name == "adam" and not _parameter_shift_ok(circuit):
            raise invalid(
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
            if inputs.hamiltonian is not None:
                cost = resources.estimate(
                    inputs.circuit, evaluations, inputs.shots, [inputs.hamiltonian]
                )
                shots = float(cost.total_shots or 0)
            else:  # not built yet: at most one group per non-identity Pauli string
                groups = 4**inputs.circuit.num_qubits - 1
                shots = float(evaluations * inputs.shots * groups)
            needs.append(Need(job.backend, "shots", shots))
        classical = []
        if inputs.problem is not None:
            classical.append(_problem_spec(inputs.problem))
        if self._wants_reference(inputs):
            classical.append(_reference_spec(inputs.circuit.num_qubits))
        if inputs.analysis:
            classical.append(_analysis_spec({}))
        by_unit: dict[tuple[str, str], float] = {}
        for spec in classical:
            need = classical_need(job, spec)
            by_unit[(need.backend, need.unit)] = by_unit.get((need.backend, need.unit), 0.0)
            by_unit[(need.backend, need.unit)] += need.amount
        needs += [Need(backend, unit, amount) for (backend, unit), amount in by_unit.items()]
        return needs

    def circuit_widths(self, inputs: VQEInputs) -> list[int]:
        """The ansatz's qubits."""
        return [inputs.circuit.num_qubits]

    def _wants_reference(self, inputs: VQEInputs) -> bool:
        return inputs.reference and inputs.circuit.num_qubits <= _REFERENCE_MAX_QUBITS

    def _batch(
        self, inputs: VQEInputs, hamiltonian: PauliSum, points: list[list[float]], seed: int
    ) -> TaskRequest:
        item = QuantumItem(
            circuit=inputs.circuit.qasm, parameter_values=points, observables=[hamiltonian]
        )
        batch = QuantumBatch(items=[item], shots=inputs.shots, seed=seed)
        return TaskRequest(key="energy", kind="quantum", quantum=batch)

    def start(self, inputs: VQEInputs, job: JobSpec, seed: int) -> StepOutcome:
        """Build the problem first if asked; otherwise ask for the first batch."""
        n = len(inputs.circuit.parameters)
        if inputs.initial_point == "random":
            x0 = np.random.default_rng(seed).uniform(-math.pi / 4, math.pi / 4, n).tolist()
        elif inputs.initial_point == "zeros":
            x0 = [0.0] * n
        else:
            x0 = list(inputs.initial_point)
        opt = optimizers.start(inputs.optimizer, x0, seed)
        state: dict[str, Any] = {
            "optimizer": opt.state,
            "seed": seed,
            "reference": None,
            "hamiltonian": None,
            "energy_offset": inputs.energy_offset,
            "phase": "optimize",
        }
        if inputs.problem is not None:
            state["phase"] = "problem"
            task = classical_task(job, "problem", _problem_spec(inputs.problem))
            progress = {"step": 0, "phase": "building the problem"}
            return StepOutcome(state=state, tasks=[task], progress=progress)
        assert inputs.hamiltonian is not None
        state["hamiltonian"] = inputs.hamiltonian.model_dump()
        return self._first_batch(inputs, job, state)

    def _first_batch(self, inputs: VQEInputs, job: JobSpec, state: dict[str, Any]) -> StepOutcome:
        hamiltonian = PauliSum.model_validate(state["hamiltonian"])
        opt = optimizers.make(inputs.optimizer, state["optimizer"])
        tasks = [self._batch(inputs, hamiltonian, opt.ask(), state["seed"])]
        if self._wants_reference(inputs):
            spec = _reference_spec(inputs.circuit.num_qubits, state["hamiltonian"])
            tasks.append(classical_task(job, "reference", spec))
        state["optimizer"] = opt.state
        progress = {"step": 0, "maxiter": inputs.optimizer.maxiter}
        return StepOutcome(state=state, tasks=tasks, progress=progress)

    def step(
        self, inputs: VQEInputs, job: JobSpec, state: dict[str, Any], results: dict[str, TaskResult]
    ) -> StepOutcome:
        """Take the built problem, tell the optimizer the energies, or finish the analysis."""
        phase = state.get("phase", "optimize")
        if phase == "problem":
            return self._take_problem(inputs, job, state, results["problem"])
        if phase == "analysis":
            analysis = results["analysis"]
            assert isinstance(analysis, ClassicalResult)
            result = dict(state["result"])
            result["analysis"] = analysis.output
            return StepOutcome(state, progress=state["progress"], result=result)
        return self._optimize(inputs, job, state, results)

    def _take_problem(
        self, inputs: VQEInputs, job: JobSpec, state: dict[str, Any], built: TaskResult
    ) -> StepOutcome:
        assert isinstance(built, ClassicalResult)
        output = built.output if isinstance(built.output, dict) else {}
        try:
            raw = output["hamiltonian"]
            hamiltonian = (
                PauliSum.model_validate(raw) if isinstance(raw, dict) else coerce_observable(raw)
            )
        except (KeyError, CircuitError, ValueError, TypeError) as exc:
            raise InvalidJob(
                f"algorithm.inputs.problem: the builder returned no usable hamiltonian ({exc})"
            ) from None
        if hamiltonian.num_qubits != inputs.circuit.num_qubits:
            raise invalid(
                "problem",
                f"the built Hamiltonian acts on {hamiltonian.num_qubits} qubits but the "
                f"ansatz has {inputs.circuit.num_qubits}",
            )
        state["hamiltonian"] = hamiltonian.model_dump()
        state["energy_offset"] = inputs.energy_offset + float(output.get("energy_offset", 0.0))
        state["problem"] = {k: v for k, v in output.items() if k != "hamiltonian"}
        state["phase"] = "optimize"
        return self._first_batch(inputs, job, state)

    def _optimize(
        self, inputs: VQEInputs, job: JobSpec, state: dict[str, Any], results: dict[str, TaskResult]
    ) -> StepOutcome:
        energy_result = results["energy"]
        assert isinstance(energy_result, QuantumResult)
        values = energy_result.items[0].expectation_values or []
        reference = results.get("reference")
        if isinstance(reference, ClassicalResult) and isinstance(reference.output, dict):
            state["reference"] = reference.output["ground_energy"]
        opt = optimizers.make(inputs.optimizer, state["optimizer"])
        opt.tell([row[0] for row in values])
        state["optimizer"] = opt.state
        offset = state["energy_offset"]
        iteration = opt.state["iteration"]
        progress = {
            "step": iteration,
            "maxiter": inputs.optimizer.maxiter,
            "energy": opt.state["history"][-1] + offset,
            "best_energy": opt.state["best_value"] + offset,
        }
        if not opt.done:
            seed = state["seed"] + iteration
            hamiltonian = PauliSum.model_validate(state["hamiltonian"])
            return StepOutcome(state, [self._batch(inputs, hamiltonian, opt.ask(), seed)], progress)
        result: dict[str, Any] = {
            "energy": opt.state["best_value"] + offset,
            "parameters": opt.state["best_x"],
            "iterations": iteration,
            "converged": bool(opt.state["converged"]),
            "history": [v + offset for v in opt.state["history"]],
            "energy_offset": offset,
        }
        if state.get("problem"):
            result["problem"] = state["problem"]
        if state["reference"] is not None:
            result["reference_energy"] = state["reference"] + offset
            result["error"] = result["energy"] - result["reference_energy"]
        if not inputs.analysis:
            return StepOutcome(state, progress=progress, result=result)
        state.update(phase="analysis", result=result, progress=progress)
        payload = {
            "hamiltonian": state["hamiltonian"],
            "circuit": inputs.circuit.qasm,
            "parameters": opt.state["best_x"],
            "energy_offset": offset,
        }
        task = classical_task(job, "analysis", _analysis_spec(payload))
        return StepOutcome(state, [task], {**progress, "phase": "final analysis"})

    def circuits(self, inputs: VQEInputs) -> list[str]:
        """The ansatz."""
        return [inputs.circuit.sha256]

    def observables(self, inputs: VQEInputs) -> list[str]:
        """The Hamiltonian (when given, not built)."""
        return [inputs.hamiltonian.sha256] if inputs.hamiltonian is not None else []


_REFERENCE_LIMIT_S = 600


def _problem_spec(problem: ProblemBuilder) -> ClassicalSpec:
    return ClassicalSpec(
        name="vqe-problem",
        entrypoint=problem.builder,
        payload=problem.args,
        time_limit_s=problem.time_limit_s,
    )


def _reference_spec(num_qubits: int, hamiltonian: dict[str, Any] | None = None) -> ClassicalSpec:
    return ClassicalSpec(
        name="vqe-reference",
        entrypoint="broker.algorithms.reference:ground_energy",
        payload={"hamiltonian": hamiltonian, "num_qubits": num_qubits},
        time_limit_s=_REFERENCE_LIMIT_S,
    )


def _analysis_spec(payload: dict[str, Any]) -> ClassicalSpec:
    return ClassicalSpec(
        name="vqe-analysis",
        entrypoint="broker.algorithms.analysis:vqe_analysis",
        payload=payload,
        time_limit_s=_REFERENCE_LIMIT_S,
    )


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

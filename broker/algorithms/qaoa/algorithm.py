"""QAOA for MaxCut: maximize the expected cut of a graph, then sample the best cuts.

Steps, each one quantum batch (one :class:`QuantumItem`, all points of the step):

1. ``initial_point: grid`` (the default): a grid of linear-ramp schedules (``gamma_k``
   rising, ``beta_k`` falling with the layer ``k``) over 8 gamma and 6 beta amplitudes; the
   best point starts the optimizer. Gammas are scaled by the root-mean-square edge weight,
   so weighted graphs start in the right range.
2. One step per optimizer iteration, with exact expectation values of the cost Hamiltonian
   (``optimization_shots: None``) or sampled ones. The optimizer minimizes ``<H> = -<C>``
   (see :mod:`broker.algorithms.qaoa.circuit`); Nelder-Mead (default) or SPSA, because
   gamma appears in every edge's gate and parameter-shift gradients do not apply.
3. The final sampling: the measured circuit at the best parameters, ``shots`` times; the
   result reports the best cut among the sampled bitstrings.

The result: ``cut`` (the side, 0 or 1, of each node), ``cut_value``, ``bitstring`` (Qiskit
order: node 0 rightmost), ``probability`` (its sampled frequency), ``expectation`` (the
expected cut ``<C>`` at the best parameters), ``history`` (``<C>`` per iteration: the
optimizer's best so far for Nelder-Mead, its current point for SPSA), ``parameters`` (in
``parameter_names`` order: gammas, then betas), ``iterations``, ``converged`` and ``top``
(the best distinct sampled cuts, highest cut value first, then most frequent).
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from backends.base import QuantumBatch, QuantumItem, QuantumResult
from broker.algorithms import optimizers
from broker.algorithms.base import Algorithm, StepOutcome, TaskResult
from broker.algorithms.qaoa.circuit import (
    cost_hamiltonian,
    parameter_names,
    qaoa_circuit,
    to_circuit_order,
)
from broker.algorithms.qaoa.graphs import Graph, cut_value, max_cut, sides_of
from broker.core.models import JobSpec, TaskRequest
from broker.errors import BrokerError, InvalidJob
from circuits import resources
from circuits.canonical import Circuit
from circuits.observables import PauliSum
from policies.admission import Need

QAOAOptimizer = Annotated[
    optimizers.NelderMeadOptions | optimizers.SPSAOptions, Field(discriminator="name")
]

GRID_GAMMAS = 8
GRID_BETAS = 6
_GAMMA_RANGE = (0.2, 1.6)  # ramp amplitudes, times 1 / rms edge weight
_BETA_RANGE = (0.1, 0.9)
_RAMP = (0.75, 0.75)


class QAOAInputs(BaseModel):
    """Inputs of ``algorithm: {name: qaoa}``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    graph: Graph = Field(description="{edges: [[u, v], [u, v, weight], ...], num_nodes}.")
    p: int = Field(default=1, ge=1, le=20, description="QAOA depth (layers).")
    optimizer: QAOAOptimizer = Field(
        default=optimizers.NelderMeadOptions(), description="nelder-mead or spsa, with its options."
    )
    initial_point: list[float] | Literal["grid", "ramp", "random"] = Field(
        default="grid",
        description="grid: best of a grid of ramps; ramp: one linear ramp; random; or "
        "2p values, the gammas then the betas.",
    )
    shots: int = Field(default=1024, ge=1, description="Shots of the final sampling.")
    optimization_shots: int | None = Field(
        default=None, ge=1, description="Shots per evaluation; None: exact expectation values."
    )
    top: int = Field(default=10, ge=1, le=1000, description="Sampled cuts listed in 'top'.")

    @model_validator(mode="before")
    @classmethod
    def _no_file(cls, data: Any) -> Any:
        if isinstance(data, dict) and "graph_file" in data:
            raise ValueError(
                "graph_file is read by the job-file loader (qcb run/submit FILE, "
                "Client().submit(path)); in a job given as data, give the graph inline as "
                "graph: {edges: [[u, v], [u, v, weight], ...]}"
            )
        return data

    @cached_property
    def hamiltonian(self) -> PauliSum:
        """The cost Hamiltonian ``H = -C``."""
        return cost_hamiltonian(self.graph)

    @cached_property
    def circuit(self) -> Circuit:
        """The QAOA circuit without measurements (for expectation values)."""
        return qaoa_circuit(self.graph, self.p)

    @cached_property
    def measured_circuit(self) -> Circuit:
        """The QAOA circuit measuring every qubit (for the final sampling)."""
        return qaoa_circuit(self.graph, self.p, measure=True)

    @property
    def gamma_scale(self) -> float:
        """1 / root-mean-square edge weight (1 when every weight is 0)."""
        rms = math.sqrt(sum(w * w for *_, w in self.graph.weighted_edges()) / len(self.graph.edges))
        return 1.0 / rms if rms > 0 else 1.0


def ramp(p: int, gamma: float, beta: float) -> list[float]:
    """A linear-ramp schedule: ``gamma_k = gamma (k + 1/2) / p``, ``beta_k = beta (1 - (k +
    1/2) / p)``, as the optimizer's vector (gammas, then betas)."""
    fractions = [(k + 0.5) / p for k in range(p)]
    return [gamma * f for f in fractions] + [beta * (1 - f) for f in fractions]


def grid_points(inputs: QAOAInputs) -> list[list[float]]:
    """The ramps the ``grid`` initial point compares, gamma amplitude outermost."""
    gammas = np.linspace(*_GAMMA_RANGE, GRID_GAMMAS) * inputs.gamma_scale
    betas = np.linspace(*_BETA_RANGE, GRID_BETAS)
    return [ramp(inputs.p, float(g), float(b)) for g in gammas for b in betas]


class QAOA(Algorithm):
    """The quantum approximate optimization algorithm for weighted MaxCut."""

    name = "qaoa"
    inputs_model = QAOAInputs

    def check(self, inputs: QAOAInputs, job: JobSpec) -> None:
        """An explicit initial point has 2p values."""
        if isinstance(inputs.initial_point, list) and len(inputs.initial_point) != 2 * inputs.p:
            raise InvalidJob(
                f"algorithm.inputs.initial_point: has {len(inputs.initial_point)} values but "
                f"p = {inputs.p} needs {2 * inputs.p} (gamma_0..gamma_{inputs.p - 1}, then "
                f"beta_0..beta_{inputs.p - 1})"
            )

    def _evaluations(self, inputs: QAOAInputs) -> int:
        per_iteration = optimizers.max_points_per_iteration(inputs.optimizer, 2 * inputs.p)
        grid = GRID_GAMMAS * GRID_BETAS if inputs.initial_point == "grid" else 0
        return grid + inputs.optimizer.maxiter * per_iteration

    def needs(self, inputs: QAOAInputs, job: JobSpec) -> list[Need]:
        """The grid, at most maxiter iterations of the optimizer's points, and the final
        sampling: evaluations, and shots."""
        evaluations = self._evaluations(inputs)
        shots = float(inputs.shots)
        if inputs.optimization_shots:
            cost = resources.estimate(
                inputs.circuit, evaluations, inputs.optimization_shots, [inputs.hamiltonian]
            )
            shots += float(cost.total_shots or 0)
        return [
            Need(job.backend, "evaluations", float(evaluations + 1)),
            Need(job.backend, "shots", shots),
        ]

    def circuit_widths(self, inputs: QAOAInputs) -> list[int]:
        """One qubit per node."""
        return [inputs.graph.size]

    def circuits(self, inputs: QAOAInputs) -> list[str]:
        """The QAOA circuit and its measured form."""
        return [inputs.circuit.sha256, inputs.measured_circuit.sha256]

    def observables(self, inputs: QAOAInputs) -> list[str]:
        """The cost Hamiltonian."""
        return [inputs.hamiltonian.sha256]

    # --- steps ---------------------------------------------------------------------------

    def _energy_task(
        self, inputs: QAOAInputs, key: str, points: list[list[float]], seed: int
    ) -> TaskRequest:
        circuit = inputs.circuit
        item = QuantumItem(
            circuit=circuit.qasm,
            parameter_values=[to_circuit_order(circuit, inputs.p, x) for x in points],
            observables=[inputs.hamiltonian],
        )
        batch = QuantumBatch(items=[item], shots=inputs.optimization_shots, seed=seed)
        return TaskRequest(key=key, kind="quantum", quantum=batch)

    def start(self, inputs: QAOAInputs, job: JobSpec, seed: int) -> StepOutcome:
        """Evaluate the grid of ramps, or start the optimizer at the given initial point."""
        state: dict[str, Any] = {"seed": seed, "phase": "optimize", "optimizer": None}
        progress: dict[str, Any] = {"step": 0, "maxiter": inputs.optimizer.maxiter}
        if inputs.initial_point == "grid":
            state["phase"] = "grid"
            task = self._energy_task(inputs, "grid", grid_points(inputs), seed)
            return StepOutcome(state, [task], {**progress, "phase": "initial grid"})
        if inputs.initial_point == "ramp":
            x0 = ramp(inputs.p, _RAMP[0] * inputs.gamma_scale, _RAMP[1])
        elif inputs.initial_point == "random":
            rng = np.random.default_rng(seed)
            gammas = rng.uniform(0, math.pi * inputs.gamma_scale, inputs.p)
            x0 = [*gammas.tolist(), *rng.uniform(0, math.pi / 2, inputs.p).tolist()]
        else:
            x0 = list(inputs.initial_point)
        return self._start_optimizer(inputs, state, x0, progress)

    def _start_optimizer(
        self, inputs: QAOAInputs, state: dict[str, Any], x0: list[float], progress: dict[str, Any]
    ) -> StepOutcome:
        opt = optimizers.start(inputs.optimizer, x0, state["seed"])
        task = self._energy_task(inputs, "energy", opt.ask(), state["seed"] + 1)
        state.update(phase="optimize", optimizer=opt.state)
        return StepOutcome(state, [task], progress)

    def step(
        self,
        inputs: QAOAInputs,
        job: JobSpec,
        state: dict[str, Any],
        results: dict[str, TaskResult],
    ) -> StepOutcome:
        """Start from the best grid point, tell the optimizer, or read the final samples."""
        phase = state["phase"]
        if phase == "grid":
            values = _values(results["grid"])
            points = grid_points(inputs)
            best = min(range(len(points)), key=lambda i: values[i])
            state["grid_best"] = -values[best]
            progress = {"step": 0, "maxiter": inputs.optimizer.maxiter, "best": -values[best]}
            return self._start_optimizer(inputs, state, points[best], progress)
        if phase == "optimize":
            return self._optimize(inputs, state, _values(results["energy"]))
        sample = results["sample"]
        assert isinstance(sample, QuantumResult)
        counts = (sample.items[0].counts or [{}])[0]
        result = {**state["result"], **_best_cuts(inputs, counts)}
        return StepOutcome(state, progress=state["progress"], result=result)

    def _optimize(
        self, inputs: QAOAInputs, state: dict[str, Any], values: list[float]
    ) -> StepOutcome:
        opt = optimizers.make(inputs.optimizer, state["optimizer"])
        opt.tell(values)
        state["optimizer"] = opt.state
        iteration = opt.state["iteration"]
        progress = {
            "step": iteration,
            "maxiter": inputs.optimizer.maxiter,
            "expectation": -opt.state["history"][-1],
            "best": -opt.state["best_value"],
        }
        if not opt.done:
            task = self._energy_task(inputs, "energy", opt.ask(), state["seed"] + 1 + iteration)
            return StepOutcome(state, [task], progress)
        best_x = list(opt.state["best_x"])
        measured = inputs.measured_circuit
        item = QuantumItem(
            circuit=measured.qasm,
            parameter_values=[to_circuit_order(measured, inputs.p, best_x)],
        )
        batch = QuantumBatch(items=[item], shots=inputs.shots, seed=state["seed"] + 2 + iteration)
        state["phase"] = "sample"
        state["progress"] = progress
        state["result"] = {
            "expectation": -opt.state["best_value"],
            "history": [-v for v in opt.state["history"]],
            "parameters": best_x,
            "parameter_names": parameter_names(inputs.p),
            "iterations": iteration,
            "converged": bool(opt.state["converged"]),
        }
        task = TaskRequest(key="sample", kind="quantum", quantum=batch)
        return StepOutcome(state, [task], {**progress, "phase": "final sampling"})


def _values(result: TaskResult) -> list[float]:
    """The first observable's expectation value at each point of a one-item result."""
    assert isinstance(result, QuantumResult)
    return [row[0] for row in result.items[0].expectation_values or []]


def _best_cuts(inputs: QAOAInputs, counts: dict[str, int]) -> dict[str, Any]:
    """The best sampled cut and the ``top`` distinct ones."""
    total = sum(counts.values()) or 1
    if not counts:
        raise BrokerError("the final sampling returned no samples")
    scored = sorted(
        ((cut_value(inputs.graph, sides_of(b)), c / total, b) for b, c in counts.items()),
        key=lambda row: (-row[0], -row[1], row[2]),
    )
    value, probability, bitstring = scored[0]
    out: dict[str, Any] = {
        "cut": sides_of(bitstring),
        "cut_value": value,
        "bitstring": bitstring,
        "probability": probability,
        "shots": total,
        "top": [
            {"bitstring": b, "cut_value": v, "probability": p} for v, p, b in scored[: inputs.top]
        ],
    }
    if inputs.graph.labels is not None:
        out["labels"] = inputs.graph.labels
    optimum = max_cut(inputs.graph)
    if optimum is not None:  # small graphs: how close the best sampled cut came
        out["max_cut"] = optimum
        out["approximation_ratio"] = value / optimum if optimum else 1.0
    return out

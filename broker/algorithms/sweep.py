"""Parameter sweeps: one parameterized circuit evaluated over a grid of parameter values.

The grid is the cartesian product of the axes, in the order ``parameters`` lists them, the
last axis varying fastest (C order, as ``itertools.product`` and ``numpy.reshape``): point
``(i, j, ...)`` takes value ``i`` of the first axis, ``j`` of the second, and so on. An axis
is a list of values or ``{start, stop, num}`` (``numpy.linspace``, both ends included).

The points, flattened in that order, are cut into batches of ``batch_size``; every batch is
one quantum task (keys ``batch-0000``, ``batch-0001``, ...), all sent in one step so they
run in parallel, round-robin over ``backends`` (default: the job's backend). With
``observables`` each point gives one expectation value per observable (exact when ``shots``
is None); without, ``shots`` samples of the circuit's own measurements (counts).

The result: ``axes`` ({name: values}), ``shape`` (the axis lengths), and either
``expectation_values`` (nested by grid index, then observable; ``std_errors`` alike when
sampled) with ``best`` (the point where the first observable is smallest), or ``counts``
(nested by grid index: one dict of bitstring counts per point).
"""

from __future__ import annotations

import itertools
import math
from functools import cached_property
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

from backends.base import QuantumBatch, QuantumItem, QuantumResult
from broker.algorithms.base import (
    Algorithm,
    StepOutcome,
    TaskResult,
    check_backend_kind,
    invalid,
    sum_needs,
)
from broker.core.models import JobSpec, TaskRequest
from broker.errors import BrokerError
from circuits import resources
from circuits.canonical import Circuit
from circuits.coerce import coerce_observable
from circuits.errors import CircuitError
from circuits.observables import PauliSum
from policies.admission import Need

MAX_POINTS = 100_000
"""The largest grid a sweep may have."""
MAX_BATCHES = 1_000
"""The most quantum tasks a sweep may make (raise ``batch_size`` for a finer grid)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Linspace(_Strict):
    """``num`` evenly spaced values from ``start`` to ``stop``, both included."""

    start: float = Field(description="First value.")
    stop: float = Field(description="Last value (included).")
    num: int = Field(ge=1, le=MAX_POINTS, description="How many values.")

    def values(self) -> list[float]:
        """The axis values."""
        return [float(v) for v in np.linspace(self.start, self.stop, self.num)]


def _axis_kind(value: Any) -> str:
    return "range" if isinstance(value, dict | Linspace) else "values"


Axis = Annotated[
    Annotated[Annotated[list[float], Field(min_length=1)], Tag("values")]
    | Annotated[Linspace, Tag("range")],
    Discriminator(_axis_kind),
]


class SweepInputs(_Strict):
    """Inputs of ``algorithm: {name: sweep}``."""

    circuit: str = Field(description="OpenQASM 3 with input float[64] parameters.")
    parameters: dict[str, Axis] = Field(
        min_length=1, description="name -> [values] or {start, stop, num}; the grid's axes."
    )
    observables: list[PauliSum] | None = Field(
        default=None, min_length=1, description="Pauli sums; without: counts (needs shots)."
    )
    shots: int | None = Field(default=None, ge=1, description="None: exact expectation values.")
    batch_size: int = Field(default=256, ge=1, description="Grid points per quantum task.")
    backends: list[str] | None = Field(
        default=None, min_length=1, description="Backends used round-robin; default: the job's."
    )

    @field_validator("observables", mode="before")
    @classmethod
    def _coerce_observables(cls, value: Any) -> list[PauliSum] | None:
        if value is None:
            return None
        if isinstance(value, str):  # one observable as text
            value = [value]
        if not isinstance(value, list):
            raise ValueError("a list of observables (Pauli sums)")
        out = []
        for index, obs in enumerate(value):
            try:
                out.append(coerce_observable(obs))
            except CircuitError as exc:
                raise ValueError(f"observables[{index}]: {exc}") from None
        return out

    @cached_property
    def parsed(self) -> Circuit:
        """The circuit in canonical form."""
        return Circuit.from_qasm(self.circuit)

    @cached_property
    def axes(self) -> dict[str, list[float]]:
        """Each axis's values, in the order given."""
        return {
            name: axis.values() if isinstance(axis, Linspace) else [float(v) for v in axis]
            for name, axis in self.parameters.items()
        }

    @property
    def shape(self) -> list[int]:
        """The axis lengths."""
        return [len(values) for values in self.axes.values()]

    @property
    def num_points(self) -> int:
        """The number of grid points."""
        return math.prod(self.shape)

    @property
    def num_batches(self) -> int:
        """The number of quantum tasks."""
        return -(-self.num_points // self.batch_size)

    def backends_for(self, job: JobSpec) -> list[str]:
        """The backends the batches go to, round-robin."""
        return list(self.backends) if self.backends else [job.backend]


def grid_rows(axes: dict[str, list[float]], order: tuple[str, ...]) -> list[list[float]]:
    """Every grid point (cartesian product, last axis fastest) as a row of values in
    ``order`` (the circuit's parameter order)."""
    names = list(axes)
    position = [names.index(name) for name in order]
    return [[point[i] for i in position] for point in itertools.product(*axes.values())]


def batches(rows: list[list[float]], size: int) -> list[list[list[float]]]:
    """``rows`` cut into consecutive batches of at most ``size``."""
    return [rows[start : start + size] for start in range(0, len(rows), size)]


def batch_key(index: int) -> str:
    """The task key of batch ``index``: ``batch-0003``."""
    return f"batch-{index:04d}"


def nest(flat: list[Any], shape: list[int]) -> list[Any]:
    """``flat`` (C order) as nested lists of ``shape``."""
    if len(shape) <= 1:
        return list(flat)
    stride = math.prod(shape[1:])
    return [nest(flat[i * stride : (i + 1) * stride], shape[1:]) for i in range(shape[0])]


class Sweep(Algorithm):
    """Evaluate one circuit over a grid of parameter values, in parallel batches."""

    name = "sweep"
    inputs_model = SweepInputs

    def check(self, inputs: SweepInputs, job: JobSpec) -> None:
        """The circuit parses; axes and parameters match; the grid and task counts fit;
        observables fit the circuit; the backends are quantum ones."""
        try:
            circuit = inputs.parsed
        except CircuitError as exc:
            raise invalid("circuit", str(exc)) from None
        known = circuit.parameters
        if not known:
            raise invalid("circuit", "the circuit has no input float[64] parameters to sweep")
        for name in inputs.parameters:
            if name not in known:
                raise invalid(
                    f"parameters.{name}",
                    f"the circuit has no parameter {name!r} (its parameters: {', '.join(known)})",
                )
        missing = [name for name in known if name not in inputs.parameters]
        if missing:
            raise invalid(
                "parameters",
                f"no axis for the circuit's parameter(s) {', '.join(missing)}; give each a "
                "list of values or {start, stop, num}",
            )
        if inputs.num_points > MAX_POINTS:
            dims = " x ".join(str(n) for n in inputs.shape)
            raise invalid(
                "parameters",
                f"the grid has {inputs.num_points} points ({dims}); a sweep takes at most "
                f"{MAX_POINTS}: use fewer values or split it into several jobs",
            )
        if inputs.num_batches > MAX_BATCHES:
            raise invalid(
                "batch_size",
                f"{inputs.num_points} points in batches of {inputs.batch_size} make "
                f"{inputs.num_batches} tasks; at most {MAX_BATCHES}: use a batch_size of at "
                f"least {-(-inputs.num_points // MAX_BATCHES)}",
            )
        for index, obs in enumerate(inputs.observables or []):
            if obs.num_qubits != circuit.num_qubits:
                raise invalid(
                    f"observables[{index}]",
                    f"acts on {obs.num_qubits} qubits but the circuit has {circuit.num_qubits}",
                )
        if not inputs.observables:
            if inputs.shots is None:
                raise invalid(
                    "shots",
                    "without observables a sweep samples counts: give shots (or observables)",
                )
            if not circuit.has_measurements:
                raise invalid(
                    "circuit",
                    "without observables a sweep samples the circuit's measurements, but it "
                    "measures nothing: add measurements or give observables",
                )
        for index, name in enumerate(inputs.backends or []):
            check_backend_kind(f"algorithm.inputs.backends[{index}]", name, "quantum")

    def _points_per_backend(self, inputs: SweepInputs, job: JobSpec) -> dict[str, int]:
        names = inputs.backends_for(job)
        points: dict[str, int] = {}
        for index in range(inputs.num_batches):
            size = min(inputs.batch_size, inputs.num_points - index * inputs.batch_size)
            name = names[index % len(names)]
            points[name] = points.get(name, 0) + size
        return points

    def needs(self, inputs: SweepInputs, job: JobSpec) -> list[Need]:
        """Each backend's points (evaluations) and, when sampled, their shots."""
        needs = []
        for name, points in self._points_per_backend(inputs, job).items():
            needs.append(Need(name, "evaluations", float(points)))
            if inputs.shots is not None:
                cost = resources.estimate(
                    inputs.parsed, points, inputs.shots, inputs.observables or []
                )
                shots = cost.total_shots if inputs.observables else points * inputs.shots
                needs.append(Need(name, "shots", float(shots or 0)))
        return sum_needs(needs)

    def circuit_widths(self, inputs: SweepInputs) -> list[int]:
        """The circuit's qubits."""
        return [inputs.parsed.num_qubits]

    def backend_widths(self, inputs: SweepInputs, job: JobSpec) -> dict[str, int]:
        """The circuit's qubits on every backend the batches go to."""
        return {name: inputs.parsed.num_qubits for name in inputs.backends_for(job)}

    def circuits(self, inputs: SweepInputs) -> list[str]:
        """The circuit."""
        return [inputs.parsed.sha256]

    def observables(self, inputs: SweepInputs) -> list[str]:
        """The observables."""
        return [obs.sha256 for obs in inputs.observables or []]

    def start(self, inputs: SweepInputs, job: JobSpec, seed: int) -> StepOutcome:
        """Every batch at once, round-robin over the backends."""
        circuit = inputs.parsed
        names = inputs.backends_for(job)
        tasks = []
        rows = grid_rows(inputs.axes, circuit.parameters)
        for index, chunk in enumerate(batches(rows, inputs.batch_size)):
            item = QuantumItem(
                circuit=circuit.qasm,
                parameter_values=chunk,
                observables=list(inputs.observables or []),
            )
            batch = QuantumBatch(items=[item], shots=inputs.shots, seed=seed + index)
            backend = names[index % len(names)]
            tasks.append(
                TaskRequest(key=batch_key(index), kind="quantum", backend=backend, quantum=batch)
            )
        state = {"seed": seed, "axes": list(inputs.axes), "batches": len(tasks)}
        progress = {"step": 0, "points": inputs.num_points, "batches": len(tasks)}
        return StepOutcome(state=state, tasks=tasks, progress=progress)

    def step(
        self,
        inputs: SweepInputs,
        job: JobSpec,
        state: dict[str, Any],
        results: dict[str, TaskResult],
    ) -> StepOutcome:
        """Reassemble the batches in grid order."""
        names: list[str] = state["axes"]
        axes = {name: inputs.axes[name] for name in names}
        shape = [len(axes[name]) for name in names]
        values: list[list[float]] = []
        errors: list[list[float]] = []
        counts: list[dict[str, int]] = []
        for index in range(state["batches"]):
            result = results[batch_key(index)]
            assert isinstance(result, QuantumResult)
            item = result.items[0]
            values += item.expectation_values or []
            errors += item.std_errors or []
            counts += item.counts or []
        progress = {"step": 1, "points": math.prod(shape), "batches": state["batches"]}
        out: dict[str, Any] = {"axes": axes, "shape": shape}
        if not inputs.observables:
            _expect(len(counts), shape)
            out["counts"] = nest(counts, shape)
            return StepOutcome(state, progress=progress, result=out)
        _expect(len(values), shape)
        out["expectation_values"] = nest(values, shape)
        if inputs.shots is not None and len(errors) == len(values):
            out["std_errors"] = nest(errors, shape)
        first = [row[0] for row in values]
        best = int(np.argmin(first))
        where = [int(i) for i in np.unravel_index(best, shape)]
        out["best"] = {
            "index": where,
            "parameters": {name: axes[name][i] for name, i in zip(names, where, strict=True)},
            "value": first[best],
        }
        return StepOutcome(state, progress=progress, result=out)


def _expect(got: int, shape: list[int]) -> None:
    if got != math.prod(shape):
        raise BrokerError(f"the batches returned {got} results for {math.prod(shape)} points")

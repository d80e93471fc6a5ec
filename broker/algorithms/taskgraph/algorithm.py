"""A researcher's own hybrid program as an explicit task graph (``algorithm: {name: graph}``).

The graph runs in waves: each step of the broker starts every graph step whose
dependencies have all finished, and the next wave starts when the whole wave is final. A
step's output is the classical task's ``output`` (or its exit code and stdout for a
command), or for a quantum step the item's results (``expectation_values``, ``std_errors``,
``counts``...). A later step takes it by reference, ``{ref: STEP.key.0}``, resolved when it
starts; a reference that finds nothing fails the job, naming both steps.

Driver steps are classical programs that submit quantum tasks to the broker under the same
job (:mod:`broker.drivers.service`); those tasks belong to the driver's wave and are charged and
traced like every other task.
"""

from __future__ import annotations

import os
from typing import Any

from backends.base import ClassicalResult, ClassicalSpec, QuantumBatch, QuantumItem, QuantumResult
from broker.algorithms.base import (
    Algorithm,
    StepOutcome,
    TaskResult,
    classical_need_on,
    sum_needs,
)
from broker.algorithms.taskgraph.model import (
    ClassicalStep,
    DriverStep,
    GraphInputs,
    QuantumStep,
    as_ref,
    check_graph,
    dependencies,
)
from broker.core.models import JobSpec, TaskRequest
from broker.errors import InvalidJob
from circuits import resources
from circuits.canonical import Circuit
from circuits.errors import CircuitError
from policies.admission import Need

DRIVER_ENV = "QCB_DRIVER"


class TaskGraph(Algorithm):
    """Classical, quantum and driver steps with dependencies, outputs passed by reference."""

    name = "graph"
    inputs_model = GraphInputs

    def check(self, inputs: GraphInputs, job: JobSpec) -> None:
        """No cycle, no dangling reference, known backends, circuits that parse."""
        check_graph(inputs, job.backend, job.classical_backend)

    def needs(self, inputs: GraphInputs, job: JobSpec) -> list[Need]:
        """Every step's most: classical time limits x size, quantum evaluations and shots,
        and each driver's declared allowance."""
        needs: list[Need] = []
        for step in inputs.steps:
            if isinstance(step, QuantumStep):
                needs += _quantum_needs(step, step.backend or job.backend)
                continue
            backend = step.backend or job.classical_backend
            needs.append(classical_need_on(backend, _classical_spec(step, job, step.payload)))
            if isinstance(step, DriverStep):
                for name, allowance in step.quantum.items():
                    needs.append(Need(name, "evaluations", float(allowance.evaluations)))
                    if allowance.shots:
                        needs.append(Need(name, "shots", float(allowance.shots)))
        return sum_needs(needs)

    def backend_widths(self, inputs: GraphInputs, job: JobSpec) -> dict[str, int]:
        """The widest literal circuit per quantum backend."""
        widths: dict[str, int] = {}
        for step in inputs.steps:
            if isinstance(step, QuantumStep) and isinstance(step.circuit, str):
                name = step.backend or job.backend
                width = Circuit.from_qasm(step.circuit).num_qubits
                widths[name] = max(widths.get(name, 0), width)
        return widths

    def circuits(self, inputs: GraphInputs) -> list[str]:
        """The literal circuits."""
        return [
            Circuit.from_qasm(s.circuit).sha256
            for s in inputs.steps
            if isinstance(s, QuantumStep) and isinstance(s.circuit, str)
        ]

    def start(self, inputs: GraphInputs, job: JobSpec, seed: int) -> StepOutcome:
        """The first wave: the steps that depend on nothing."""
        state: dict[str, Any] = {"seed": seed, "outputs": {}, "waves": [], "driver_tasks": {}}
        return self._next_wave(inputs, job, state)

    def step(
        self,
        inputs: GraphInputs,
        job: JobSpec,
        state: dict[str, Any],
        results: dict[str, TaskResult],
    ) -> StepOutcome:
        """Record the wave's outputs; start the steps that became ready, or finish."""
        by_name = {s.name: s for s in inputs.steps}
        for key, result in results.items():
            if "/" in key:  # a task a driver submitted: counted under its driver
                owner = key.split("/", 1)[0]
                state["driver_tasks"][owner] = state["driver_tasks"].get(owner, 0) + 1
                continue
            state["outputs"][key] = _output(by_name[key], result)
        return self._next_wave(inputs, job, state)

    def _next_wave(self, inputs: GraphInputs, job: JobSpec, state: dict[str, Any]) -> StepOutcome:
        done = set(state["outputs"])
        ready = [s for s in inputs.steps if s.name not in done and dependencies(s) <= done]
        total = len(inputs.steps)
        if not ready:
            wanted = inputs.outputs or [s.name for s in inputs.steps]
            result = {
                "outputs": {name: state["outputs"][name] for name in wanted},
                "waves": state["waves"],
                "driver_tasks": state["driver_tasks"],
            }
            progress: dict[str, Any] = {"step": len(state["waves"]), "done": total, "total": total}
            return StepOutcome(state, progress=progress, result=result)
        wave = len(state["waves"])
        tasks = [self._task(s, job, state, wave) for s in ready]
        state["waves"].append([s.name for s in ready])
        progress = {
            "step": wave,
            "done": len(done),
            "total": total,
            "running": [s.name for s in ready],
        }
        return StepOutcome(state, tasks=tasks, progress=progress)

    def _task(
        self,
        step: ClassicalStep | DriverStep | QuantumStep,
        job: JobSpec,
        state: dict[str, Any],
        wave: int,
    ) -> TaskRequest:
        outputs: dict[str, Any] = state["outputs"]
        if isinstance(step, QuantumStep):
            batch = _quantum_batch(step, outputs, state["seed"] + wave)
            return TaskRequest(key=step.name, kind="quantum", backend=step.backend, quantum=batch)
        payload = resolve(step.payload, outputs, step.name)
        spec = _classical_spec(step, job, payload)
        return TaskRequest(key=step.name, kind="classical", backend=step.backend, classical=spec)


# --- references ------------------------------------------------------------------------


def lookup(ref: str, outputs: dict[str, Any], step: str) -> Any:
    """The value ``ref`` names among finished steps' ``outputs`` (``InvalidJob`` naming the
    referring ``step`` when there is none)."""
    parts = ref.split(".")
    value = outputs[parts[0]]
    for depth, part in enumerate(parts[1:], start=1):
        here = ".".join(parts[:depth])
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            if isinstance(value, dict):
                has = f"it has keys {', '.join(sorted(map(str, value))) or '(none)'}"
            elif isinstance(value, list):
                has = f"it is a list of {len(value)}"
            else:
                has = f"it is {type(value).__name__} {value!r}"[:200]
            raise InvalidJob(f"step {step!r}: reference {ref!r} finds nothing at {here!r} ({has})")
    return value


def resolve(value: Any, outputs: dict[str, Any], step: str) -> Any:
    """``value`` with every ``{ref: ...}`` replaced by what it names."""
    ref = as_ref(value)
    if ref is not None:
        return lookup(ref.ref, outputs, step)
    if isinstance(value, dict):
        return {k: resolve(v, outputs, step) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, outputs, step) for v in value]
    return value


# --- tasks -----------------------------------------------------------------------------


def _classical_spec(step: ClassicalStep | DriverStep, job: JobSpec, payload: Any) -> ClassicalSpec:
    own = {
        "nodes": step.nodes,
        "ntasks": step.ntasks,
        "cpus_per_task": step.cpus_per_task,
        "mem_mb": step.mem_mb,
        "partition": step.partition,
    }
    defaults = job.classical_resources.model_dump(exclude_none=True)
    defaults.pop("time_limit_s", None)  # every step has its own limit
    resources = {**defaults, **{k: v for k, v in own.items() if v is not None}}
    env = dict(step.env)
    if step.python_path:
        earlier = [env["PYTHONPATH"]] if env.get("PYTHONPATH") else []
        env["PYTHONPATH"] = os.pathsep.join([*step.python_path, *earlier])
    if isinstance(step, DriverStep):
        env[DRIVER_ENV] = "1"
    return ClassicalSpec(
        name=f"graph-{step.name}",
        entrypoint=step.entrypoint,
        argv=step.argv,
        payload=payload,
        env=env,
        time_limit_s=step.time_limit_s,
        **resources,
    )


def _points(value: Any, step: QuantumStep) -> list[list[float]]:
    if value is None:
        return [[]]
    if isinstance(value, list) and all(isinstance(v, int | float) for v in value):
        value = [value]  # one parameter set given flat
    try:
        points = [[float(x) for x in row] for row in value]
    except (TypeError, ValueError):
        raise InvalidJob(
            f"step {step.name!r}: parameter_values must be a list of lists of numbers, "
            f"not {str(value)[:120]}"
        ) from None
    if len(points) > step.points:
        raise InvalidJob(
            f"step {step.name!r}: {len(points)} parameter sets, more than its max_points "
            f"({step.max_points}); raise max_points (admission holds for it)"
        )
    return points or [[]]


def _quantum_batch(step: QuantumStep, outputs: dict[str, Any], seed: int) -> QuantumBatch:
    text = resolve(step.circuit, outputs, step.name)
    if not isinstance(text, str):
        raise InvalidJob(f"step {step.name!r}: its circuit reference gave no OpenQASM text")
    try:
        circuit = Circuit.from_qasm(text)
    except CircuitError as exc:
        raise InvalidJob(f"step {step.name!r}: the circuit it was given: {exc}") from None
    points = _points(resolve(step.parameter_values, outputs, step.name), step)
    item = QuantumItem(circuit=circuit.qasm, parameter_values=points, observables=step.observables)
    return QuantumBatch(items=[item], shots=step.shots, seed=seed)


def _quantum_needs(step: QuantumStep, backend: str) -> list[Need]:
    needs = [Need(backend, "evaluations", float(step.points))]
    if step.shots:
        if isinstance(step.circuit, str):
            cost = resources.estimate(
                Circuit.from_qasm(step.circuit), step.points, step.shots, step.observables
            )
            shots = float(cost.total_shots or 0)
        else:  # at most one measurement group per Pauli term
            groups = max(1, sum(len(o.terms) for o in step.observables))
            shots = float(step.points * step.shots * groups)
        needs.append(Need(backend, "shots", shots))
    return needs


def _output(step: ClassicalStep | DriverStep | QuantumStep, result: TaskResult) -> Any:
    if isinstance(result, QuantumResult):
        item = result.items[0].model_dump(exclude_none=True)
        return {**item, "backend": result.backend, "shots": result.shots}
    assert isinstance(result, ClassicalResult)
    if not isinstance(step, QuantumStep) and step.argv is not None:
        return {"exit_code": result.exit_code, "stdout": result.stdout, "output": result.output}
    return result.output

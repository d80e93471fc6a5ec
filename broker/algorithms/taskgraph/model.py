"""The job file's explicit task graph: steps, their dependencies and references.

A step is classical (an entry point or a command on a classical backend), quantum (one
circuit with parameter sets, observables or shots, on a quantum backend) or a driver (a
classical program that submits quantum tasks back to the broker under the same job; see
:mod:`broker.drivers.service`). A step depends on the steps it names in ``after`` and on every step
whose output it refers to with ``{ref: STEP[.key[.index...]]}``.

Structural checks (:func:`check_graph`) name the step at fault: a cycle, a reference or an
``after`` to no step, a backend that does not exist or is of the wrong kind, a circuit that
does not parse.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    field_validator,
    model_validator,
)

from backends.identity import check_declared
from broker.algorithms.base import check_backend_kind
from broker.errors import InvalidJob
from circuits.canonical import Circuit
from circuits.coerce import coerce_observable
from circuits.errors import CircuitError
from circuits.observables import PauliSum

STEP_NAME = r"^[A-Za-z][A-Za-z0-9_-]{0,62}$"
_POINTS: TypeAdapter[list[list[float]]] = TypeAdapter(list[list[float]])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Ref(_Strict):
    """A reference to another step's output: ``STEP`` (all of it) or ``STEP.key.0...``."""

    ref: str = Field(
        pattern=r"^[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$",
        description="The step whose output this is.",
    )

    @property
    def step(self) -> str:
        """The step referred to."""
        return self.ref.split(".", 1)[0]


class _Step(_Strict):
    name: str = Field(pattern=STEP_NAME, description="Unique within the graph.")
    after: list[str] = Field(
        default_factory=list, description="Steps that must finish first (besides references)."
    )


class ClassicalStep(_Step):
    """A classical task (the default ``kind``): ``entrypoint`` (called with ``payload``) or
    ``argv``.

    Resources not given here come from the job's ``classical_resources``.
    """

    kind: Literal["classical"] = Field(default="classical", description="classical")
    backend: str | None = Field(default=None, description="Default: the job's classical one.")
    entrypoint: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$",
        description="module:function to call.",
    )
    argv: list[str] | None = Field(default=None, description="Or a command line to run.")
    payload: Any = Field(default=None, description="JSON; may hold {ref: STEP.key} anywhere.")
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Variables the step's program gets, on top of the clean environment every "
        "task starts from (names of the broker's and Slurm's own, QCB_* and SLURM_*/SBATCH_*, "
        "are refused).",
    )
    python_path: list[str] = Field(
        default_factory=list,
        description="Folders searched first for the entry point's module (in a job file, "
        "relative to the file's folder).",
    )
    nodes: int | None = Field(default=None, ge=1, description="Nodes.")
    ntasks: int | None = Field(default=None, ge=1, description="Tasks (ranks).")
    cpus_per_task: int | None = Field(default=None, ge=1, description="CPUs per task.")
    mem_mb: int | None = Field(default=None, ge=1, description="Memory per node, MB.")
    time_limit_s: int = Field(default=600, ge=1, description="Wall-time limit, s.")
    partition: str | None = Field(default=None, description="Slurm partition.")

    @field_validator("env")
    @classmethod
    def _declared(cls, env: dict[str, str]) -> dict[str, str]:
        check_declared(env)
        return env

    @model_validator(mode="after")
    def _one_program(self) -> ClassicalStep:
        if self.entrypoint is None and self.argv is None:
            raise ValueError("give the program: entrypoint (module:function) or argv")
        if self.entrypoint is not None and self.argv is not None:
            raise ValueError("give either entrypoint (module:function) or argv, not both")
        return self


class Allowance(_Strict):
    """What a driver may run on one quantum backend (held at admission)."""

    evaluations: int = Field(ge=1, description="Circuit executions (circuits x parameter sets).")
    shots: int = Field(default=0, ge=0, description="Shots over all its circuits.")


class DriverStep(ClassicalStep):
    """A classical program that submits quantum tasks back to the broker
    (``broker.drivers.service``) under the same job, with a token scoped to the job, within
    ``quantum``'s allowance."""

    kind: Literal["driver"] = Field(default="driver", description="driver")  # type: ignore[assignment]
    quantum: dict[str, Allowance] = Field(
        min_length=1, description="Quantum backend -> what the driver may run on it."
    )


class QuantumStep(_Step):
    """One circuit at one or more parameter sets: expectation values of ``observables``, or
    counts when there are none (``shots`` needed)."""

    kind: Literal["quantum"] = Field(default="quantum", description="quantum")
    backend: str | None = Field(default=None, description="Default: the job's backend.")
    circuit: str | Ref = Field(description="OpenQASM 3 text, or a reference to one.")
    parameter_values: Any = Field(
        default=None,
        description="Parameter sets [[...], ...]; a reference, or sets holding references.",
    )
    max_points: int = Field(
        default=1, ge=1, le=100_000, description="Upper bound of referenced parameter sets."
    )
    observables: list[PauliSum] = Field(default_factory=list, description="Pauli sums to measure.")
    shots: int | None = Field(default=None, ge=1, description="Shots; none: exact values.")

    @field_validator("observables", mode="before")
    @classmethod
    def _coerce(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [coerce_observable(v) for v in value]
        return value

    @model_validator(mode="after")
    def _measures_something(self) -> QuantumStep:
        if not self.observables and self.shots is None:
            raise ValueError("give observables, or shots for counts")
        if self.parameter_values is not None and not self.refers:
            self.parameter_values = _POINTS.validate_python(self.parameter_values)
        return self

    @property
    def refers(self) -> bool:
        """Whether the parameter values come (in part) from other steps."""
        return any(True for _ in refs_in(self.parameter_values))

    @property
    def points(self) -> int:
        """Parameter sets this step runs at most."""
        if self.refers:
            return self.max_points
        return max(len(self.parameter_values or []), 1)


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("kind", "classical"))
    return str(getattr(value, "kind", "classical"))


Step = Annotated[
    Annotated[ClassicalStep, Tag("classical")]
    | Annotated[DriverStep, Tag("driver")]
    | Annotated[QuantumStep, Tag("quantum")],
    Discriminator(_kind),
]


class GraphInputs(_Strict):
    """Inputs of ``algorithm: {name: graph}``: the steps (any order)."""

    steps: list[Step] = Field(
        min_length=1, max_length=1000, description="The steps by name, in any order."
    )
    outputs: list[str] | None = Field(
        default=None, description="Steps whose outputs form the result; default: every step."
    )


# --- references ------------------------------------------------------------------------


def as_ref(value: Any) -> Ref | None:
    """``value`` as a reference: a :class:`Ref`, or a mapping ``{ref: ...}`` with nothing
    else; None for any other value."""
    if isinstance(value, Ref):
        return value
    if isinstance(value, dict) and set(value) == {"ref"} and isinstance(value["ref"], str):
        return Ref(ref=value["ref"])
    return None


def refs_in(value: Any) -> Iterator[Ref]:
    """Every reference inside a JSON value."""
    ref = as_ref(value)
    if ref is not None:
        yield ref
    elif isinstance(value, dict):
        for item in value.values():
            yield from refs_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from refs_in(item)


def step_refs(step: ClassicalStep | DriverStep | QuantumStep) -> list[Ref]:
    """The references a step makes."""
    if isinstance(step, QuantumStep):
        return list(refs_in(step.circuit)) + list(refs_in(step.parameter_values))
    return list(refs_in(step.payload))


def dependencies(step: ClassicalStep | DriverStep | QuantumStep) -> set[str]:
    """The steps that must finish before ``step`` starts."""
    return set(step.after) | {r.step for r in step_refs(step)}


# --- structural checks -----------------------------------------------------------------


def _where(index: int, step: ClassicalStep | DriverStep | QuantumStep) -> str:
    return f"algorithm.inputs.steps[{index}] (step {step.name!r})"


def _check_circuit(where: str, step: QuantumStep) -> None:
    if isinstance(step.circuit, Ref):
        return
    try:
        circuit = Circuit.from_qasm(step.circuit)
    except CircuitError as exc:
        raise InvalidJob(f"{where}.circuit: {exc}") from None
    if step.refers:
        pass
    elif isinstance(step.parameter_values, list):
        for row, values in enumerate(step.parameter_values or [[]]):
            if len(values) != len(circuit.parameters):
                raise InvalidJob(
                    f"{where}.parameter_values[{row}]: has {len(values)} values but the "
                    f"circuit has {len(circuit.parameters)} parameters"
                )
    elif step.parameter_values is None and circuit.parameters:
        raise InvalidJob(
            f"{where}.parameter_values: the circuit has parameters "
            f"({', '.join(circuit.parameters)}); give their values"
        )
    if not step.observables and not circuit.has_measurements:
        raise InvalidJob(
            f"{where}.circuit: the circuit measures nothing; add measurements for counts, "
            "or give observables"
        )
    for index, observable in enumerate(step.observables):
        if observable.num_qubits != circuit.num_qubits:
            raise InvalidJob(
                f"{where}.observables[{index}]: acts on {observable.num_qubits} qubits but "
                f"the circuit has {circuit.num_qubits}"
            )


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (step -> its dependencies) as a path, or None."""
    colour: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = 1
        path.append(node)
        for dep in sorted(graph[node]):
            if colour.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in colour and (found := visit(dep)) is not None:
                return found
        path.pop()
        colour[node] = 2
        return None

    for node in sorted(graph):
        if node not in colour and (found := visit(node)) is not None:
            return found
    return None


def check_graph(inputs: GraphInputs, quantum_default: str, classical_default: str) -> None:
    """Refuse a graph that cannot run, naming the step: duplicate names, a reference or
    ``after`` to no step, a cycle, an unknown or wrong-kind backend, a bad circuit."""
    names: dict[str, int] = {}
    for index, step in enumerate(inputs.steps):
        if step.name in names:
            raise InvalidJob(
                f"{_where(index, step)}: the name is also used by steps[{names[step.name]}]; "
                "step names must be unique"
            )
        names[step.name] = index
    for index, step in enumerate(inputs.steps):
        where = _where(index, step)
        for dep in sorted(dependencies(step)):
            if dep not in names:
                how = "runs after" if dep in step.after else "refers to"
                raise InvalidJob(
                    f"{where}: {how} {dep!r}, which is not a step of this graph "
                    f"(steps: {', '.join(sorted(names))})"
                )
            if dep == step.name:
                raise InvalidJob(f"{where}: depends on itself")
        if isinstance(step, QuantumStep):
            check_backend_kind(where, step.backend or quantum_default, "quantum")
            _check_circuit(where, step)
        else:
            check_backend_kind(where, step.backend or classical_default, "classical")
        if isinstance(step, DriverStep):
            for backend in step.quantum:
                check_backend_kind(f"{where}.quantum", backend, "quantum")
    cycle = _cycle({s.name: dependencies(s) for s in inputs.steps})
    if cycle is not None:
        first = names[cycle[0]]
        raise InvalidJob(
            f"algorithm.inputs.steps[{first}] (step {cycle[0]!r}): the steps form a cycle: "
            + " -> ".join(repr(n) for n in cycle)
            + " (each waits for the next)"
        )
    for index, name in enumerate(inputs.outputs or []):
        if name not in names:
            raise InvalidJob(f"algorithm.inputs.outputs[{index}]: {name!r} is not a step")

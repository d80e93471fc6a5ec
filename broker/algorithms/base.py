"""Built-in algorithms as resumable state machines.

An algorithm never runs anything itself: ``start`` and ``step`` return the tasks to run next,
and the broker persists the returned state after every step, so that a restarted broker
carries on where it stopped. State is plain JSON.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel

from backends import registry
from backends.base import ClassicalBackend, ClassicalResult, ClassicalSpec, QuantumResult
from backends.errors import BackendError
from broker.core.models import JobSpec, TaskRequest
from broker.errors import InvalidJob
from policies.admission import Need

TaskResult = QuantumResult | ClassicalResult

# The time a classical task without a limit is estimated (and held) at.
DEFAULT_CLASSICAL_ESTIMATE_S = 3600


def invalid(path: str, message: str) -> InvalidJob:
    """The error for a bad algorithm input at ``path`` (below ``algorithm.inputs``)."""
    return InvalidJob.at(f"algorithm.inputs.{path}" if path else "algorithm.inputs", message)


def check_backend_kind(where: str, name: str, kind: str) -> None:
    """Refuse (``InvalidJob`` at ``where``) a backend that is unknown or not of ``kind``."""
    try:
        actual = registry.kind_of(name)
    except BackendError as exc:
        raise InvalidJob.at(where, str(exc)) from None
    if actual != kind:
        raise InvalidJob.at(where, f"{name!r} is a {actual} backend, not a {kind} one")


def with_resources(spec: ClassicalSpec, job: JobSpec) -> ClassicalSpec:
    """``spec`` with the job's ``classical_resources`` applied (they override the task's)."""
    return spec.model_copy(update=job.classical_resources.model_dump(exclude_none=True))


def classical_task(job: JobSpec, key: str, spec: ClassicalSpec) -> TaskRequest:
    """A request for a classical task on the job's classical backend, with its resources."""
    return TaskRequest(key=key, kind="classical", classical=with_resources(spec, job))


def classical_need(job: JobSpec, spec: ClassicalSpec) -> Need:
    """The most a classical task may use, in its backend's unit: its time limit times its
    nodes (``node_hours``) or cores (``core_hours``)."""
    return classical_need_on(job.classical_backend, with_resources(spec, job))


def classical_need_on(backend: str, spec: ClassicalSpec) -> Need:
    """The most ``spec`` may use on the classical ``backend``, in that backend's unit."""
    cls = registry.load_class(backend)
    unit = cls.charge_unit if issubclass(cls, ClassicalBackend) else "core_hours"
    size = spec.nodes if unit == "node_hours" else spec.nodes * spec.ntasks * spec.cpus_per_task
    seconds = spec.time_limit_s or DEFAULT_CLASSICAL_ESTIMATE_S
    return Need(backend, unit, size * seconds / 3600)


def sum_needs(needs: list[Need]) -> list[Need]:
    """``needs`` with the amounts of each (backend, unit) added up, in first-seen order."""
    total: dict[tuple[str, str], float] = {}
    for need in needs:
        total[(need.backend, need.unit)] = total.get((need.backend, need.unit), 0.0) + need.amount
    return [Need(backend, unit, amount) for (backend, unit), amount in total.items()]


@dataclass
class StepOutcome:
    """What an algorithm returns from ``start`` and ``step``.

    Either ``tasks`` to run next (the next step starts when all of them are final), or a
    ``result`` (the job is finished). ``progress`` is what ``qcb`` shows while it runs.
    """

    state: dict[str, Any]
    tasks: list[TaskRequest] = field(default_factory=list)
    progress: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None


class Algorithm(ABC):
    """A hybrid algorithm: validates its inputs, estimates its cost, and steps."""

    name: ClassVar[str]
    inputs_model: ClassVar[type[BaseModel]]

    @abstractmethod
    def check(self, inputs: Any, job: JobSpec) -> None:
        """Cross-check inputs beyond their schema; raise ``InvalidJob`` naming the field."""

    @abstractmethod
    def needs(self, inputs: Any, job: JobSpec) -> list[Need]:
        """Upper estimate of what the job may use, per backend and unit (for admission)."""

    @abstractmethod
    def start(self, inputs: Any, job: JobSpec, seed: int) -> StepOutcome:
        """The initial state and first tasks."""

    @abstractmethod
    def step(
        self, inputs: Any, job: JobSpec, state: dict[str, Any], results: dict[str, TaskResult]
    ) -> StepOutcome:
        """Advance from the results of the previous step's tasks (keyed by task key)."""

    def circuit_widths(self, inputs: Any) -> list[int]:
        """Qubits of the circuits this algorithm will run on the job's backend (admission
        refuses a job whose circuits its backend cannot take)."""
        return []

    def backend_widths(self, inputs: Any, job: JobSpec) -> dict[str, int]:
        """The widest circuit known at submission per quantum backend (admission refuses a
        job whose circuits a backend cannot take). Default: :meth:`circuit_widths` on the
        job's backend."""
        widths = self.circuit_widths(inputs)
        return {job.backend: max(widths)} if widths else {}

    def circuits(self, inputs: Any) -> list[str]:
        """sha256 of the circuits this algorithm runs (for the lineage)."""
        return []

    def observables(self, inputs: Any) -> list[str]:
        """sha256 of the observables this algorithm measures (for the lineage)."""
        return []

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

from backends.base import ClassicalResult, QuantumResult
from broker.models import JobSpec, TaskRequest
from policies.admission import Need

TaskResult = QuantumResult | ClassicalResult


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

    def circuits(self, inputs: Any) -> list[str]:
        """sha256 of the circuits this algorithm runs (for the lineage)."""
        return []

    def observables(self, inputs: Any) -> list[str]:
        """sha256 of the observables this algorithm measures (for the lineage)."""
        return []

"""The part of the contract every in-process simulator shares, and its ``submit`` skeleton.

A simulator running inside the worker finishes a batch within ``submit`` and keeps the
result in a :class:`~backends.runs.ResultCache` until ``result`` asks for it. So
``status`` is COMPLETED for every batch this process ran, ``cancel`` has nothing to stop, and
a native id from another process is lost (``reattach=False``): a redelivered task runs again
with the same seed.

``submit`` is the same for all of them (:meth:`InProcessSimulator.submit`): refuse what cannot
run (batch options, exact mode, width), time the run, turn the SDK's own errors into
:class:`~backends.errors.BackendError`, and keep a :class:`QuantumResult` of one shape under
a new native id. A simulator provides the hooks: :meth:`~InProcessSimulator.run_exact`,
:meth:`~InProcessSimulator.run_sampled` and :meth:`~InProcessSimulator.labels`.
"""

from __future__ import annotations

import uuid
from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from backends.base import BackendStatus, ItemResult, QuantumBackend, QuantumBatch, QuantumResult
from backends.errors import BackendError
from backends.options import BackendOptions, validate
from backends.result_cache import ResultCache, Stopwatch
from backends.states import TaskState
from circuits.canonical import Circuit


@dataclass
class SimulatorRun:
    """What simulating one batch gave.

    ``native_ids``: the SDK's own ids of its calls (the first becomes the batch's native id);
    None when it has none, then the batch gets a new id, listed when there was a call.
    """

    items: list[ItemResult]
    evaluations: int
    calls: int
    native_ids: list[str] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResultLabels:
    """How a simulator names itself in its results."""

    version: str
    method: str
    device: str | None = None
    calibration_time: str | None = None


class InProcessSimulator(QuantumBackend):
    """Base of the simulators that run batches in the worker process (``aer``, ``cirq``,
    ``pennylane``, ``braket``'s local simulators): they put each result in
    ``self._results`` under its native id.

    ``engine`` names the simulator in errors; ``width_hint`` is the hint given with a
    too-wide circuit; ``BatchOptions`` the options a batch may carry (none by default).
    """

    engine: ClassVar[str]
    width_hint: ClassVar[str | None] = None
    BatchOptions: ClassVar[type[BackendOptions]] = BackendOptions

    def __init__(self, config: BackendOptions | None = None, /, **options: Any) -> None:
        super().__init__(config, **options)
        self._results = ResultCache(self.name)

    # --- the hooks ---------------------------------------------------------------------

    @abstractmethod
    def run_exact(self, batch: QuantumBatch) -> SimulatorRun:
        """Exact expectation values of every item (``batch.shots`` is None)."""

    @abstractmethod
    def run_sampled(self, batch: QuantumBatch, shots: int) -> SimulatorRun:
        """Counts (and estimates from them) of every item, ``shots`` per parameter set."""

    @abstractmethod
    def labels(self) -> ResultLabels:
        """Version, method, device and calibration time, as results name them."""

    # --- the skeleton ------------------------------------------------------------------

    def batch_options(self, batch: QuantumBatch) -> BackendOptions:
        """The batch's ``options`` as :attr:`BatchOptions` (unknown ones refused)."""
        return validate(self.BatchOptions, self.name, batch.options, what="batch option")

    def refuse(self, batch: QuantumBatch) -> None:
        """Raise ``BackendError`` for a batch this simulator cannot run: unknown batch
        options, exact mode without the ``exact`` capability, a circuit too wide."""
        self.batch_options(batch)
        caps = self.capabilities()
        if batch.shots is None and not caps.exact:
            raise BackendError(
                f"{self.name} cannot compute exact expectation values; set shots to sample"
            )
        self.refuse_too_wide(batch, caps.max_qubits, hint=self.width_hint)

    def submit(self, batch: QuantumBatch, *, task_id: str) -> str:
        """Run the batch now (simulation is local); the result waits under the native id."""
        clock = Stopwatch()
        self.refuse(batch)
        try:
            if batch.shots is None:
                run = self.run_exact(batch)
            else:
                run = self.run_sampled(batch, batch.shots)
        except BackendError:
            raise
        except Exception as exc:  # the SDK's own errors: the batch cannot run as given
            raise BackendError(f"{self.engine} could not run the batch: {exc}") from exc
        if run.native_ids:
            native_id, native_ids = run.native_ids[0], run.native_ids
        else:
            native_id = f"{self.name}-{uuid.uuid4().hex}"
            native_ids = [native_id] if run.calls and run.native_ids is None else []
        labels = self.labels()
        self._results.put(
            native_id,
            QuantumResult(
                items=run.items,
                backend=self.name,
                backend_version=labels.version,
                method=labels.method,
                shots=batch.shots,
                seed=batch.seed,
                circuit_evaluations=run.evaluations,
                shots_total=run.evaluations * (batch.shots or 0),
                run_seconds=clock.seconds(),
                native_ids=native_ids,
                calls=run.calls,
                device=labels.device,
                calibration_time=labels.calibration_time,
                metadata={"task_id": task_id, **run.metadata},
            ),
        )
        return native_id

    def refuse_too_wide(
        self, batch: QuantumBatch, limit: int | None, hint: str | None = None
    ) -> None:
        """Raise ``BackendError`` when a circuit of ``batch`` has more than ``limit`` qubits."""
        width = max(Circuit(qasm=item.circuit).num_qubits for item in batch.items)
        if limit is not None and width > limit:
            raise BackendError(
                f"a circuit has {width} qubits; {self.name} takes at most {limit}", hint=hint
            )

    # --- the rest of the contract ------------------------------------------------------

    def status(self, native_id: str) -> BackendStatus:
        """COMPLETED for a batch this process ran; ``NativeJobLost`` otherwise."""
        self._results.get(native_id)
        return BackendStatus(state=TaskState.COMPLETED, native_state="DONE")

    def cancel(self, native_id: str) -> None:
        """Nothing to stop: a batch has finished by the time ``submit`` returns."""

    def result(self, native_id: str) -> QuantumResult:
        """The batch's results (kept; a second call returns them again)."""
        return self._results.get(native_id)

"""The part of the contract every in-process simulator shares.

A simulator running inside the worker finishes a batch within ``submit`` and keeps the
result in a :class:`~backends.batching.ResultCache` until ``result`` asks for it. So
``status`` is COMPLETED for every batch this process ran, ``cancel`` has nothing to stop, and
a native id from another process is lost (``reattach=False``): a redelivered task runs again
with the same seed.
"""

from __future__ import annotations

from typing import Any

from backends.base import BackendStatus, QuantumBackend, QuantumBatch, QuantumResult
from backends.batching import ResultCache
from backends.errors import BackendError
from backends.states import TaskState
from circuits.canonical import Circuit


class InProcessSimulator(QuantumBackend):
    """Base of the simulators that run batches in the worker process (``aer``, ``cirq``,
    ``pennylane``): they put each result in ``self._results`` under its native id."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._results = ResultCache(self.name)

    def refuse_too_wide(
        self, batch: QuantumBatch, limit: int | None, hint: str | None = None
    ) -> None:
        """Raise ``BackendError`` when a circuit of ``batch`` has more than ``limit`` qubits."""
        width = max(Circuit(qasm=item.circuit).num_qubits for item in batch.items)
        if limit is not None and width > limit:
            raise BackendError(
                f"a circuit has {width} qubits; {self.name} takes at most {limit}", hint=hint
            )

    def status(self, native_id: str) -> BackendStatus:
        """COMPLETED for a batch this process ran; ``NativeJobLost`` otherwise."""
        self._results.get(native_id)
        return BackendStatus(state=TaskState.COMPLETED, native_state="DONE")

    def cancel(self, native_id: str) -> None:
        """Nothing to stop: a batch has finished by the time ``submit`` returns."""

    def result(self, native_id: str) -> QuantumResult:
        """The batch's results (kept; a second call returns them again)."""
        return self._results.get(native_id)

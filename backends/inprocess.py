"""The part of the contract every in-process simulator shares.

A simulator running inside the worker finishes a batch within ``submit`` and keeps the
result in a :class:`~backends.batching.ResultCache` until ``result`` asks for it. So
``status`` is COMPLETED for every batch this process ran, ``cancel`` has nothing to stop, and
a native id from another process is lost (``reattach=False``): a redelivered task runs again
with the same seed.
"""

from __future__ import annotations

from typing import Any

from backends.base import BackendStatus, QuantumBackend, QuantumResult
from backends.batching import ResultCache
from backends.states import TaskState


class InProcessSimulator(QuantumBackend):
    """Base of the simulators that run batches in the worker process (``aer``, ``cirq``,
    ``pennylane``): they put each result in ``self._results`` under its native id."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._results = ResultCache(self.name)

    def status(self, native_id: str) -> BackendStatus:
        """COMPLETED for a batch this process ran; ``NativeJobLost`` otherwise."""
        self._results.get(native_id)
        return BackendStatus(state=TaskState.COMPLETED, native_state="DONE")

    def cancel(self, native_id: str) -> None:
        """Nothing to stop: a batch has finished by the time ``submit`` returns."""

    def result(self, native_id: str) -> QuantumResult:
        """The batch's results (kept; a second call returns them again)."""
        return self._results.get(native_id)

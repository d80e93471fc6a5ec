"""Results that a backend keeps in its worker process until the broker reads them, and the
clock that times an in-process run."""

from __future__ import annotations

import time
from collections import OrderedDict

from backends.base import QuantumResult
from backends.errors import NativeJobLost


class ResultCache:
    """Results of batches that a simulator ran inside this process, by native id.

    In-process simulators finish a batch inside ``submit``; the result waits here for
    ``result``. Only the newest ``keep`` are kept: older ones were stored by the broker long
    ago. A native id not (or no longer) here raises :class:`NativeJobLost`, so a redelivered
    task runs again (with the same seed).
    """

    def __init__(self, backend: str, keep: int = 256) -> None:
        self.backend = backend
        self.keep = keep
        self._results: OrderedDict[str, QuantumResult] = OrderedDict()

    def put(self, native_id: str, result: QuantumResult) -> None:
        """Keep ``result`` under ``native_id`` (dropping the oldest beyond ``keep``)."""
        while len(self._results) >= self.keep:
            self._results.popitem(last=False)
        self._results[native_id] = result

    def get(self, native_id: str) -> QuantumResult:
        """The result kept under ``native_id``; :class:`NativeJobLost` if there is none."""
        try:
            return self._results[native_id]
        except KeyError:
            raise NativeJobLost(
                native_id, f"{self.backend} results live in the worker process that ran them"
            ) from None


class Stopwatch:
    """Seconds since construction; ``run_seconds`` of an in-process batch."""

    def __init__(self) -> None:
        self._start = time.perf_counter()

    def seconds(self) -> float:
        """Seconds elapsed."""
        return time.perf_counter() - self._start

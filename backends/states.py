"""The one state enum that every task, job and backend report uses."""

from __future__ import annotations

from enum import StrEnum


class TaskState(StrEnum):
    """Where a task (or a job) stands.

    ``PENDING`` is in the store, waiting for the scheduler; ``QUEUED`` has been released to a
    worker or handed to a backend that has not started it; ``RUNNING`` is executing. The other
    four are final: once a task reaches one of them it never leaves it.
    """

    PENDING = "PENDING"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMEOUT = "TIMEOUT"

    @property
    def final(self) -> bool:
        """True for the states a task never leaves."""
        return self in _FINAL

    @classmethod
    def finals(cls) -> frozenset[TaskState]:
        """The final states."""
        return _FINAL


_FINAL = frozenset({TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELLED, TaskState.TIMEOUT})

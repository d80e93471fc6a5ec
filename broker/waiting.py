"""Following jobs, the same for the embedded and the remote client: one job to its end
(``Client.wait``) or many (``wait_all``, ``as_completed``), with a timeout that raises
rather than returning a status that is not final; and job states as a user writes them
(``parse_states``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from backends.states import TaskState
from broker.core.models import JobStatus
from broker.errors import InvalidRequest, WaitTimeout

SLURM_CODES = {
    "PD": TaskState.PENDING,
    "R": TaskState.RUNNING,
    "CD": TaskState.COMPLETED,
    "F": TaskState.FAILED,
    "CA": TaskState.CANCELLED,
    "TO": TaskState.TIMEOUT,
}
"""squeue's short state codes, accepted wherever a state is."""


def parse_states(states: Sequence[str]) -> list[TaskState]:
    """States as a user writes them (``running``, ``RUNNING``, Slurm's ``R``; several in one
    string separated by commas); :class:`InvalidRequest` naming the valid ones otherwise."""
    found: list[TaskState] = []
    for word in (w.strip().upper() for text in states for w in text.split(",")):
        if not word:
            continue
        if word in SLURM_CODES:
            found.append(SLURM_CODES[word])
        elif word in TaskState.__members__:
            found.append(TaskState[word])
        else:
            valid = ", ".join([s.value for s in TaskState] + list(SLURM_CODES))
            raise InvalidRequest(f"unknown job state {word!r}; valid states: {valid}")
    return found


class Waits(Protocol):
    """What :func:`wait_all` needs of a client."""

    def wait(self, job_id: str, timeout: float | None = None) -> JobStatus:
        """Block until the job is final (``WaitTimeout`` after ``timeout`` seconds)."""
        ...


def timed_out(status: JobStatus, timeout: float | None) -> WaitTimeout:
    """The error for a wait that ended at its timeout while the job was not final."""
    return WaitTimeout(
        f"job {status.id} is still {status.state.value} after {timeout:g} s",
        hint=f"it keeps running: `qcb status {status.id}` follows it, "
        f"`qcb cancel {status.id}` stops it",
        status=status,
    )


def wait_all(
    client: Waits, job_ids: Sequence[str], timeout: float | None = None
) -> dict[str, JobStatus]:
    """Block until every job of ``job_ids`` is final; their statuses by id, in the order
    given. ``timeout`` bounds the whole wait: :class:`WaitTimeout` names the first job still
    running then (the jobs run in parallel, so waiting on them one after another costs no
    more than the slowest)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    found: dict[str, JobStatus] = {}
    for job_id in dict.fromkeys(job_ids):
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            found[job_id] = client.wait(job_id, timeout=left)
        except WaitTimeout as exc:
            status = exc.status
            others = f" ({len(found)} of {len(job_ids)} jobs had ended)" if len(job_ids) > 1 else ""
            raise WaitTimeout(
                f"job {job_id} is still {status.state.value if status else 'running'} after "
                f"{timeout:g} s{others}",
                hint=exc.hint,
                status=status,
            ) from None
    return found


class Polls(Protocol):
    """What :func:`as_completed` needs of a client."""

    def status(self, job_id: str) -> JobStatus:
        """Where the job stands now."""
        ...


def as_completed(
    client: Polls,
    job_ids: Sequence[str],
    pause: Callable[[], None],
    timeout: float | None = None,
) -> Iterator[JobStatus]:
    """Each job of ``job_ids`` as it ends (as ``concurrent.futures.as_completed``): its
    final status, in the order they end; ``pause()`` waits a little between looks.
    ``timeout`` bounds the whole wait: :class:`WaitTimeout` names a job still running."""
    deadline = None if timeout is None else time.monotonic() + timeout
    left = list(dict.fromkeys(job_ids))
    total = len(left)
    while left:
        running: list[JobStatus] = []
        for job_id in left:
            status = client.status(job_id)
            if status.state.final:
                yield status
            else:
                running.append(status)
        left = [s.id for s in running]
        if running and deadline is not None and time.monotonic() > deadline:
            first = timed_out(running[0], timeout)
            raise WaitTimeout(
                f"{first.message} ({total - len(running)} of {total} jobs had ended)",
                hint=first.hint,
                status=running[0],
            )
        if running:
            pause()

"""Runtime jobs of the ``ibm`` backend: native ids, states, calibration time and timings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from backends.errors import NativeJobLost
from backends.states import TaskState

# Every other runtime status (INITIALIZING, VALIDATING, QUEUED) is QUEUED.
_STATES = {"RUNNING": TaskState.RUNNING, "DONE": TaskState.COMPLETED, "ERROR": TaskState.FAILED}
_STATES["CANCELLED"] = TaskState.CANCELLED
_NATIVE_ID = re.compile(r"^([^|]+)\|([es]+)\|(\d+)\|(-|-?\d+)$")


def native_state(status: Any) -> str:
    """A runtime job status by name: ``"QUEUED"`` (service) or ``JobStatus.QUEUED`` (local)."""
    return str(getattr(status, "name", status)).upper()


def job_state(status: Any) -> TaskState:
    """The :class:`TaskState` of a runtime job status."""
    return _STATES.get(native_state(status), TaskState.QUEUED)


@dataclass(frozen=True)
class Handle:
    """What a native id holds: the job ids (estimator's first), one letter per item (``e``
    estimator, ``s`` sampler), the shots and the seed."""

    job_ids: tuple[str, ...]
    kinds: str
    shots: int
    seed: int | None

    def encode(self) -> str:
        """The native id: ``ID[,ID]|KINDS|SHOTS|SEED`` (``-`` for no seed)."""
        seed = "-" if self.seed is None else str(self.seed)
        return f"{','.join(self.job_ids)}|{self.kinds}|{self.shots}|{seed}"

    @classmethod
    def decode(cls, native_id: str) -> Handle:
        """Parse a native id; :class:`NativeJobLost` when it is not one of ours."""
        match = _NATIVE_ID.match(native_id)
        ids = match.group(1).split(",") if match else []
        if match is None or len(ids) != ("e" in match.group(2)) + ("s" in match.group(2)):
            raise NativeJobLost(native_id, "not a native id of the ibm backend")
        seed = None if match.group(4) == "-" else int(match.group(4))
        return cls(tuple(ids), match.group(2), int(match.group(3)), seed)


def calibration_time(jobs: list[Any]) -> str | None:
    """When the calibration the first job ran with was taken (ISO 8601), if known."""
    try:
        when = jobs[0].properties().last_update_date
    except Exception:  # no properties (simulators) or a service hiccup: not worth failing
        return None
    return when.isoformat() if isinstance(when, datetime) else (str(when) if when else None)


def job_times(jobs: list[Any]) -> tuple[float, float | None]:
    """Run and queue seconds, summed over the jobs' metrics timestamps ((0, None) without)."""
    run = queue = 0.0
    try:
        for job in jobs:
            stamps = job.metrics()["timestamps"]
            created, running, finished = (
                datetime.fromisoformat(stamps[k]) for k in ("created", "running", "finished")
            )
            queue += (running - created).total_seconds()
            run += (finished - running).total_seconds()
    except Exception:  # no metrics yet, or timestamps missing: the times are unknown
        return 0.0, None
    return run, queue

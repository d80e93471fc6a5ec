"""Slurm's job records, parsed, and their mapping to :class:`TaskState`.

One parser for every release the broker supports, from ``squeue --json`` or slurmrestd:
OpenAPI v0.0.38 (Slurm 22.05: ``job_state`` a string, ``exit_code`` a wait status) and
v0.0.40 to v0.0.45 (Slurm 23.11 to 26.05: ``job_state`` a list, the base state first and
then flags; ``exit_code`` an object of ``status``, ``return_code`` and ``signal``; numbers as
``{set, infinite, number}``). Partitions are in :mod:`backends.slurm.partitions`.

Everything here is pure: data in, data out.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field

from backends.states import TaskState

_STATES = {
    "PENDING": TaskState.QUEUED,
    "CONFIGURING": TaskState.QUEUED,
    "REQUEUED": TaskState.QUEUED,
    "REQUEUE_FED": TaskState.QUEUED,
    "REQUEUE_HOLD": TaskState.QUEUED,
    "RESV_DEL_HOLD": TaskState.QUEUED,
    "SPECIAL_EXIT": TaskState.QUEUED,
    "RUNNING": TaskState.RUNNING,
    "COMPLETING": TaskState.RUNNING,
    "SIGNALING": TaskState.RUNNING,
    "STAGE_OUT": TaskState.RUNNING,
    "RESIZING": TaskState.RUNNING,
    "SUSPENDED": TaskState.RUNNING,
    "STOPPED": TaskState.RUNNING,
    "COMPLETED": TaskState.COMPLETED,
    "FAILED": TaskState.FAILED,
    "NODE_FAIL": TaskState.FAILED,
    "BOOT_FAIL": TaskState.FAILED,
    "OUT_OF_MEMORY": TaskState.FAILED,
    "DEADLINE": TaskState.TIMEOUT,
    "TIMEOUT": TaskState.TIMEOUT,
    "CANCELLED": TaskState.CANCELLED,
    "PREEMPTED": TaskState.CANCELLED,
    "REVOKED": TaskState.CANCELLED,
    # Flags that newer releases list after the base state; 22.05 could show them alone.
    "LAUNCH_FAILED": TaskState.FAILED,
    "RECONFIG_FAIL": TaskState.FAILED,
    "POWER_UP_NODE": TaskState.QUEUED,
    "UPDATE_DB": TaskState.RUNNING,
}

# The flags that Slurm shows instead of the base state, in the order it checks them
# (``job_state_string``): a job with flags [CANCELLED, COMPLETING] is still COMPLETING.
SHOWN_FLAGS = (
    "COMPLETING",
    "STAGE_OUT",
    "CONFIGURING",
    "RESIZING",
    "REQUEUED",
    "REQUEUE_FED",
    "REQUEUE_HOLD",
    "SPECIAL_EXIT",
    "STOPPED",
    "REVOKED",
    "RESV_DEL_HOLD",
    "SIGNALING",
)

# Pending reasons a researcher meets most, in words; the rest are shown as Slurm says them.
REASONS = {
    "None": "",
    "Priority": "waiting behind jobs of higher priority",
    "Resources": "waiting for nodes to become free",
    "BeginTime": "waiting for its start time",
    "Dependency": "waiting for another job to finish",
    "JobHeldUser": "held by its user",
    "JobHeldAdmin": "held by an administrator",
    "PartitionDown": "its partition is down",
    "PartitionInactive": "its partition is inactive",
    "PartitionNodeLimit": "asks for more nodes than its partition allows",
    "PartitionTimeLimit": "asks for more time than its partition allows",
    "ReqNodeNotAvail": "a node it needs is unavailable (down, drained or reserved)",
    "NodeDown": "a node it needs is down",
    "QOSMaxJobsPerUserLimit": "its user has reached the QOS limit of running jobs",
    "AssocGrpNodeLimit": "its account has reached its node limit",
    "AssocGrpCPUMinutesLimit": "its account has used its CPU-minutes",
    "NonZeroExitCode": "exited with a non-zero code",
    "TimeLimit": "reached its time limit",
    "Prolog": "running the node prolog",
}

# Pending reasons that will never clear by waiting: the broker fails the task at once.
HOPELESS = {
    "PartitionNodeLimit",
    "PartitionTimeLimit",
    "BadConstraints",
    "InvalidAccount",
    "InvalidQOS",
    "AssocMaxJobsLimit",
    "DependencyNeverSatisfied",
}


class SlurmJob(BaseModel):
    """What the broker needs to know of one Slurm job."""

    job_id: str
    name: str = ""
    state: str = Field(
        description="Slurm's job state as its tools show it (a flag such as COMPLETING "
        "before the base state), e.g. RUNNING, TIMEOUT."
    )
    base_state: str = Field(default="", description="The base state, without flags.")
    flags: list[str] = Field(default_factory=list, description="State flags (23.11 on).")
    reason: str = "None"
    exit_code: int | None = None
    signal: int | None = None
    nodes: list[str] = Field(default_factory=list)
    node_count: int = 0
    start_time: int = 0
    end_time: int = 0
    partition: str = ""
    comment: str = ""

    @property
    def elapsed_s(self) -> float | None:
        """Seconds between start and end, from Slurm's record (None before it ends)."""
        if self.start_time and self.end_time and self.end_time >= self.start_time:
            return float(self.end_time - self.start_time)
        return None

    @property
    def node_hours(self) -> float:
        """What the job used: elapsed time x nodes, as Slurm recorded them."""
        return (self.elapsed_s or 0.0) * max(self.node_count, len(self.nodes)) / 3600


def task_state(job: SlurmJob) -> tuple[TaskState, str]:
    """Map a job to the broker's state and a readable message."""
    native = (job.state.split() or ["UNKNOWN"])[0]
    state = _STATES.get(native, TaskState.FAILED)
    words = reason_words(job.reason)
    if state is TaskState.QUEUED:
        if job.reason in HOPELESS:
            return TaskState.FAILED, f"Slurm will never start it: {words} ({job.reason})"
        return state, f"pending: {words}" if words else "pending"
    if state is TaskState.FAILED:
        if native == "OUT_OF_MEMORY":
            return state, "killed for using more memory than it asked for"
        if native in ("NODE_FAIL", "BOOT_FAIL"):
            return state, f"a node failed ({native}); the task did not finish"
        if job.signal:
            return state, f"killed by signal {job.signal}"
        if native not in ("FAILED",):
            return state, f"ended {native} (exit code {job.exit_code})"
        return state, f"exited with code {job.exit_code}"
    if state is TaskState.TIMEOUT:
        return state, "killed at its time limit"
    if state is TaskState.CANCELLED:
        return state, "cancelled" if native == "CANCELLED" else f"cancelled ({native})"
    return state, ""


def reason_words(reason: str) -> str:
    """A state reason in words: ``RaisedSignal:9(Killed)`` (23.11 on) as "raised signal 9
    (Killed)", the common ones from :data:`REASONS`, the rest as Slurm says them."""
    if reason.startswith("RaisedSignal"):
        return "raised signal " + reason.partition(":")[2].replace("_", " ")
    return REASONS.get(reason, reason)


def expand_hostlist(text: str) -> list[str]:
    """``n[1-3,5],m7`` -> ``[n1, n2, n3, n5, m7]`` (Slurm's compact host lists)."""
    hosts: list[str] = []
    for match in re.finditer(r"([^,\[]+)(?:\[([^\]]*)\])?([^,\[]*)", text):
        prefix, ranges, suffix = match.groups()
        if not ranges:
            if prefix.strip():
                hosts.append(prefix.strip() + suffix)
            continue
        for part in ranges.split(","):
            lo, _, hi = part.partition("-")
            for i in range(int(lo), int(hi or lo) + 1):
                hosts.append(f"{prefix}{str(i).zfill(len(lo))}{suffix}")
    return hosts


def number(value: Any) -> int | None:
    """Slurm JSON numbers come bare or, from v0.0.40, as ``{set, infinite, number}``."""
    if isinstance(value, dict):
        if value.get("infinite") or not value.get("set", True):
            return None
        value = value.get("number")
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def job_state(value: Any) -> tuple[str, str, list[str]]:
    """``(shown, base, flags)`` from a ``job_state``: a string (22.05) or a list, base first."""
    if isinstance(value, list):
        names = [str(v) for v in value] or ["UNKNOWN"]
        base, flags = names[0], names[1:]
        shown = next((f for f in SHOWN_FLAGS if f in flags), base)
        return shown, base, flags
    text = str(value or "UNKNOWN")
    return text, text, []


def exit_status(value: Any) -> tuple[int | None, int | None]:
    """``(exit code, signal)`` from an ``exit_code``: a wait status (22.05) or an object
    ``{status, return_code, signal: {id, name}}``; None where Slurm has not set them."""
    if isinstance(value, dict) and ("status" in value or "return_code" in value):
        status = [str(s) for s in value.get("status") or []]
        if "PENDING" in status or (status == ["INVALID"]):
            return None, None
        signal_field = value.get("signal")
        signal = number(signal_field.get("id")) if isinstance(signal_field, dict) else None
        return number(value.get("return_code")), signal or None
    raw = number(value)
    if raw is None:
        return None, None
    return (raw >> 8) & 0xFF, (raw & 0x7F) or None


def parse_job(record: dict[str, Any]) -> SlurmJob:
    """A job from a job record of any supported release (``squeue --json`` or slurmrestd)."""
    shown, base, flags = job_state(record.get("job_state"))
    exit_code, signal = exit_status(record.get("exit_code"))
    nodes = record.get("nodes") or ""
    return SlurmJob(
        job_id=str(record["job_id"]),
        name=record.get("name", ""),
        state=shown,
        base_state=base,
        flags=flags,
        reason=record.get("state_reason") or "None",
        exit_code=exit_code,
        signal=signal,
        nodes=expand_hostlist(nodes) if isinstance(nodes, str) and nodes else [],
        node_count=number(record.get("node_count")) or 0,
        start_time=number(record.get("start_time")) or 0,
        end_time=number(record.get("end_time")) or 0,
        partition=record.get("partition", ""),
        comment=record.get("comment", ""),
    )

"""Slurm's records, parsed: jobs and partitions from ``squeue --json``/``sinfo --json`` or
slurmrestd (the same OpenAPI v0.0.38 shapes), and their mapping to :class:`TaskState`.

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
}

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
    state: str = Field(description="Slurm's job state, e.g. RUNNING, TIMEOUT.")
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
    words = REASONS.get(job.reason, job.reason)
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


def _number(value: Any) -> int | None:
    """Slurm JSON numbers come bare or, in newer versions, as {set, infinite, number}."""
    if isinstance(value, dict):
        if value.get("infinite") or not value.get("set", True):
            return None
        value = value.get("number")
    return int(value) if isinstance(value, int | float) else None


def parse_job(record: dict[str, Any]) -> SlurmJob:
    """A job from an OpenAPI v0.0.38 job record (``squeue --json`` or slurmrestd)."""
    raw_exit = _number(record.get("exit_code"))
    exit_code = signal = None
    if raw_exit is not None:
        exit_code, signal = (raw_exit >> 8) & 0xFF, raw_exit & 0x7F
    nodes = record.get("nodes") or ""
    return SlurmJob(
        job_id=str(record["job_id"]),
        name=record.get("name", ""),
        state=str(record.get("job_state", "UNKNOWN")),
        reason=record.get("state_reason") or "None",
        exit_code=exit_code,
        signal=signal or None,
        nodes=expand_hostlist(nodes) if nodes else [],
        node_count=_number(record.get("node_count")) or 0,
        start_time=_number(record.get("start_time")) or 0,
        end_time=_number(record.get("end_time")) or 0,
        partition=record.get("partition", ""),
        comment=record.get("comment", ""),
    )


class Partition(BaseModel):
    """A partition's limits, as admission checks them."""

    name: str
    default: bool = False
    total_nodes: int
    max_nodes: int | None = None
    max_time_s: int | None = None
    max_mem_per_node_mb: int | None = None
    state: str = "UP"


def _minutes(text: str) -> int | None:
    """Slurm's time formats in minutes, rounded up: ``M``, ``M:S``, ``H:M:S``, ``D-H``,
    ``D-H:M``, ``D-H:M:S``; ``UNLIMITED`` is None."""
    if text.upper() in ("UNLIMITED", "INFINITE", "NONE", ""):
        return None
    days_text, dash, rest = text.partition("-")
    if not dash:
        days_text, rest = "0", text
    parts = [int(p) for p in rest.split(":")]
    if dash:  # after a day count the fields are hours[:minutes[:seconds]]
        h, m, s = [*parts, 0, 0][:3]
    elif len(parts) == 3:
        h, m, s = parts
    else:  # minutes[:seconds]
        h, (m, s) = 0, [*parts, 0][:2]
    return (int(days_text) * 24 + h) * 60 + m + (1 if s else 0)


_UNLIMITED = 0xFFFFFFFE


def _limit(value: int | None) -> int | None:
    return value if value is not None and 0 < value < _UNLIMITED else None


def parse_partition(record: dict[str, Any]) -> Partition:
    """A partition from an OpenAPI v0.0.38 partition record (slurmrestd)."""
    max_time = _limit(_number(record.get("max_time_limit")))
    return Partition(
        name=record["name"],
        default="default" in [f.lower() for f in record.get("flags", [])],
        total_nodes=_number(record.get("total_nodes")) or 0,
        max_nodes=_limit(_number(record.get("maximum_nodes_per_job"))),
        max_time_s=max_time * 60 if max_time is not None else None,
        max_mem_per_node_mb=_limit(_number(record.get("maximum_memory_per_node"))),
        state=str(record.get("state", "UP")),
    )


def parse_scontrol_partition(line: str) -> Partition:
    """A partition from one line of ``scontrol show partition --oneliner``."""
    fields = dict(item.split("=", 1) for item in line.split() if "=" in item)

    def number(key: str) -> int | None:
        value = fields.get(key, "UNLIMITED")
        return int(value) if value.isdigit() else None

    max_time = _minutes(fields.get("MaxTime", "UNLIMITED"))
    return Partition(
        name=fields["PartitionName"],
        default=fields.get("Default") == "YES",
        total_nodes=number("TotalNodes") or 0,
        max_nodes=_limit(number("MaxNodes")),
        max_time_s=max_time * 60 if max_time is not None else None,
        max_mem_per_node_mb=_limit(number("MaxMemPerNode")),
        state=fields.get("State", "UP"),
    )

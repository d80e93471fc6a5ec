"""The broker's domain models: jobs, tasks, results, charges and lineage.

Input models forbid unknown fields, so a typo in a job file is an error that names the
field, never a silently ignored setting.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from backends.base import ClassicalSpec, QuantumBatch
from backends.states import TaskState
from broker.core import dependencies
from broker.limits import MAX_SEED

__all__ = [
    "AlgorithmSpec",
    "Charge",
    "ClassicalResources",
    "JobResult",
    "JobSpec",
    "JobStatus",
    "Lineage",
    "TaskRecord",
    "TaskRequest",
    "TaskState",
]


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _rfc3339(value: datetime) -> str:
    return value.replace(tzinfo=UTC).isoformat()


UTCDateTime = Annotated[
    datetime,
    AfterValidator(_naive_utc),
    PlainSerializer(_rfc3339, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]
"""A time in UTC: naive in Python (as the store keeps it), RFC 3339 with its zone in JSON."""


def _dependency(value: str) -> str:
    dependencies.parse(value)
    return value


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class AlgorithmSpec(_Input):
    """Which built-in algorithm to run, and its inputs (checked by the algorithm itself)."""

    name: str = Field(description="A built-in algorithm, e.g. 'vqe'.")
    inputs: dict[str, Any] = Field(
        default_factory=dict, description="The algorithm's inputs (see its table)."
    )


class ClassicalResources(_Input):
    """Resources for every classical task of a job (each field overrides the task's own)."""

    nodes: int | None = Field(default=None, ge=1, description="Nodes per classical task.")
    ntasks: int | None = Field(default=None, ge=1, description="Tasks (ranks) per classical task.")
    cpus_per_task: int | None = Field(default=None, ge=1, description="CPUs per task.")
    mem_mb: int | None = Field(default=None, ge=1, description="Memory per node, MB.")
    time_limit_s: int | None = Field(
        default=None, ge=1, description="Wall-time limit per classical task, s."
    )
    partition: str | None = Field(
        default=None, description="Slurm partition of the classical tasks."
    )


class JobSpec(_Input):
    """A hybrid job as submitted: the proposal it runs under and the program to run."""

    api_version: Literal["qcbroker/v1"] = Field(
        default="qcbroker/v1", alias="apiVersion", description="The job file format: qcbroker/v1."
    )
    kind: Literal["Job"] = Field(default="Job", description="Always Job.")
    name: str | None = Field(
        default=None, max_length=200, description="A name for qcb jobs and the console."
    )
    proposal: str = Field(min_length=1, description="The allocation award to charge.")
    algorithm: AlgorithmSpec = Field(description="The algorithm to run and its inputs.")
    backend: str = Field(default="aer", description="Quantum backend for the quantum tasks.")
    classical_backend: str = Field(default="local", description="Backend for classical tasks.")
    classical_resources: ClassicalResources = Field(
        default_factory=ClassicalResources,
        description="Nodes, tasks, CPUs, memory, time limit and partition of classical tasks.",
    )
    seed: int | None = Field(
        default=None, ge=0, le=MAX_SEED, description="Seeds simulators and optimizers."
    )
    qos: str | None = Field(
        default=None,
        max_length=50,
        description="Quality of service from the proposal's allowed levels; default its first.",
    )
    dependency: Annotated[str, AfterValidator(_dependency)] | None = Field(
        default=None,
        max_length=2000,
        description=(
            "Start only after other jobs of yours, as Slurm's --dependency: 'afterok:ID[:ID...]'"
            " (each completed), 'afternotok:ID' (each failed or was cancelled), 'afterany:ID'"
            " (each ended); several joined by ','. A job whose dependency can no longer be met"
            " is cancelled, its holds released."
        ),
        examples=["afterok:j-3f2a9c1d0b7e"],
    )

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=True)


class TaskRequest(_Input):
    """A task an algorithm asks for; ``key`` names it within its step."""

    key: str
    kind: Literal["quantum", "classical"]
    backend: str | None = Field(default=None, description="Default: the job's backend.")
    quantum: QuantumBatch | None = None
    classical: ClassicalSpec | None = None


class Charge(BaseModel):
    """One ledger line attributed to a task or a job."""

    backend: str
    unit: str
    amount: float
    kind: Literal["hold", "charge", "release"]
    task_id: str | None = None
    policy_revision: str


class TaskRecord(BaseModel):
    """A task as the lineage and ``qcb status`` show it."""

    id: str
    step: int
    key: str
    kind: str
    backend: str
    backend_version: str | None = None
    state: TaskState
    message: str = ""
    native_id: str | None = None
    attempts: int = 0
    seed: int | None = None
    circuits: list[str] = Field(default_factory=list, description="sha256 of each circuit.")
    created_at: UTCDateTime
    started_at: UTCDateTime | None = None
    finished_at: UTCDateTime | None = None
    run_seconds: float | None = None
    charged: dict[str, float] = Field(default_factory=dict, description="unit -> amount")
    packages: dict[str, str] = Field(
        default_factory=dict,
        description="Package versions in the worker that ran it (none: it never ran).",
    )


class Lineage(BaseModel):
    """Everything needed to know how a result came about, and to reproduce it."""

    job_id: str
    job_sha256: str = Field(description="sha256 of the job as submitted (canonical JSON).")
    inputs_sha256: str
    circuits: list[str] = Field(description="sha256 of every distinct circuit run.")
    observables: list[str] = Field(default_factory=list)
    backend: str
    backend_version: str | None
    seed: int | None
    policy_revision: str
    packages: dict[str, str] = Field(
        description="Package versions in the worker that ran the job's last task that ran "
        "(each task's own are in ``tasks``); none when no task ran."
    )
    tasks: list[TaskRecord]


class JobStatus(BaseModel):
    """Where a job stands, with its algorithm's latest progress."""

    id: str
    name: str | None
    proposal: str
    user: str
    algorithm: str
    backend: str
    state: TaskState
    step: int
    progress: dict[str, Any] = Field(default_factory=dict)
    message: str = ""
    created_at: UTCDateTime
    finished_at: UTCDateTime | None = None
    tasks: dict[str, int] = Field(default_factory=dict, description="Task count per state.")
    held_by: str | None = Field(
        default=None, description="Who holds the job (qcb hold): its pending tasks wait."
    )
    waits_for: list[str] = Field(
        default_factory=list,
        description="Its dependencies not yet met (afterok:ID ...): its pending tasks wait.",
    )


class TaskLog(BaseModel):
    """What a task printed (``qcb logs``): a classical task's exit code, stdout and stderr
    once it has ended; its state and message always."""

    task_id: str
    job_id: str
    key: str
    kind: str
    backend: str
    state: TaskState
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""
    message: str = ""


class JobResult(BaseModel):
    """A finished job: its result, what it was charged and its lineage."""

    id: str
    state: TaskState
    result: dict[str, Any] | None
    message: str = ""
    charges: list[Charge]
    lineage: Lineage

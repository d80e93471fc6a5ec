"""Slurm's accounting records (slurmdbd), parsed: what a job used, as the facility bills it.

From ``sacct --json`` or slurmrestd's ``/slurmdb/VERSION/job/ID``: the job's final state,
elapsed time, allocated nodes and TRES ``billing``. These outlive the controller's memory of
a job (``MinJobAge``), so a job Slurm has forgotten is still charged, once, from the same
numbers the facility reconciles against. Shapes: dbv0.0.38 (22.05: ``state.current`` a
string, ``exit_code.return_code`` a number) and v0.0.40 on (lists and number objects).

Everything here is pure: data in, data out.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from backends.slurm.records import SHOWN_FLAGS, SlurmJob, expand_hostlist, number


class AccountedJob(BaseModel):
    """One job as slurmdbd recorded it."""

    job_id: str
    name: str = ""
    state: str = Field(description="The state as Slurm's tools show it, e.g. COMPLETED.")
    reason: str = "None"
    exit_code: int | None = None
    signal: int | None = None
    elapsed_s: int = 0
    submit_time: int = 0
    start_time: int = 0
    end_time: int = 0
    nodes: list[str] = Field(default_factory=list)
    node_count: int = 0
    billing: float = Field(default=0.0, description="TRES billing units allocated.")
    workdir: str = Field(default="", description="The job's working directory.")

    @property
    def node_hours(self) -> float:
        """Elapsed time x allocated nodes, as slurmdbd recorded them."""
        return self.elapsed_s * max(self.node_count, len(self.nodes)) / 3600

    @property
    def billing_hours(self) -> float:
        """TRES billing x elapsed hours (Slurm's ``billing`` TRES, e.g. for fair share)."""
        return self.billing * self.elapsed_s / 3600

    @property
    def ended(self) -> bool:
        """Whether slurmdbd has the job's end."""
        return bool(self.end_time)

    def as_job(self) -> SlurmJob:
        """The record in the controller's terms, for the state mapping."""
        return SlurmJob(
            job_id=self.job_id,
            name=self.name,
            state=self.state,
            base_state=self.state,
            reason=self.reason,
            exit_code=self.exit_code,
            signal=self.signal,
            nodes=self.nodes,
            node_count=self.node_count,
            start_time=self.start_time,
            end_time=self.end_time,
        )


def _state(value: Any) -> tuple[str, str]:
    """``(shown state, reason)`` from an accounting ``state`` object."""
    if not isinstance(value, dict):
        return str(value or "UNKNOWN"), "None"
    current = value.get("current")
    if isinstance(current, list):
        names = [str(c) for c in current] or ["UNKNOWN"]
        shown = next((f for f in SHOWN_FLAGS if f in names[1:]), names[0])
    else:
        shown = str(current or "UNKNOWN")
    return shown, str(value.get("reason") or "None")


def _exit(value: Any) -> tuple[int | None, int | None]:
    if not isinstance(value, dict):
        raw = number(value)
        return (None, None) if raw is None else ((raw >> 8) & 0xFF, (raw & 0x7F) or None)
    status = value.get("status")
    statuses = [str(s) for s in status] if isinstance(status, list) else [str(status or "")]
    if "PENDING" in statuses:
        return None, None
    signal = value.get("signal")
    signal_id = None
    if isinstance(signal, dict):
        signal_id = number(signal.get("id", signal.get("signal_id")))
    return number(value.get("return_code")), signal_id or None


def _allocated(tres: Any, kind: str) -> float:
    allocated = tres.get("allocated") if isinstance(tres, dict) else None
    for item in allocated or []:
        if isinstance(item, dict) and item.get("type") == kind:
            return float(number(item.get("count")) or 0)
    return 0.0


def parse_accounted(record: dict[str, Any]) -> AccountedJob:
    """A job from one accounting record (``sacct --json`` or ``/slurmdb/.../job/ID``)."""
    state, reason = _state(record.get("state"))
    exit_code, signal = _exit(record.get("exit_code"))
    raw_times = record.get("time")
    times: dict[str, Any] = raw_times if isinstance(raw_times, dict) else {}
    nodes = record.get("nodes")
    node_list = (
        expand_hostlist(nodes)
        if isinstance(nodes, str) and nodes not in ("", "None assigned")
        else []
    )
    return AccountedJob(
        job_id=str(record["job_id"]),
        name=str(record.get("name") or ""),
        state=state,
        reason=reason,
        exit_code=exit_code,
        signal=signal,
        elapsed_s=number(times.get("elapsed")) or 0,
        submit_time=number(times.get("submission")) or 0,
        start_time=number(times.get("start")) or 0,
        end_time=number(times.get("end")) or 0,
        nodes=node_list,
        node_count=number(record.get("allocation_nodes"))
        or int(_allocated(record.get("tres"), "node")),
        billing=_allocated(record.get("tres"), "billing"),
        workdir=str(record.get("working_directory") or ""),
    )


def parse_accounting(data: dict[str, Any]) -> dict[str, AccountedJob]:
    """Every job of a ``sacct --json`` (or slurmdb) answer, by id; where an id appears more
    than once (a requeued job's runs; a controller that lost its state numbered jobs
    afresh) the one submitted last counts."""
    jobs: dict[str, AccountedJob] = {}
    for record in data.get("jobs", []):
        if isinstance(record, dict) and "job_id" in record:
            job = parse_accounted(record)
            earlier = jobs.get(job.job_id)
            if earlier is None or job.submit_time >= earlier.submit_time:
                jobs[job.job_id] = job
    return jobs

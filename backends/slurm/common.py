"""What the ``slurm`` and ``slurmrest`` backends share: a template over a few native calls.

A subclass says how to submit a prepared task directory, read job records, cancel, and list
partitions; this class does the rest the same way for both: refusing tasks that break a
partition limit, writing the task directory, mapping Slurm's record to a state, reading
the outcome, and charging node-hours from Slurm's record.

The native id is ``JOBID@DIR``: the Slurm job id and the task directory on the shared file
system, so a restarted worker finds both.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from abc import abstractmethod
from pathlib import Path
from typing import Any

from backends.base import (
    BackendStatus,
    Capabilities,
    ClassicalBackend,
    ClassicalResult,
    ClassicalSpec,
)
from backends.errors import BackendError, NativeJobLost
from backends.local_runner import failed_message
from backends.slurm import requests
from backends.slurm.records import Partition, SlurmJob, expand_hostlist, task_state
from backends.states import TaskState

DEFAULT_WORKDIR = "/tmp/qcb-slurm/jobs"


class SlurmBackendBase(ClassicalBackend):
    """Classical tasks as Slurm batch jobs.

    Options shared by the Slurm backends:

    - ``workdir``: where task directories go, on a file system that the cluster's nodes and
      the broker both see (default ``/tmp/qcb-slurm/jobs``).
    - ``python``: the Python on the cluster that has qcbroker installed (default: this one).
    - ``account``: a fixed Slurm account; by default the task's own (the job's proposal).
    - ``max_concurrency``: tasks the broker keeps on the cluster at once (default 32).
    - ``poll_seconds``: interval between status calls (default 0.25).
    """

    cache_seconds = 0.2
    charge_unit = "node_hours"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.root = Path(options.get("workdir") or DEFAULT_WORKDIR)
        if "%" in str(self.root):  # Slurm would expand it in --output (%j, %u, ...)
            raise BackendError(
                f"the {self.name} backend's workdir may not contain '%': {self.root}"
            )
        self.python = str(options.get("python") or sys.executable)
        self._partitions: tuple[float, list[Partition]] | None = None

    # --- what a subclass provides ------------------------------------------------------

    @abstractmethod
    def _submit_job(self, spec: ClassicalSpec, workdir: str, *, time_cap_s: int | None) -> str:
        """Submit the batch script in ``workdir``; return the Slurm job id."""

    @abstractmethod
    def _job(self, job_id: str) -> SlurmJob | None:
        """Slurm's record of a job, or None if the controller no longer knows it."""

    @abstractmethod
    def _cancel_job(self, job_id: str) -> None:
        """Ask Slurm to cancel a job (not an error if it has ended)."""

    @abstractmethod
    def _read_partitions(self) -> list[Partition]:
        """The cluster's partitions and their limits."""

    @abstractmethod
    def _version(self) -> str:
        """Slurm's version, e.g. ``slurm 22.05.8``."""

    # --- the template --------------------------------------------------------------------

    def partitions(self) -> list[Partition]:
        """Partitions, re-read at most once a minute."""
        now = time.monotonic()
        if self._partitions is None or now - self._partitions[0] > 60:
            self._partitions = (now, self._read_partitions())
        return self._partitions[1]

    def capabilities(self) -> Capabilities:
        """Slurm's version, the partitions' limits, and how many tasks to keep on the cluster."""
        return Capabilities(
            kind="classical",
            version=self._version(),
            max_concurrency=int(self.options.get("max_concurrency") or 32),
            poll_seconds=float(self.options.get("poll_seconds") or 0.25),
            details={"partitions": [p.model_dump() for p in self.partitions()]},
        )

    def refusal(self, spec: ClassicalSpec) -> str | None:
        """A limit of the task's partition that the task breaks, or None."""
        return requests.limit_broken(spec, self.partitions())

    def prepare(self, spec: ClassicalSpec, task_id: str) -> Path:
        """A new task directory holding the spec and the batch script."""
        if not spec.argv and not spec.entrypoint:
            raise BackendError("a classical task needs either argv or entrypoint")
        workdir = self.root / f"{task_id}-{uuid.uuid4().hex[:8]}"
        try:
            workdir.mkdir(parents=True, mode=0o700)  # spec.json may hold a token
            (workdir / "spec.json").write_text(spec.model_dump_json())
            launcher = requests.launcher(spec)
            if launcher:
                (workdir / "launcher.json").write_text(json.dumps(launcher))
            script = workdir / requests.SCRIPT_NAME
            script.write_text(requests.batch_script(self.python, str(workdir)))
            script.chmod(0o755)
        except OSError as exc:
            raise BackendError(
                f"could not write the task directory {workdir}: {exc}",
                hint="check the backend's workdir option: the cluster must see it too",
            ) from exc
        return workdir

    def account(self, spec: ClassicalSpec) -> str | None:
        """The Slurm account to charge: the configured one, else the task's."""
        return self.options.get("account") or spec.account

    def submit(self, spec: ClassicalSpec, *, task_id: str) -> str:
        """Refuse a task that breaks a partition limit; otherwise write it and submit it."""
        broken = self.refusal(spec)
        if broken:
            raise BackendError(
                f"refused: the task {broken}",
                hint="ask for less, or name a partition that allows it",
            )
        workdir = self.prepare(spec, task_id)
        part = requests.partition_for(spec, self.partitions())
        job_id = self._submit_job(spec, str(workdir), time_cap_s=part.max_time_s if part else None)
        (workdir / "job_id").write_text(job_id)
        return f"{job_id}@{workdir}"

    def comment(self, spec: ClassicalSpec, workdir: str) -> str:
        """The job's comment: who it is for, so a Slurm administrator can trace it."""
        return f"qcbroker task {Path(workdir).name} account {spec.account or '-'}"

    def status(self, native_id: str) -> BackendStatus:
        """Slurm's state, refined by the runner's record (a runner-enforced time limit is a
        TIMEOUT, not a failure); the runner's record alone once Slurm has forgotten the job."""
        job_id, workdir = _split(native_id)
        job = self._job(job_id)
        runner = _runner_record(workdir)
        if job is None:
            if runner is None:
                raise NativeJobLost(native_id, "Slurm no longer knows it and it left no record")
            state = TaskState(runner["state"])
            return BackendStatus(state=state, message=_runner_message(runner), native_state=None)
        state, message = task_state(job)
        if state.final and runner is not None and runner["state"] == TaskState.TIMEOUT:
            state, message = TaskState.TIMEOUT, _runner_message(runner)
        return BackendStatus(state=state, message=message, native_state=job.state)

    def cancel(self, native_id: str) -> None:
        """Cancel the Slurm job and wait (up to 15 s) until Slurm reports it ended."""
        job_id, _ = _split(native_id)
        self._cancel_job(job_id)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            job = self._job(job_id)
            if job is None or task_state(job)[0].final:  # COMPLETING counts as running
                return
            time.sleep(0.1)

    def result(self, native_id: str) -> ClassicalResult:
        """Output from the task directory; exit code, nodes and node-hours from Slurm."""
        job_id, workdir = _split(native_id)
        job = self._job(job_id)
        runner = _runner_record(workdir) or {}
        stderr = _read(workdir / "stderr")
        if not runner:  # the runner never ran or died: Slurm's own output says why
            stderr += _read(workdir / requests.SLURM_OUT)
        output_file = workdir / "output.json"
        if job is not None:
            nodes, elapsed = job.nodes, job.elapsed_s
            exit_code = runner.get("exit_code", job.exit_code)
            node_hours = job.node_hours
        else:
            nodes = expand_hostlist(runner.get("slurm_job_nodelist", ""))
            elapsed = runner.get("elapsed_s")
            exit_code = runner.get("exit_code")
            node_hours = (elapsed or 0.0) * len(nodes) / 3600
        return ClassicalResult(
            exit_code=exit_code,
            stdout=_read(workdir / "stdout"),
            stderr=stderr,
            output=json.loads(output_file.read_text()) if output_file.exists() else None,
            nodes=nodes,
            elapsed_s=elapsed,
            usage={"node_hours": node_hours} if elapsed is not None else {},
        )


def _split(native_id: str) -> tuple[str, Path]:
    job_id, sep, workdir = native_id.partition("@")
    if not sep or not job_id.isdigit():
        raise NativeJobLost(native_id, "not a Slurm task id (JOBID@DIR)")
    return job_id, Path(workdir)


def _runner_record(workdir: Path) -> dict[str, Any] | None:
    try:
        record: dict[str, Any] = json.loads((workdir / "state.json").read_text())
    except (OSError, ValueError):
        return None
    return record


def _runner_message(record: dict[str, Any]) -> str:
    state = record.get("state")
    if state == TaskState.TIMEOUT:
        return f"killed at its time limit after {record.get('elapsed_s', 0):.0f} s"
    if state == TaskState.FAILED:
        return failed_message(record)
    return ""


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def cluster_env(options: dict[str, Any]) -> dict[str, str]:
    """The environment for Slurm's tools: ours, with ``SLURM_CONF`` from the options."""
    env = dict(os.environ)
    if options.get("slurm_conf"):
        env["SLURM_CONF"] = str(options["slurm_conf"])
    return env

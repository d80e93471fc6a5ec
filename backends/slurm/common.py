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
import time
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from backends.base import (
    BackendStatus,
    Capabilities,
    ClassicalBackend,
    ClassicalResult,
    ClassicalSpec,
)
from backends.errors import BackendError, NativeJobLost
from backends.identity import (
    TaskAccount,
    account_for,
    configured_environment,
    task_environment,
    task_variables,
)
from backends.local_runner import SERVICE_ENTRYPOINTS, failed_message
from backends.options import BackendOptions
from backends.slurm import requests
from backends.slurm.accounting import AccountedJob
from backends.slurm.options import DEFAULT_WORKDIR, SlurmOptions
from backends.slurm.partitions import Partition
from backends.slurm.records import SlurmJob, expand_hostlist, task_state
from backends.states import TaskState
from backends.taskdir import make_task_dir
from backends.taskfiles import WORK, collect_output, read_tail, runner_record

__all__ = ["DEFAULT_WORKDIR", "PreparedJob", "SlurmBackendBase", "cluster_env"]


@dataclass(frozen=True)
class PreparedJob:
    """A task ready for Slurm: its spec, its directory (written), its whole environment,
    the account that submits it (None: the broker) and the partition's time cap."""

    spec: ClassicalSpec
    workdir: str
    env: dict[str, str]
    account: TaskAccount | None
    time_cap_s: int | None


class SlurmBackendBase(ClassicalBackend):
    """Classical tasks as Slurm batch jobs, with the options of
    :class:`~backends.slurm.options.SlurmOptions` (and a subclass's own): a task starts from
    the ``environment`` option's variables, the basics and its job's own, never from the
    broker's."""

    cache_seconds = 0.2
    charge_unit = "node_hours"
    Options: ClassVar[type[SlurmOptions]] = SlurmOptions
    config: SlurmOptions

    def __init__(self, config: BackendOptions | None = None, /, **options: Any) -> None:
        super().__init__(config, **options)
        self.root = Path(self.config.workdir)
        self.python = self.config.python
        self.environment = configured_environment(self.name, self.config.environment)
        self._partitions: tuple[float, list[Partition]] | None = None

    # --- what a subclass provides ------------------------------------------------------

    @abstractmethod
    def _submit_job(self, job: PreparedJob) -> str:
        """Submit ``job``'s batch script as its account (None: as the broker) with exactly
        its environment; return the Slurm job id."""

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

    def _accounted(self, job_id: str) -> AccountedJob | None:
        """slurmdbd's record of a job, or None (no accounting, or not recorded yet)."""
        return None

    def accounted(self, job_id: str, workdir: Path | None = None) -> AccountedJob | None:
        """slurmdbd's record of a job once it has its end; None without accounting (a
        cluster without slurmdbd) or when it cannot be read now: the controller's view
        is the fallback. With ``workdir``, only a record of a job that ran there: a
        controller that lost its state numbers jobs afresh, and slurmdbd still holds the
        earlier jobs of the same numbers."""
        try:
            record = self._accounted(job_id)
        except BackendError:
            return None
        if record is None or not record.ended:
            return None
        if workdir is not None and record.workdir and record.workdir != str(workdir):
            return None
        return record

    # --- the template --------------------------------------------------------------------

    def partitions(self) -> list[Partition]:
        """Partitions, re-read at most once a minute."""
        now = time.monotonic()
        if self._partitions is None or now - self._partitions[0] > 60:
            self._partitions = (now, self._read_partitions())
        return self._partitions[1]

    def capabilities(self) -> Capabilities:
        """Slurm's version, the partitions' limits, and how many tasks to keep on the cluster."""
        partitions = self.partitions()
        return Capabilities(
            kind="classical",
            version=self._version(),
            max_concurrency=self.config.max_concurrency,
            poll_seconds=self.config.poll_seconds,
            size=_nodes(partitions),
            details={"partitions": [p.model_dump() for p in partitions]},
        )

    def refusal(self, spec: ClassicalSpec) -> str | None:
        """A limit of the task's partition that the task breaks, or None."""
        return requests.limit_broken(spec, self.partitions())

    def prepare(self, spec: ClassicalSpec, task_id: str, account: TaskAccount | None) -> Path:
        """A new task directory holding the spec and the batch script, owned by the task's
        account (the job runs as that account from its first instruction)."""
        if not spec.argv and not spec.entrypoint:
            raise BackendError("a classical task needs either argv or entrypoint")
        launcher = requests.launcher(spec)
        extra = {"launcher.json": json.dumps(launcher)} if launcher else {}
        return make_task_dir(
            self.root,
            task_id,
            spec,
            account,
            task_owned=True,
            files=lambda workdir: {**self._script(workdir), **extra},
            executables=frozenset({requests.SCRIPT_NAME}),
        )

    def _script(self, workdir: Path) -> dict[str, str]:
        return {requests.SCRIPT_NAME: requests.batch_script(self.python, str(workdir))}

    def account(self, spec: ClassicalSpec) -> str | None:
        """The Slurm account to charge: the configured one, else the task's."""
        return self.config.account or spec.account

    def submit(self, spec: ClassicalSpec, *, task_id: str) -> str:
        """Refuse a task that breaks a partition limit; otherwise write it and submit it as
        its account, with its clean environment."""
        broken = self.refusal(spec)
        if broken:
            raise BackendError(
                f"refused: the task {broken}",
                hint="ask for less, or name a partition that allows it",
            )
        account = account_for(spec.run_as)
        workdir = self.prepare(spec, task_id, account)
        env = task_environment(
            account=account,
            workdir=workdir / WORK,
            task_vars=task_variables(task_id, workdir / WORK),
            configured=self.environment,
            declared=spec.env,
            secrets=spec.secret_env,
        )
        return self._submit_prepared(spec, workdir, env, account)

    def submit_service(self, spec: ClassicalSpec, *, task_id: str, env: dict[str, str]) -> str:
        """Submit one of the broker's own programs (a pilot job) as the broker itself, with
        ``env`` (the broker's settings) as its whole environment."""
        if spec.entrypoint not in SERVICE_ENTRYPOINTS or spec.argv is not None:
            raise BackendError(f"{spec.entrypoint!r} is not one of the broker's own programs")
        workdir = make_task_dir(
            self.root,
            task_id,
            spec,
            None,
            task_owned=True,
            files=self._script,
            executables=frozenset({requests.SCRIPT_NAME}),
        )
        base = task_environment(account=None, workdir=workdir / WORK, task_vars={})
        return self._submit_prepared(spec, workdir, {**base, **env}, None)

    def _submit_prepared(
        self,
        spec: ClassicalSpec,
        workdir: Path,
        env: dict[str, str],
        account: TaskAccount | None,
    ) -> str:
        part = requests.partition_for(spec, self.partitions())
        cap = part.max_time_s if part else None
        job_id = self._submit_job(PreparedJob(spec, str(workdir), env, account, cap))
        return f"{job_id}@{workdir}"

    def comment(self, spec: ClassicalSpec, workdir: str) -> str:
        """The job's comment: who it is for, so a Slurm administrator can trace it."""
        return f"qcbroker task {Path(workdir).name} account {spec.account or '-'}"

    def status(self, native_id: str) -> BackendStatus:
        """Slurm's state, refined by the runner's record (a runner-enforced time limit is a
        TIMEOUT, not a failure); the runner's record alone once Slurm has forgotten the job."""
        job_id, workdir = _split(native_id)
        job = self._job(job_id)
        runner = runner_record(workdir)
        if job is None:  # the controller has forgotten it: slurmdbd, then the runner's record
            accounted = self.accounted(job_id, workdir)
            if accounted is not None:
                job = accounted.as_job()
            elif runner is None:
                raise NativeJobLost(native_id, "Slurm no longer knows it and it left no record")
            else:
                state = TaskState(runner["state"])
                message = _runner_message(runner)
                return BackendStatus(state=state, message=message, native_state=None)
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
        """Output from the task directory; exit code, nodes and node-hours from Slurm's
        accounting (slurmdbd) when it has the job, else from the controller's record."""
        job_id, workdir = _split(native_id)
        accounted = self.accounted(job_id, workdir)
        job = accounted.as_job() if accounted is not None else self._job(job_id)
        runner = runner_record(workdir) or {}
        stderr = read_tail(workdir / "stderr")
        if not runner:  # the runner never ran or died: Slurm's own output says why
            stderr += read_tail(workdir / requests.SLURM_OUT)
        output, note = collect_output(workdir)
        elapsed: float | None
        if accounted is not None:
            nodes, elapsed = accounted.nodes, float(accounted.elapsed_s)
            exit_code = runner.get("exit_code", accounted.exit_code)
            node_hours = accounted.node_hours
        elif job is not None:
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
            stdout=read_tail(workdir / "stdout"),
            stderr=stderr + note,
            output=output,
            nodes=nodes,
            elapsed_s=elapsed,
            usage={"node_hours": node_hours} if elapsed is not None else {},
        )


def _split(native_id: str) -> tuple[str, Path]:
    job_id, sep, workdir = native_id.partition("@")
    if not sep or not job_id.isdigit():
        raise NativeJobLost(native_id, "not a Slurm task id (JOBID@DIR)")
    return job_id, Path(workdir)


def _runner_message(record: dict[str, Any]) -> str:
    state = record.get("state")
    if state == TaskState.TIMEOUT:
        return f"killed at its time limit after {record.get('elapsed_s', 0):.0f} s"
    if state == TaskState.FAILED:
        return failed_message(record)
    return ""


def cluster_env(slurm_conf: str | None) -> dict[str, str]:
    """The environment for Slurm's tools: ours, with ``SLURM_CONF`` when one is given."""
    env = dict(os.environ)
    if slurm_conf:
        env["SLURM_CONF"] = slurm_conf
    return env


def _nodes(partitions: list[Partition]) -> float | None:
    """The nodes of the default partition (else the first), where a task that names none
    goes: the machine that Slurm's job size factor counts."""
    chosen = [p for p in partitions if p.default] or partitions[:1]
    return float(chosen[0].total_nodes) if chosen and chosen[0].total_nodes > 0 else None

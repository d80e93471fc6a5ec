"""What the broker sends to Slurm for one task, built by pure functions.

A task never reaches a shell: its spec goes into ``DIR/spec.json`` and the batch script only
runs the task runner on that directory, with every path quoted. Job names, comments and
accounts are passed as separate ``sbatch`` arguments (CLI) or JSON fields (REST), never
spliced into a command line.
"""

from __future__ import annotations

import math
import shlex
from typing import Any

from backends.base import ClassicalSpec
from backends.slurm.partitions import Partition

SCRIPT_NAME = "job.sh"
SLURM_OUT = "slurm.out"


def batch_script(python: str, workdir: str) -> str:
    """The batch script: start the task runner on ``workdir``."""
    args = [python, "-m", "backends.local_runner", workdir]
    return (
        "#!/bin/bash\n"
        "# Written by qcbroker. The task itself is in spec.json next to this file.\n"
        f"exec {shlex.join(args)}\n"
    )


def launcher(spec: ClassicalSpec, *, explicit: bool = False) -> list[str]:
    """The ``srun`` prefix that starts a command on every task slot of a parallel task
    (``explicit`` spells out the sizes, for a step inside a bigger allocation: a pilot)."""
    if spec.argv is None or (spec.nodes == 1 and spec.ntasks == 1):
        return []
    prefix = ["srun"]
    if explicit:
        prefix += [
            f"--nodes={spec.nodes}",
            f"--ntasks={spec.ntasks}",
            f"--cpus-per-task={spec.cpus_per_task}",
            "--overlap",
        ]
    return prefix


def time_limit_minutes(
    spec: ClassicalSpec, cap_s: int | None = None, grace_s: int = 60
) -> int | None:
    """Slurm counts whole minutes; the runner enforces the exact limit in seconds, and Slurm's
    limit (a little later, within the partition's ``cap_s``) is the backstop that also catches
    a runner that hangs."""
    if spec.time_limit_s is None:
        return None
    minutes = max(1, math.ceil((spec.time_limit_s + grace_s) / 60))
    return max(1, min(minutes, cap_s // 60)) if cap_s else minutes


def sbatch_argv(
    spec: ClassicalSpec,
    workdir: str,
    *,
    comment: str,
    account: str | None,
    time_cap_s: int | None = None,
) -> list[str]:
    """The ``sbatch`` command line for ``spec`` (an argv list, for ``subprocess`` without a
    shell). The job gets ``sbatch``'s whole environment (``--export=ALL``), which the caller
    prepares to hold the task's variables alone. A list of names or ``NONE`` would make
    slurmd load the account's login environment (``su -``), which Slurm 26.05 refuses to do
    without for an account with no login shell: it cancels the job."""
    argv = [
        "sbatch",
        "--parsable",
        f"--job-name={spec.name}",
        f"--chdir={workdir}",
        f"--output={workdir}/{SLURM_OUT}",
        f"--nodes={spec.nodes}",
        f"--ntasks={spec.ntasks}",
        f"--cpus-per-task={spec.cpus_per_task}",
        f"--comment={comment}",
        "--no-requeue",
        "--export=ALL",
    ]
    if spec.mem_mb is not None:
        argv.append(f"--mem={spec.mem_mb}")
    minutes = time_limit_minutes(spec, time_cap_s)
    if minutes is not None:
        argv.append(f"--time={minutes}")
    if spec.partition:
        argv.append(f"--partition={spec.partition}")
    if account:
        argv.append(f"--account={account}")
    argv.append(f"{workdir}/{SCRIPT_NAME}")
    return argv


def rest_job(
    spec: ClassicalSpec,
    workdir: str,
    *,
    comment: str,
    account: str | None,
    environment: dict[str, str],
    time_cap_s: int | None = None,
    api_version: str = "v0.0.38",
) -> dict[str, Any]:
    """The ``job`` object of a slurmrestd ``/job/submit`` request (v0.0.38: the environment
    as an object; from v0.0.40: as a list of ``NAME=value``)."""
    job: dict[str, Any] = {
        "name": spec.name,
        "current_working_directory": workdir,
        "standard_output": f"{workdir}/{SLURM_OUT}",
        "nodes": f"{spec.nodes}-{spec.nodes}",  # a string: 22.05 ignores the array form
        "tasks": spec.ntasks,
        "cpus_per_task": spec.cpus_per_task,
        "comment": comment,
        "requeue": False,
        "environment": environment
        if api_version == "v0.0.38"
        else [f"{name}={value}" for name, value in environment.items()],
    }
    if spec.mem_mb is not None:
        job["memory_per_node"] = spec.mem_mb
    minutes = time_limit_minutes(spec, time_cap_s)
    if minutes is not None:
        job["time_limit"] = minutes
    if spec.partition:
        job["partition"] = spec.partition
    if account:
        job["account"] = account
    return job


def partition_for(spec: ClassicalSpec, partitions: list[Partition]) -> Partition | None:
    """The partition a task would run in: the one it names, or the default."""
    for part in partitions:
        if (spec.partition and part.name == spec.partition) or (
            not spec.partition and part.default
        ):
            return part
    return None


def limit_broken(spec: ClassicalSpec, partitions: list[Partition]) -> str | None:
    """Why ``spec`` can never run in its partition, naming the limit; None if it fits.

    Checked at submission so that a task that cannot run is refused at once instead of
    pending for ever.
    """
    if not partitions:
        return None
    part = partition_for(spec, partitions)
    if part is None:
        names = ", ".join(p.name for p in partitions)
        if spec.partition:
            return f"partition {spec.partition!r} does not exist; partitions: {names}"
        if any(p.default is None for p in partitions):
            # Which one is the default is unknown (slurmrestd v0.0.40 to v0.0.44): a task
            # that no partition would take can never run in the default either.
            reasons = [broken_in(spec, p) for p in partitions]
            if all(reasons):
                more = f"; and {len(reasons) - 2} more" if len(reasons) > 2 else ""
                return "fits no partition: " + "; ".join(map(str, reasons[:2])) + more
            return None
        return f"no partition given and the cluster has no default; partitions: {names}"
    return broken_in(spec, part)


def broken_in(spec: ClassicalSpec, part: Partition) -> str | None:
    """Why ``spec`` can never run in ``part``, naming the limit; None if it fits."""
    where = f"partition {part.name!r}"
    if part.max_nodes is not None and spec.nodes > part.max_nodes:
        return f"asks for {spec.nodes} nodes; {where} allows at most {part.max_nodes} (MaxNodes)"
    if part.total_nodes and spec.nodes > part.total_nodes:
        return f"asks for {spec.nodes} nodes; {where} has {part.total_nodes} (TotalNodes)"
    max_time, max_mem = part.max_time_s, part.max_mem_per_node_mb
    if max_time is not None and spec.time_limit_s is not None and spec.time_limit_s > max_time:
        return (
            f"asks for a time limit of {spec.time_limit_s} s; {where} allows at most "
            f"{max_time} s (MaxTime {max_time // 60} min)"
        )
    if max_mem is not None and spec.mem_mb is not None and spec.mem_mb > max_mem:
        return (
            f"asks for {spec.mem_mb} MB of memory per node; {where} allows at most "
            f"{max_mem} MB (MaxMemPerNode)"
        )
    if part.state.upper() not in ("UP",):
        return f"{where} is {part.state}"
    return None

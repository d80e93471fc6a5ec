"""``slurm``: classical tasks as Slurm jobs, through Slurm's command-line tools.

``sbatch --parsable`` submits, ``squeue --json --states=all`` reads job records, ended ones
included (one call serves every task the worker follows, cached for a fraction of a second;
22.05 ignores the filter and lists every job it remembers anyway), ``scancel`` cancels, and
``scontrol show partition`` gives the limits checked before submission. Tools run without a
shell, with a timeout; with the ``chroot`` option, inside that directory tree (a cluster of
another release than the host's, whose client tools must match its controller).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from typing import Any, ClassVar

from backends.errors import BackendError
from backends.identity import TaskAccount
from backends.options import BackendOptions
from backends.slurm import requests
from backends.slurm.accounting import AccountedJob, parse_accounting
from backends.slurm.common import PreparedJob, SlurmBackendBase, cluster_env
from backends.slurm.options import SlurmCliOptions
from backends.slurm.partitions import Partition, parse_scontrol_partition
from backends.slurm.records import SlurmJob, parse_job

# Phrases in Slurm's errors that mean "the controller is not reachable now": worth a retry.
_TRANSIENT = (
    "Unable to contact slurm controller",
    "Socket timed out",
    "Zero Bytes were transmitted",
    "Connection refused",
    "Communication connection failure",
)


class SlurmBackend(SlurmBackendBase):
    """The ``slurm`` backend: for a cluster whose command-line tools the broker can run, with
    the options of :class:`~backends.slurm.options.SlurmCliOptions`."""

    name = "slurm"
    Options: ClassVar[type[SlurmCliOptions]] = SlurmCliOptions
    config: SlurmCliOptions

    def __init__(self, config: BackendOptions | None = None, /, **options: Any) -> None:
        super().__init__(config, **options)
        self._env = cluster_env(self.config.slurm_conf)
        self._snapshot: tuple[float, dict[str, SlurmJob]] | None = None
        self._has_accounting: bool | None = None

    def run_tool(
        self,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        account: TaskAccount | None = None,
    ) -> str:
        """Run a Slurm tool (as ``account``, with ``env``: default the broker and its own
        environment); its stdout, or a :class:`BackendError` quoting its stderr."""
        as_account: dict[str, Any] = {}
        root = self.config.chroot
        if root:
            argv = chroot_argv(root, argv, account)
            as_account = {"umask": 0o077} if account is not None else {}
            if env is not None:  # chroot runs as root before it drops to the account
                env = root_safe(env)
        elif account is not None:
            as_account = {
                "user": account.uid,
                "group": account.gid,
                "extra_groups": list(account.groups),
                "umask": 0o077,
            }
        try:
            proc: subprocess.CompletedProcess[str] = subprocess.run(
                argv,
                env=self._env if env is None else env,
                capture_output=True,
                text=True,
                timeout=self.config.tool_timeout,
                check=False,
                cwd="/",
                **as_account,
            )
        except FileNotFoundError as exc:
            raise BackendError(
                f"{argv[0]} is not installed here",
                hint="install Slurm's client tools (Debian: slurm-client), or use slurmrest",
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise BackendError(f"{argv[0]} did not answer in time", transient=True) from exc
        if proc.returncode != 0:
            err = proc.stderr.strip() or proc.stdout.strip()
            transient = any(phrase in err for phrase in _TRANSIENT)
            raise BackendError(f"{argv[0]} failed: {err}", transient=transient)
        return proc.stdout

    def _submit_job(self, job: PreparedJob) -> str:
        """``sbatch`` run as the task's account, from the task's environment alone (and
        ``SLURM_CONF``), handed to the job whole: nothing of the broker's reaches the job, and
        no value (a driver's token) appears on a command line that others could read."""
        argv = requests.sbatch_argv(
            job.spec,
            job.workdir,
            comment=self.comment(job.spec, job.workdir),
            account=self.account(job.spec),
            time_cap_s=job.time_cap_s,
        )
        tool_env = {**job.env, **{k: v for k, v in self._env.items() if k == "SLURM_CONF"}}
        return self.run_tool(argv, env=tool_env, account=job.account).strip().split(";")[0]

    def jobs(self) -> dict[str, SlurmJob]:
        """Every job the controller knows, by id (cached for ``cache_seconds``)."""
        now = time.monotonic()
        if self._snapshot is None or now - self._snapshot[0] > self.cache_seconds:
            data = json.loads(self.run_tool(["squeue", "--json", "--all", "--states=all"]))
            records = {str(r["job_id"]): parse_job(r) for r in data.get("jobs", [])}
            self._snapshot = (time.monotonic(), records)
        return self._snapshot[1]

    def _job(self, job_id: str) -> SlurmJob | None:
        job = self.jobs().get(job_id)
        if job is None:  # submitted after the snapshot was taken?
            self._snapshot = None
            job = self.jobs().get(job_id)
        return job

    def cancel_job(self, job_id: str) -> None:
        """Cancel a Slurm job by id (not an error if it has ended)."""
        self._cancel_job(job_id)

    def _cancel_job(self, job_id: str) -> None:
        try:
            self.run_tool(["scancel", job_id])
        except BackendError as exc:
            if "Invalid job id" not in str(exc) and "already completed" not in str(exc):
                raise
        self._snapshot = None

    def _accounted(self, job_id: str) -> AccountedJob | None:
        """``sacct --json -j ID`` (slurmdbd); None on a cluster without accounting."""
        if self._has_accounting is False:
            return None
        try:
            data = json.loads(self.run_tool(["sacct", "--json", "-j", job_id]))
        except BackendError as exc:
            if "accounting storage is disabled" in str(exc) or "not installed" in str(exc):
                self._has_accounting = False
                return None
            raise
        except ValueError as exc:
            raise BackendError(f"sacct --json answered something else than JSON: {exc}") from exc
        self._has_accounting = True
        return parse_accounting(data).get(job_id)

    def _read_partitions(self) -> list[Partition]:
        out = self.run_tool(["scontrol", "show", "partition", "--oneliner"])
        return [parse_scontrol_partition(line) for line in out.splitlines() if line.strip()]

    def _version(self) -> str:
        if not hasattr(self, "_version_text"):
            self._version_text = self.run_tool(["sbatch", "--version"]).strip()
        return self._version_text


LOADER_VARIABLES = (
    "LD_",
    "GCONV_PATH",
    "GETCONF_DIR",
    "HOSTALIASES",
    "LOCALDOMAIN",
    "LOCPATH",
    "MALLOC_",
    "NIS_PATH",
    "NLSPATH",
    "RESOLV_HOST_CONF",
    "RES_OPTIONS",
    "TZDIR",
)
"""Variables (or prefixes) with which glibc loads code or files into a process: the ones it
ignores in a setuid program, since they would run a user's code with its rights."""


def root_safe(env: dict[str, str]) -> dict[str, str]:
    """``env`` without :data:`LOADER_VARIABLES`: what a process that starts as root (``chroot``,
    dropping to a task's account only later) may be given of a task's environment. Such a job
    does not get them either (``--export=ALL`` hands on sbatch's environment)."""
    return {k: v for k, v in env.items() if not k.startswith(LOADER_VARIABLES)}


def chroot_argv(root: str, argv: list[str], account: TaskAccount | None) -> list[str]:
    """``argv`` run inside ``root`` (as ``account`` when given: ``chroot`` drops to its uid,
    gid and groups after entering the tree, which only root may do)."""
    chroot = shutil.which("chroot", path="/usr/sbin:/usr/bin:/sbin:/bin") or "chroot"
    if account is None:
        return [chroot, root, *argv]
    groups = ",".join(str(g) for g in (account.gid, *account.groups))
    return [
        chroot,
        f"--userspec={account.uid}:{account.gid}",
        f"--groups={groups}",
        root,
        *argv,
    ]

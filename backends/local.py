"""``local``: classical tasks as subprocesses of this host (the embedded default).

Each task gets a directory, which is also its native id; a small runner process
(:mod:`backends.local_runner`) executes the task and records its outcome there, so the outcome
survives a restart of the worker that started it and a redelivered task re-attaches to it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import psutil

from backends.base import (
    BackendStatus,
    Capabilities,
    ClassicalBackend,
    ClassicalResult,
    ClassicalSpec,
)
from backends.errors import BackendError, NativeJobLost
from backends.identity import (
    SAFE_PATH,
    account_for,
    configured_environment,
    task_environment,
    task_variables,
)
from backends.local_runner import failed_message
from backends.options import BackendOptions, PositiveCount
from backends.states import TaskState
from backends.taskdir import make_task_dir
from backends.taskfiles import WORK, collect_output, read_tail, runner_record

Environment = dict[str, str | int | float]
"""Variables every task of a backend gets (an ``environment`` option)."""


class LocalOptions(BackendOptions):
    """Options of ``local``."""

    workdir: str | None = None
    """Where task directories go (default: ``qcb-local`` in the system's temporary folder)."""
    max_concurrency: PositiveCount | None = None
    """Tasks run at once (default: the number of CPUs)."""
    warm_runner: bool = False
    """Keep one runner process started and idle, so that a task starts without waiting for
    Python to start."""
    environment: Environment | None = None
    """Variables every task gets (e.g. ``PYTHONPATH`` of a site's libraries)."""


class LocalBackend(ClassicalBackend):
    """Runs classical tasks as local subprocesses, one node, never through a shell, with the
    options of :class:`LocalOptions`.

    Each task runs as the account the broker chose for it (``run_as``; the broker's own
    account when the broker is not root) from a clean environment (see
    :mod:`backends.identity`).
    """

    name = "local"
    Options: ClassVar[type[LocalOptions]] = LocalOptions
    config: LocalOptions

    def __init__(self, config: BackendOptions | None = None, /, **options: Any) -> None:
        super().__init__(config, **options)
        default = Path(os.environ.get("TMPDIR", "/tmp")) / "qcb-local"
        self.root = Path(self.config.workdir or default)
        self.environment = configured_environment(self.name, self.config.environment)
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._spare: subprocess.Popen[bytes] | None = None
        self._spare_lock = threading.Lock()  # a pilot's worker submits from several threads

    def capabilities(self) -> Capabilities:
        """One node, as many concurrent tasks as configured."""
        return Capabilities(
            kind="classical",
            version=f"python {sys.version.split()[0]}",
            max_concurrency=self.config.max_concurrency or os.cpu_count() or 1,
            size=1.0,
            details={"host": socket.gethostname(), "nodes": 1},
        )

    def refusal(self, spec: ClassicalSpec) -> str | None:
        """Tasks for more than one node."""
        if spec.nodes != 1:
            return f"the local backend runs on one node, the task asks for {spec.nodes}"
        return None

    def submit(self, spec: ClassicalSpec, *, task_id: str) -> str:
        """Start the runner for ``spec`` in a new session (so cancel reaches its children)."""
        refusal = self.refusal(spec)
        if refusal:
            raise BackendError(refusal, hint="ask for nodes: 1, or use a Slurm backend")
        if not spec.argv and not spec.entrypoint:
            raise BackendError("a classical task needs either argv or entrypoint")
        account = account_for(spec.run_as)
        workdir = make_task_dir(
            self.root,
            task_id,
            spec,
            account,
            task_owned=False,
            files=lambda _: self.extra_files(spec),
        )
        env = task_environment(
            account=account,
            workdir=workdir / WORK,
            task_vars=task_variables(task_id, workdir / WORK),
            configured={**self.platform_environment(), **self.environment},
            declared=spec.env,
            secrets=spec.secret_env,
        )
        order = json.dumps({"dir": str(workdir), "env": env}) + "\n"
        try:
            proc = self._runner(order)
        except OSError as exc:
            raise BackendError(f"could not start the task runner: {exc}", transient=True) from exc
        try:
            created = psutil.Process(proc.pid).create_time()
        except psutil.Error:
            created = 0.0  # already gone: status() reads its recorded outcome
        (workdir / "pid").write_text(f"{proc.pid} {created}")
        self._children[str(workdir)] = proc
        return str(workdir)

    def _start_runner(self) -> subprocess.Popen[bytes]:
        # -I: the runner is the broker's (root's) own process; no variable or folder of the
        # task's may change what it imports.
        return subprocess.Popen(
            [sys.executable, "-I", "-m", "backends.local_runner", "--stdin"],
            cwd="/",
            env={"PATH": SAFE_PATH, "LANG": "C.UTF-8"},
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: cancel reaches its children
        )

    def _runner(self, order: str) -> subprocess.Popen[bytes]:
        """A runner given ``order``: the warm spare if there is one (then a new spare)."""
        with self._spare_lock:
            runner, self._spare = self._spare, None
            if runner is None or runner.poll() is not None:
                runner = self._start_runner()
            assert runner.stdin is not None
            runner.stdin.write(order.encode())
            runner.stdin.close()
            if self.config.warm_runner:
                self._spare = self._start_runner()
        return runner

    def platform_environment(self) -> dict[str, str]:
        """Variables of where the task runs that it needs (for subclasses: a pilot's
        allocation)."""
        return {}

    def extra_files(self, spec: ClassicalSpec) -> dict[str, str]:
        """Files to add to a task's directory before its runner starts (for subclasses)."""
        return {}

    def _dir(self, native_id: str) -> Path:
        workdir = Path(native_id)
        if not (workdir / "spec.json").exists():
            raise NativeJobLost(native_id, "its task directory does not exist")
        return workdir

    def _pid_alive(self, workdir: Path) -> bool:
        child = self._children.get(str(workdir))
        if child is not None:
            return child.poll() is None
        pid, created = _read_pid(workdir)
        if pid is None:
            return False
        try:
            proc = psutil.Process(pid)
            # The start time guards against a recycled pid after a reboot or a long wait.
            return proc.create_time() == created and proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def status(self, native_id: str) -> BackendStatus:
        """Read the recorded outcome, or whether the runner is still alive."""
        workdir = self._dir(native_id)
        if (workdir / "cancelled").exists():
            return BackendStatus(state=TaskState.CANCELLED, message="cancelled on request")
        info = runner_record(workdir)
        if info is not None:
            state = TaskState(info["state"])
            message = {
                TaskState.FAILED: failed_message(info),
                TaskState.TIMEOUT: "killed at its time limit",
            }.get(state, "")
            return BackendStatus(state=state, message=message)
        if self._pid_alive(workdir):
            return BackendStatus(state=TaskState.RUNNING)
        if (workdir / "state.json").exists():  # finished between the two checks
            return self.status(native_id)
        return BackendStatus(
            state=TaskState.FAILED, message="the task's runner died without recording an outcome"
        )

    def cancel(self, native_id: str) -> None:
        """Mark the task cancelled and stop its runner and the task's process group."""
        workdir = self._dir(native_id)
        if (workdir / "state.json").exists():
            return
        (workdir / "cancelled").touch()
        pid, _ = _read_pid(workdir)
        if pid is None or not self._pid_alive(workdir):
            _kill_task_group(workdir, signal.SIGKILL)
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                break
            _kill_task_group(workdir, sig)
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline and self._pid_alive(workdir):
                time.sleep(0.02)
            if not self._pid_alive(workdir):
                break
        _kill_task_group(workdir, signal.SIGKILL)

    def result(self, native_id: str) -> ClassicalResult:
        """Exit code, captured output and the entry point's return value."""
        workdir = self._dir(native_id)
        info = runner_record(workdir) or {}
        elapsed = info.get("elapsed_s")
        spec = ClassicalSpec.model_validate_json((workdir / "spec.json").read_text())
        output, note = collect_output(workdir)
        return ClassicalResult(
            exit_code=info.get("exit_code"),
            stdout=read_tail(workdir / "stdout"),
            stderr=read_tail(workdir / "stderr") + note,
            output=output,
            nodes=[socket.gethostname()],
            elapsed_s=elapsed,
            usage=self.usage(spec, elapsed) if elapsed is not None else {},
        )

    def usage(self, spec: ClassicalSpec, elapsed_s: float) -> dict[str, float]:
        """What a task used: its cores (tasks x CPUs per task) x its hours."""
        cores = spec.nodes * spec.ntasks * spec.cpus_per_task
        return {self.charge_unit: cores * elapsed_s / 3600}


def _kill_task_group(workdir: Path, sig: int) -> None:
    """Signal the task's own process group (the runner's child), if it is still the task's:
    its leader must run as the account that the task ran as."""
    try:
        pid = int((workdir / "child").read_text())
        owner = os.lstat(workdir / WORK).st_uid
        if psutil.Process(pid).uids().real != owner:
            return
        os.killpg(pid, sig)
    except (OSError, ValueError, psutil.Error):
        return


def _read_pid(workdir: Path) -> tuple[int | None, float]:
    try:
        pid, created = (workdir / "pid").read_text().split()
        return int(pid), float(created)
    except (OSError, ValueError):
        return None, 0.0

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
import uuid
from pathlib import Path
from typing import Any

import psutil

from backends.base import (
    BackendStatus,
    Capabilities,
    ClassicalBackend,
    ClassicalResult,
    ClassicalSpec,
)
from backends.errors import BackendError, NativeJobLost
from backends.local_runner import failed_message
from backends.states import TaskState


class LocalBackend(ClassicalBackend):
    """Runs classical tasks as local subprocesses, one node, never through a shell.

    Options: ``workdir`` (where task directories go; default a ``qcb-local`` folder in the
    system temporary directory), ``max_concurrency`` (default: the number of CPUs) and
    ``warm_runner`` (keep one runner process started and idle, so that a task starts without
    waiting for Python to start; default off).
    """

    name = "local"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        default = Path(os.environ.get("TMPDIR", "/tmp")) / "qcb-local"
        self.root = Path(options.get("workdir") or default)
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._spare: subprocess.Popen[bytes] | None = None
        self._spare_lock = threading.Lock()  # a pilot's worker submits from several threads

    def capabilities(self) -> Capabilities:
        """One node, as many concurrent tasks as configured."""
        return Capabilities(
            kind="classical",
            version=f"python {sys.version.split()[0]}",
            max_concurrency=int(self.options.get("max_concurrency") or os.cpu_count() or 1),
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
        workdir = self.root / f"{task_id}-{uuid.uuid4().hex[:8]}"
        workdir.mkdir(parents=True, mode=0o700)  # spec.json may hold a token
        (workdir / "spec.json").write_text(spec.model_dump_json())
        for name, text in self.extra_files(spec).items():
            (workdir / name).write_text(text)
        try:
            proc = self._runner(workdir)
        except OSError as exc:
            raise BackendError(f"could not start the task runner: {exc}", transient=True) from exc
        try:
            created = psutil.Process(proc.pid).create_time()
        except psutil.Error:
            created = 0.0  # already gone: status() reads its recorded outcome
        (workdir / "pid").write_text(f"{proc.pid} {created}")
        self._children[str(workdir)] = proc
        return str(workdir)

    def _start_runner(self, argv: list[str], cwd: Path, stdin: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "backends.local_runner", *argv],
            cwd=cwd,
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: cancel reaches its children
        )

    def _runner(self, workdir: Path) -> subprocess.Popen[bytes]:
        """A runner on ``workdir``: the warm spare if there is one (then a new spare)."""
        if not self.options.get("warm_runner"):
            return self._start_runner([str(workdir)], workdir, subprocess.DEVNULL)
        with self._spare_lock:
            spare, self._spare = self._spare, None
            if spare is None or spare.poll() is not None or spare.stdin is None:
                spare = self._start_runner(["--wait"], self.root, subprocess.PIPE)
            assert spare.stdin is not None
            spare.stdin.write(f"{workdir}\n".encode())
            spare.stdin.close()
            self._spare = self._start_runner(["--wait"], self.root, subprocess.PIPE)
        return spare

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
        state_file = workdir / "state.json"
        if state_file.exists():
            info = json.loads(state_file.read_text())
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
        """Mark the task cancelled and stop its whole process group."""
        workdir = self._dir(native_id)
        if (workdir / "state.json").exists():
            return
        (workdir / "cancelled").touch()
        pid, _ = _read_pid(workdir)
        if pid is None or not self._pid_alive(workdir):
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline and self._pid_alive(workdir):
                time.sleep(0.02)
            if not self._pid_alive(workdir):
                return

    def result(self, native_id: str) -> ClassicalResult:
        """Exit code, captured output and the entry point's return value."""
        workdir = self._dir(native_id)
        info: dict[str, Any] = {}
        if (workdir / "state.json").exists():
            info = json.loads((workdir / "state.json").read_text())
        output_file = workdir / "output.json"
        elapsed = info.get("elapsed_s")
        spec = ClassicalSpec.model_validate_json((workdir / "spec.json").read_text())
        return ClassicalResult(
            exit_code=info.get("exit_code"),
            stdout=_read(workdir / "stdout"),
            stderr=_read(workdir / "stderr"),
            output=json.loads(output_file.read_text()) if output_file.exists() else None,
            nodes=[socket.gethostname()],
            elapsed_s=elapsed,
            usage=self.usage(spec, elapsed) if elapsed is not None else {},
        )

    def usage(self, spec: ClassicalSpec, elapsed_s: float) -> dict[str, float]:
        """What a task used: its cores (tasks x CPUs per task) x its hours."""
        cores = spec.nodes * spec.ntasks * spec.cpus_per_task
        return {self.charge_unit: cores * elapsed_s / 3600}


def _read_pid(workdir: Path) -> tuple[int | None, float]:
    try:
        pid, created = (workdir / "pid").read_text().split()
        return int(pid), float(created)
    except (OSError, ValueError):
        return None, 0.0


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""

"""The process that runs one ``local`` classical task: ``python -m backends.local_runner DIR``.

It reads ``DIR/spec.json``, runs the command (never through a shell) or calls the entry
point, and records what happened in files of DIR, so that the outcome survives the broker
process that started it: ``started`` (the time it began), ``stdout``, ``stderr``,
``output.json``, ``error`` (the exception an entry point raised, in one line) and, written
last and atomically, ``state.json`` with the final state and exit code. If
``DIR/launcher.json`` holds a list (``["srun", ...]``), the command is started through it, so
that a parallel task runs on every node of its Slurm allocation.

The runner exits with the task's exit code, so that a batch system that runs it sees the
task's own success or failure.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any


def _write_state(workdir: Path, state: str, exit_code: int | None, started: float) -> None:
    tmp = workdir / "state.json.tmp"
    record: dict[str, Any] = {
        "state": state,
        "exit_code": exit_code,
        "elapsed_s": time.time() - started,
    }
    if (workdir / "error").exists():
        record["error"] = (workdir / "error").read_text()
    # Under Slurm, where it ran (a fallback for when Slurm has forgotten the job).
    for key in ("SLURM_JOB_ID", "SLURM_JOB_NODELIST", "SLURM_JOB_NUM_NODES"):
        if key in os.environ:
            record[key.lower()] = os.environ[key]
    tmp.write_text(json.dumps(record))
    os.replace(tmp, workdir / "state.json")


def failed_message(record: dict[str, Any]) -> str:
    """The message of a ``FAILED`` record: its exit code and, for an entry point that raised,
    the exception in one line."""
    error = f": {record['error']}" if record.get("error") else ""
    return f"exited with code {record.get('exit_code')}{error}"


def _call_entrypoint(spec: dict[str, Any], workdir: Path) -> int:
    module_name, func_name = spec["entrypoint"].split(":")
    # The task's own PYTHONPATH finds the entry point's module (a user's program folder).
    extra = spec.get("env", {}).get("PYTHONPATH", "")
    sys.path[:0] = [p for p in extra.split(os.pathsep) if p and p not in sys.path]
    try:
        func = getattr(importlib.import_module(module_name), func_name)
        output = func(spec.get("payload"))
        (workdir / "output.json").write_text(json.dumps(output))
    except BaseException as exc:
        traceback.print_exc()
        # the one line a person needs, for the task's failure message
        (workdir / "error").write_text(f"{type(exc).__name__}: {exc}"[:500])
        return 1
    return 0


def _run_command(spec: dict[str, Any], limit: float | None, prefix: list[str]) -> tuple[int, bool]:
    env = {**os.environ, **spec.get("env", {})}
    proc = subprocess.Popen([*prefix, *spec["argv"]], env=env, stdout=sys.stdout, stderr=sys.stderr)
    try:
        return proc.wait(timeout=limit), False
    except subprocess.TimeoutExpired:
        proc.terminate()  # srun passes SIGTERM on to every task of the step
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        return proc.returncode, True


def main(argv: list[str]) -> int:
    """Run the task described in ``argv[0]/spec.json``; return the task's exit status
    (128 + N for a task killed by signal N).

    With ``--wait`` instead of a directory, the runner starts idle and reads the directory
    from stdin: a backend keeps one such warm runner ready, so a task does not wait for
    Python to start. It exits at once if stdin closes first.
    """
    if argv[0] == "--wait":
        line = sys.stdin.readline().strip()
        if not line:
            return 0
        argv = [line]
        os.chdir(line)
    workdir = Path(argv[0])
    started = time.time()
    (workdir / "started").write_text(repr(started))
    spec = json.loads((workdir / "spec.json").read_text())
    launcher_file = workdir / "launcher.json"
    prefix = json.loads(launcher_file.read_text()) if launcher_file.exists() else []
    limit = spec.get("time_limit_s")
    with open(workdir / "stdout", "w") as out, open(workdir / "stderr", "w") as err:
        sys.stdout, sys.stderr = out, err
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        if spec.get("entrypoint"):
            os.environ.update(spec.get("env", {}))
            if limit:
                signal.signal(signal.SIGALRM, _alarm)
                signal.alarm(int(limit))
            try:
                code, timed_out = _call_entrypoint(spec, workdir), False
            except _Timeout:
                code, timed_out = -signal.SIGALRM, True
        else:
            code, timed_out = _run_command(spec, limit, prefix)
        out.flush()
        err.flush()
    if timed_out:
        _write_state(workdir, "TIMEOUT", code, started)
    else:
        _write_state(workdir, "COMPLETED" if code == 0 else "FAILED", code, started)
    return code if code >= 0 else 128 - code


class _Timeout(BaseException):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Timeout


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The process that runs one ``local`` classical task: ``python -m backends.local_runner DIR``.

It reads ``DIR/spec.json``, runs the command (never through a shell) or calls the entry
point, and records what happened in files of DIR, so that the outcome survives the broker
process that started it: ``stdout``, ``stderr``, ``output.json`` and, written last and
atomically, ``state.json`` with the final state and exit code.
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
    tmp.write_text(
        json.dumps({"state": state, "exit_code": exit_code, "elapsed_s": time.time() - started})
    )
    os.replace(tmp, workdir / "state.json")


def _call_entrypoint(spec: dict[str, Any], workdir: Path) -> int:
    module_name, func_name = spec["entrypoint"].split(":")
    try:
        func = getattr(importlib.import_module(module_name), func_name)
        output = func(spec.get("payload"))
        (workdir / "output.json").write_text(json.dumps(output))
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


def _run_command(spec: dict[str, Any], limit: float | None) -> tuple[int, bool]:
    env = {**os.environ, **spec.get("env", {})}
    proc = subprocess.Popen(spec["argv"], env=env, stdout=sys.stdout, stderr=sys.stderr)
    try:
        return proc.wait(timeout=limit), False
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return -signal.SIGKILL, True


def main(argv: list[str]) -> int:
    """Run the task described in ``argv[0]/spec.json``; return the runner's exit status."""
    workdir = Path(argv[0])
    spec = json.loads((workdir / "spec.json").read_text())
    started = time.time()
    limit = spec.get("time_limit_s")
    with open(workdir / "stdout", "w") as out, open(workdir / "stderr", "w") as err:
        sys.stdout, sys.stderr = out, err
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        if spec.get("entrypoint"):
            if limit:
                signal.signal(signal.SIGALRM, _alarm)
                signal.alarm(int(limit))
            try:
                code, timed_out = _call_entrypoint(spec, workdir), False
            except _Timeout:
                code, timed_out = -signal.SIGALRM, True
        else:
            code, timed_out = _run_command(spec, limit)
        out.flush()
        err.flush()
    if timed_out:
        _write_state(workdir, "TIMEOUT", code, started)
    else:
        _write_state(workdir, "COMPLETED" if code == 0 else "FAILED", code, started)
    return 0


class _Timeout(BaseException):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Timeout


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

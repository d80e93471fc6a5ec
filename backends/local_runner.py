"""The process that runs one classical task and records its outcome.

``python -I -m backends.local_runner --stdin`` (``local`` and pilots) reads one JSON line,
``{"dir": DIR, "env": {...}}``, from stdin: the task's directory and its whole environment
(secrets included, which so never touch a file). A backend may start it ahead of time and
write the line later (a warm runner: a task need not wait for Python to start).
``python -m backends.local_runner DIR`` (a Slurm batch script) takes the environment it was
started with, which the broker built. ``--step DIR`` is one process of a parallel task's
``srun`` step inside a pilot (see :func:`_plan`).

The runner forks the task: the child becomes the task's account (``DIR/account.json``, when
the runner is root), starts from the task's environment in ``DIR/work`` (its own folder,
where an entry point's ``output.json`` goes), and runs the command (never through a shell)
or calls the entry point. The runner stays the broker's: it enforces the time limit, passes
a stop signal on, and writes the files that say what happened, which the task cannot touch
when the runner is root: ``started``, ``child`` (the task's process group), ``stdout``,
``stderr`` and, last and atomically, ``state.json``. If ``DIR/launcher.json`` holds a list
(``["srun", ...]``), the command is started through it, so that a parallel task runs on
every node of its Slurm allocation.

The runner exits with the task's exit code (128 + N for signal N), so that a batch system
sees the task's own success or failure.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import pwd
import select
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any, NoReturn

from backends.errors import BackendError
from backends.identity import SAFE_PATH, TaskAccount, drop_privileges
from backends.taskfiles import ERROR_FILE, WORK, read_tail

SERVICE_ENTRYPOINTS = frozenset({"broker.processes.pilot_job:run"})
"""The broker's own programs, which a root runner may run as root (a pilot job)."""

_KILL_GRACE_S = 5.0


def failed_message(record: dict[str, Any]) -> str:
    """The message of a ``FAILED`` record: its exit code and, for an entry point that raised,
    the exception in one line."""
    error = f": {record['error']}" if record.get("error") else ""
    return f"exited with code {record.get('exit_code')}{error}"


def _write_state(
    workdir: Path,
    state: str,
    exit_code: int | None,
    started: float,
    env: dict[str, str],
    error: str = "",
) -> None:
    record: dict[str, Any] = {
        "state": state,
        "exit_code": exit_code,
        "elapsed_s": time.time() - started,
    }
    error = error or read_tail(workdir / WORK / ERROR_FILE, 500).strip()
    if error:
        record["error"] = error
    # Under Slurm, where it ran (a fallback for when Slurm has forgotten the job).
    for key in ("SLURM_JOB_ID", "SLURM_JOB_NODELIST", "SLURM_JOB_NUM_NODES"):
        if key in env:
            record[key.lower()] = env[key]
    tmp = workdir / "state.json.tmp"
    tmp.write_text(json.dumps(record))
    os.replace(tmp, workdir / "state.json")


def _account(workdir: Path, spec: dict[str, Any]) -> TaskAccount | None:
    """The account to become. Only a root runner switches, and it never runs a task as root
    (but the broker's own pilot program, in a directory that only root could write): a
    directory the broker handed to a task's account runs as its owner, one the broker kept
    as the account that ``account.json`` names (which only root could write there)."""
    if os.geteuid() != 0:
        return None
    owner = os.lstat(workdir).st_uid
    if owner != 0:
        return TaskAccount.lookup(pwd.getpwuid(owner).pw_name)
    named = workdir / "account.json"
    if named.exists():
        return TaskAccount.lookup(json.loads(named.read_text())["name"])
    if (
        spec.get("entrypoint") in SERVICE_ENTRYPOINTS
        and spec.get("argv") is None
        and os.lstat(workdir / "spec.json").st_uid == 0
    ):
        return None
    raise PermissionError("refusing to run a task as root: it names no account to run as")


def _call_entrypoint(spec: dict[str, Any]) -> int:
    module_name, func_name = spec["entrypoint"].split(":")
    # The task's PYTHONPATH finds the entry point's module (a user's program folder).
    extra = os.environ.get("PYTHONPATH", "")
    sys.path[:0] = [p for p in extra.split(os.pathsep) if p and p not in sys.path]
    try:
        func = getattr(importlib.import_module(module_name), func_name)
        output = func(spec.get("payload"))
        Path("output.json").write_text(json.dumps(output))
    except BaseException as exc:
        traceback.print_exc()
        # the one line a person needs, for the task's failure message
        Path(ERROR_FILE).write_text(f"{type(exc).__name__}: {exc}"[:500])
        return 1
    return 0


def _plan(
    workdir: Path,
    spec: dict[str, Any],
    env: dict[str, str],
    account: TaskAccount | None,
    prefix: list[str],
) -> tuple[list[str] | None, dict[str, str], TaskAccount | None]:
    """What the child runs (None: it calls the entry point), with what environment, as whom.

    A parallel task inside an allocation of the broker's (a pilot) is the one exception to
    "the child becomes the account": only an allocation's owner may start steps in it, so
    ``srun`` runs as the broker, with Slurm's variables only, and on every node the step's
    process (``--step``) becomes the account and takes the task's environment from
    ``step.json``, which only root may read.
    """
    if spec.get("entrypoint"):
        return None, env, account
    if prefix and account is not None:
        order = {"env": env, "argv": spec["argv"], "account": account.name}
        fd = os.open(workdir / "step.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(order, handle)
        slurm = {k: v for k, v in env.items() if k.startswith("SLURM_")}
        step = [sys.executable, "-I", "-m", "backends.local_runner", "--step", str(workdir)]
        return [*prefix, *step], {"PATH": SAFE_PATH, "LANG": "C.UTF-8", **slurm}, None
    return [*prefix, *spec["argv"]], env, account


def _child(
    workdir: Path,
    spec: dict[str, Any],
    plan: tuple[list[str] | None, dict[str, str], TaskAccount | None],
    fds: tuple[int, int],
) -> NoReturn:
    """The task's process: never returns."""
    argv, env, account = plan
    code = 127
    try:
        os.setpgid(0, 0)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        if account is not None:
            drop_privileges(account)
        os.umask(0o077)
        os.chdir(workdir / WORK)
        _close_other_fds()
        os.environ.clear()
        os.environ.update(env)
        if argv is None:
            code = _call_entrypoint(spec)
        else:
            _exec(argv, env)
    except BaseException as exc:
        message = f"qcbroker: could not start the task: {type(exc).__name__}: {exc}"
        print(message, file=sys.stderr)
        with contextlib.suppress(OSError):
            Path(ERROR_FILE).write_text(message[:500])
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
    os._exit(code)


def _exec(argv: list[str], env: dict[str, str]) -> NoReturn:
    try:
        os.execvpe(argv[0], argv, env)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{argv[0]}: command not found (PATH={env.get('PATH', '')})"
        ) from None


def step(workdir: Path) -> NoReturn:
    """One process of a parallel task's ``srun`` step in a broker's allocation (see
    :func:`_plan`): become the account, take the task's environment, run the command."""
    order = json.loads((workdir / "step.json").read_text())
    account = TaskAccount.lookup(order["account"])
    ours = ("SLURM_", "SLURMD_", "PMI_", "PMIX_", "OMPI_")  # its place in the step
    env = {**order["env"], **{k: v for k, v in os.environ.items() if k.startswith(ours)}}
    drop_privileges(account)
    os.umask(0o077)
    os.chdir(workdir / WORK)
    _exec(list(order["argv"]), env)


def _close_other_fds() -> None:
    """Close every descriptor but stdin, stdout and stderr (the task inherits nothing)."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2:
            with contextlib.suppress(OSError):
                os.close(fd)


def _wait(pid: int, timeout: float | None) -> int | None:
    """The child's wait status, or None if ``timeout`` passed first."""
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        pidfd = None
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return None
            if pidfd is not None:
                with contextlib.suppress(InterruptedError):
                    select.select([pidfd], [], [], left)
            else:
                time.sleep(min(0.05, left) if left is not None else 0.05)
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def run(workdir: Path, env: dict[str, str]) -> int:
    """Run the task in ``workdir`` with environment ``env``; its exit status."""
    started = time.time()
    os.umask(0o077)
    (workdir / "started").write_text(repr(started))
    spec = json.loads((workdir / "spec.json").read_text())
    launcher_file = workdir / "launcher.json"
    prefix = json.loads(launcher_file.read_text()) if launcher_file.exists() else []
    limit = spec.get("time_limit_s")
    try:
        account = _account(workdir, spec)
    except (OSError, KeyError, ValueError, BackendError) as exc:
        _write_state(workdir, "FAILED", 126, started, env, error=f"not started: {exc}"[:500])
        return 126
    with open(workdir / "stdout", "wb") as out, open(workdir / "stderr", "wb") as err:
        plan = _plan(workdir, spec, env, account, prefix)
        pid = os.fork()
        if pid == 0:
            _child(workdir, spec, plan, (out.fileno(), err.fileno()))
    with contextlib.suppress(OSError):  # the child did it first, or has already exited
        os.setpgid(pid, pid)
    (workdir / "child").write_text(str(pid))

    def _forward(signum: int, _: object) -> None:
        _killpg(pid, signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _forward)
    status = _wait(pid, float(limit) if limit else None)
    timed_out = status is None
    if status is None:
        _killpg(pid, signal.SIGTERM)  # srun passes it on to every task of the step
        status = _wait(pid, _KILL_GRACE_S)
        if status is None:
            _killpg(pid, signal.SIGKILL)
            status = _wait(pid, None)
    assert status is not None
    _killpg(pid, signal.SIGKILL)  # whatever the task left running in its group
    code = os.waitstatus_to_exitcode(status)
    state = "TIMEOUT" if timed_out else ("COMPLETED" if code == 0 else "FAILED")
    _write_state(workdir, state, code, started, env)
    return code if code >= 0 else 128 - code


def main(argv: list[str]) -> int:
    """Run the task of ``argv[0]`` (a directory) or of the order on stdin (``--stdin``)."""
    if argv[0] == "--step":
        step(Path(argv[1]))
    if argv[0] == "--stdin":
        line = sys.stdin.readline().strip()
        if not line:
            return 0
        order = json.loads(line)
        return run(Path(order["dir"]), dict(order["env"]))
    return run(Path(argv[0]), dict(os.environ))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

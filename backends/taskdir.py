"""A classical task's directory: made by the broker, closed to every other account.

``ROOT/TASKID-XXXXXXXX/`` holds ``spec.json`` (the task, without its secrets),
``account.json`` (the account it runs as) and whatever the backend adds (a batch script, a
launcher), and ``work/``, the task's own folder (its working directory). Two layouts:

- **runner-owned** (``local``, pilots): the directory stays the broker's (mode 0711: the task
  may pass through it to ``work/`` but not list or change it), so the records that the
  runner writes there (state, exit code, timings) cannot be forged by the task;
- **task-owned** (Slurm batch jobs, which run as the user from their first instruction):
  the whole directory belongs to the task's account, mode 0700.

Either way ``work/`` belongs to the task's account (mode 0700), and ``ROOT`` is the
broker's, mode 0711, so no account can list the tasks of others or read into them.
"""

from __future__ import annotations

import json
import os
import stat
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

from backends.base import ClassicalSpec
from backends.errors import BackendError
from backends.identity import TaskAccount, unreachable
from backends.taskfiles import WORK


def prepare_root(root: Path, account: TaskAccount | None) -> None:
    """Make the folder of task directories (mode 0711 when tasks run as other accounts) and
    check that those accounts can reach it."""
    try:
        root.mkdir(parents=True, exist_ok=True, mode=0o711 if account else 0o700)
    except OSError as exc:
        raise BackendError(
            f"cannot make the task folder {root}: {exc}",
            hint="check the backend's workdir option",
        ) from exc
    info = root.stat()
    if info.st_uid == os.geteuid():  # never listable by others; passable when tasks need it
        mode = stat.S_IMODE(info.st_mode) & ~0o066 | (0o711 if account else 0)
        if mode != stat.S_IMODE(info.st_mode):
            root.chmod(mode)
    if account is None:
        return
    blocked = unreachable(root)
    if blocked is not None:
        raise BackendError(
            f"tasks run as other accounts cannot reach their folder {root}: "
            f"{blocked} is closed to other accounts",
            hint="set the backend's workdir option to a folder whose parents others may pass "
            f"through (e.g. /var/tmp/qcbroker), or chmod o+x {blocked}",
        )


def make_task_dir(
    root: Path,
    task_id: str,
    spec: ClassicalSpec,
    account: TaskAccount | None,
    *,
    task_owned: bool,
    files: Callable[[Path], Mapping[str, str]] | None = None,
    executables: frozenset[str] = frozenset(),
) -> Path:
    """A new task directory for ``spec`` with the ``files(directory)`` in it, written before
    the directory changes hands (see the module docstring)."""
    prepare_root(root, account)
    workdir = root / f"{task_id}-{uuid.uuid4().hex[:8]}"
    try:
        workdir.mkdir(mode=0o700)
        contents = {"spec.json": spec.model_dump_json(), **(files(workdir) if files else {})}
        if account is not None:
            contents["account.json"] = json.dumps({"name": account.name})
        for name, text in contents.items():
            path = workdir / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            if name in executables:
                path.chmod(0o700)
        (workdir / WORK).mkdir(mode=0o700)
        if account is not None:
            _hand_over(workdir, account, task_owned=task_owned)
    except OSError as exc:
        raise BackendError(
            f"could not write the task directory {workdir}: {exc}",
            hint="check the backend's workdir option: the cluster must see it too",
        ) from exc
    return workdir


def _hand_over(workdir: Path, account: TaskAccount, *, task_owned: bool) -> None:
    os.chown(workdir / WORK, account.uid, account.gid)
    if not task_owned:
        workdir.chmod(0o711)
        return
    for path in workdir.iterdir():
        os.chown(path, account.uid, account.gid, follow_symlinks=False)
    os.chown(workdir, account.uid, account.gid)

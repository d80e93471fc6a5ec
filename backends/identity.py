"""Who a classical task runs as, and the environment it starts from.

A classical task is a researcher's code. It never runs with the broker's identity or sees
the broker's environment:

- **Account.** A broker that runs as root starts every task as the unprivileged Unix account
  the broker chose for the task's user and security domain (``ClassicalSpec.run_as``,
  resolved by :mod:`broker.accounts`), never as root and never as the broker's own
  account. A broker run by an ordinary user (a laptop) runs tasks as that user.
- **Environment.** A task starts from :func:`task_environment`: ``PATH``, ``HOME``,
  ``LANG``, ``USER``/``LOGNAME``, the task's own ``QCB_TASK_*`` variables, the variables the
  backend's operator configured (its ``environment`` option) and those the job declared;
  nothing else of the broker's environment.

The functions here are pure or act on the calling process only; backends and the task
runner (:mod:`backends.local_runner`) use them.
"""

from __future__ import annotations

import functools
import os
import pwd
import re
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from backends.errors import BackendError

SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
"""The system part of a task's ``PATH`` (the broker's Python's folder comes first)."""

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

RESERVED_PREFIXES = ("QCB_", "SLURM_", "SBATCH_", "SALLOC_", "SRUN_", "PMI_", "PMIX_")
"""Variable names a job may not declare: the broker's own and those that steer Slurm's
submission and launch (``SBATCH_ACCOUNT`` would change the account charged)."""


def broker_is_root() -> bool:
    """Whether this process can start tasks as other accounts."""
    return os.geteuid() == 0


@dataclass(frozen=True)
class TaskAccount:
    """A Unix account that tasks run as."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str

    @classmethod
    def lookup(cls, name: str) -> TaskAccount:
        """The account called ``name``; ``BackendError`` if it does not exist or may not
        run tasks (root, a member of group root, or the broker's own account)."""
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise BackendError(
                f"no Unix account {name!r} to run the task as",
                hint="create it (qcb accounts create), or map the user to an existing "
                "account in the accounts file (QCB_TASK_ACCOUNTS)",
            ) from None
        groups = tuple(sorted(set(os.getgrouplist(name, entry.pw_gid))))
        account = cls(name, entry.pw_uid, entry.pw_gid, groups, entry.pw_dir)
        account.refuse_privileged()
        return account

    def refuse_privileged(self) -> None:
        """``BackendError`` unless this account is an unprivileged one other than ours."""
        if self.uid == 0 or self.gid == 0 or 0 in self.groups:
            raise BackendError(
                f"refusing to run a task as {self.name!r}: it is root or in group root",
                hint="map the user to an unprivileged account",
            )
        if self.uid == os.geteuid():
            raise BackendError(
                f"refusing to run a task as {self.name!r}: that is the broker's own account",
                hint="map the user to an account of its own",
            )

    def owns(self, path: Path) -> bool:
        """Whether ``path`` (not followed if a link) belongs to this account."""
        try:
            return os.lstat(path).st_uid == self.uid
        except OSError:
            return False


def account_for(run_as: str | None) -> TaskAccount | None:
    """The account a task with ``run_as`` starts as: None to run as this process's own
    account (allowed only when this process is not root)."""
    if run_as is None:
        if broker_is_root():
            raise BackendError(
                "refusing to run a task as root: the task names no account to run as",
                hint="the broker maps every user to an unprivileged account "
                "(see the README's security section)",
            )
        return None
    return TaskAccount.lookup(run_as)


def valid_variable(name: str, value: str) -> bool:
    """Whether a process can be given ``name=value`` (a valid name, no NUL in the value)."""
    return bool(ENV_NAME.match(name)) and "\0" not in value


def check_variables(env: Mapping[str, str]) -> None:
    """``ValueError`` for a variable no process can be given (a bad name, a NUL in a value)."""
    for name, value in env.items():
        if not ENV_NAME.match(name):
            raise ValueError(f"env: {name!r} is not a valid variable name")
        if "\0" in value:
            raise ValueError(f"env: {name} holds a NUL character")


def check_declared(env: Mapping[str, str]) -> None:
    """``ValueError`` for a variable a job may not declare (bad name, reserved prefix, NUL)."""
    check_variables(env)
    for name in env:
        if name.upper().startswith(RESERVED_PREFIXES):
            prefixes = ", ".join(p + "*" for p in RESERVED_PREFIXES)
            raise ValueError(f"env: {name} is reserved to the broker and Slurm ({prefixes})")


def task_variables(task_id: str, work: Path) -> dict[str, str]:
    """The task's own variables: ``QCB_TASK_ID`` and ``QCB_TASK_DIR`` (its folder)."""
    return {"QCB_TASK_ID": task_id, "QCB_TASK_DIR": str(work)}


def task_environment(
    *,
    account: TaskAccount | None,
    workdir: Path,
    task_vars: Mapping[str, str],
    configured: Mapping[str, str] | None = None,
    declared: Mapping[str, str] | None = None,
    secrets: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A task's whole environment, built from nothing.

    In order, later entries winning: the basics (``PATH`` with this Python's folder first,
    ``HOME``, ``LANG``, ``USER``, ``LOGNAME``), the backend operator's ``configured``
    variables, the job's ``declared`` ones, the task's ``task_vars`` (``QCB_TASK_ID``...),
    then ``secrets`` (a driver's token), which never go into a file.
    """
    name = account.name if account else pwd.getpwuid(os.geteuid()).pw_name
    home = account.home if account else os.environ.get("HOME", "")
    if account is not None and not (Path(home).is_dir() and account.owns(Path(home))):
        home = str(workdir)  # an account without a home of its own (one made for tasks)
    env = {
        "PATH": f"{Path(sys.executable).parent}:{SAFE_PATH}",
        "HOME": home or str(workdir),
        "LANG": "C.UTF-8",
        "USER": name,
        "LOGNAME": name,
    }
    env.update(configured or {})
    env.update(declared or {})
    env.update(task_vars)
    env.update(secrets or {})
    return env


def unreachable(path: Path) -> Path | None:
    """The first folder on the way to ``path`` (itself included) that other accounts cannot
    pass through (no search permission for others), or None."""
    current = Path("/")
    for part in path.resolve().parts[1:]:
        current = current / part
        try:
            mode = current.stat().st_mode
        except OSError:
            return None  # not made yet: its maker sets its mode
        if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
            return current
    return None


def python_unreachable() -> Path | None:
    """A folder of this Python (interpreter, standard library, packages) that other
    accounts cannot reach, or None when tasks as other accounts can run it."""
    for where in (
        Path(os.path.realpath(sys.executable)),
        Path(sys.base_prefix),
        Path(sys.prefix),
    ):
        blocked = unreachable(where)
        if blocked is not None:
            return blocked
    return None


@functools.cache
def _python_blocked() -> Path | None:
    return python_unreachable()


def check_python(account: TaskAccount | None) -> None:
    """``BackendError`` when tasks of ``account`` could not use this Python (a task's child
    process imports from it after it has become the account)."""
    if account is None:
        return
    blocked = _python_blocked()
    if blocked is not None:
        raise BackendError(
            f"tasks run as {account.name!r} cannot use the broker's Python {sys.executable}: "
            f"{blocked} is closed to other accounts",
            hint="install qcbroker with a Python every account may run (make does, with "
            "/usr/bin/python3), or run the broker as an ordinary user",
        )


def drop_privileges(account: TaskAccount) -> None:
    """Become ``account`` for good (in the child that runs the task): its groups, its gid,
    then its uid; raises ``OSError`` if the switch did not take."""
    os.setgroups(list(account.groups))
    os.setgid(account.gid)
    os.setuid(account.uid)
    if os.getuid() != account.uid or os.geteuid() != account.uid:
        raise OSError(f"could not become {account.name}")
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise OSError(f"{account.name} could become root again")


def configured_environment(backend: str, value: object) -> dict[str, str]:
    """A backend's ``environment`` option, checked: variables every task of it gets."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int | float) for k, v in value.items()
    ):
        raise BackendError(f"the {backend} backend's environment option must map names to values")
    env = {k: str(v) for k, v in value.items()}
    bad = sorted(k for k, v in env.items() if not valid_variable(k, v))
    if bad:
        raise BackendError(
            f"the {backend} backend's environment option: not valid variable(s): {bad}"
        )
    return env

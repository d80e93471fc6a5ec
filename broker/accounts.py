"""Which Unix account runs a broker user's classical tasks.

The setting ``task_accounts`` (``QCB_TASK_ACCOUNTS``) says how a broker user (and the
security domain of the job's proposal) maps to a Unix account:

- ``auto`` (the default): ``create`` when the broker runs as root, else ``self``.
- ``self``: tasks run as the broker's own account. Only for a broker run by an ordinary
  user (a laptop): a root broker refuses it, since its tasks would run as root.
- ``create`` (one host): each user gets an account of its own, made by the broker on first
  use with ``useradd`` (or beforehand with ``qcb accounts create``): ``qcb-USER`` for open
  work and ``qcbx-HASH`` per user and controlled domain, so that controlled work never
  shares an account with open work. Accounts have no home and no login shell.
- ``same-name`` (a facility whose broker users are its Unix users): the account called like
  the user, for open work; controlled work needs a mapping file.
- a path to a YAML mapping file (the facility's own mapping)::

      default: same-name        # or: refuse, create
      users: {alice: alice, bob: bsmith}
      controlled:               # per controlled domain: accounts for its work
        export: {alice: alice-ec}

  A user with no entry falls back to ``default``; controlled work without an entry is
  refused (it must not share the account of open work).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pwd
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from broker.errors import BrokerError
from policies.schema import Policy

UNIX_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,27}$")
"""User names kept as they are in ``qcb-USER`` (the rest are hashed)."""

_LOCK = Path("/run/lock/qcbroker-accounts.lock")
_thread_lock = threading.Lock()


class AccountMap(BaseModel):
    """A facility's mapping file (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    default: Literal["same-name", "create", "refuse"] = "refuse"
    users: dict[str, str] = Field(default_factory=dict)
    controlled: dict[str, dict[str, str]] = Field(default_factory=dict)


def controlled_domain(policy: Policy, proposal_id: str) -> str | None:
    """The controlled security domain of a proposal's work; None for open work.
    ``BrokerError`` for a proposal the policy in force does not have."""
    proposal = policy.proposal(proposal_id)
    if proposal is None:
        raise BrokerError(
            f"proposal {proposal_id!r} is not in the policy in force: no account to run its "
            "tasks as"
        )
    domain = policy.security_domains.get(proposal.security_domain)
    return proposal.security_domain if domain is None or domain.controlled else None


def created_name(user: str, domain: str | None) -> str:
    """The account ``create`` makes for ``user``'s open work (``domain`` None) or for its
    work in a controlled ``domain``."""
    if domain is not None:
        digest = hashlib.sha256(f"{domain}\0{user}".encode()).hexdigest()[:16]
        return f"qcbx-{digest}"
    if UNIX_NAME.match(user):
        return f"qcb-{user}"
    return f"qcbh-{hashlib.sha256(user.encode()).hexdigest()[:16]}"


def mode_of(setting: str) -> str:
    """``self``, ``create``, ``same-name`` or ``map`` for a ``task_accounts`` setting."""
    if setting == "auto":
        return "create" if os.geteuid() == 0 else "self"
    if setting in ("self", "create", "same-name"):
        return setting
    return "map"


class Accounts:
    """Resolves (user, controlled domain) to an account name, making it when allowed."""

    def __init__(self, setting: str) -> None:
        self.setting = setting
        self.mode = mode_of(setting)
        self._map: AccountMap | None = None
        self._known: set[str] = set()
        if self.mode == "self" and os.geteuid() == 0:
            raise BrokerError(
                "task_accounts is 'self' but the broker runs as root: tasks would run as root",
                hint="use auto or create (one host), same-name or a mapping file (a facility)",
            )
        if self.mode == "map":
            self._map = _read_map(Path(setting))

    def account(self, user: str, domain: str | None) -> str | None:
        """The account for ``user``'s tasks (``domain``: the job's controlled security domain,
        None for open work); None to run them as the broker itself (``self``)."""
        if self.mode == "self":
            return None
        if self.mode == "create":
            return self._created(user, domain)
        if self.mode == "same-name":
            return self._same_name(user, domain)
        assert self._map is not None
        table = self._map.users if domain is None else self._map.controlled.get(domain, {})
        if user in table:
            return table[user]
        if domain is not None:
            raise BrokerError(
                f"no account for {user!r}'s work in the controlled domain {domain!r}: it may "
                "not share the account of open work",
                hint=f"add controlled: {{{domain}: {{{user}: ACCOUNT}}}} to {self.setting}",
            )
        if self._map.default == "create":
            return self._created(user, None)
        if self._map.default == "same-name":
            return self._same_name(user, None)
        raise BrokerError(
            f"no account for broker user {user!r} in {self.setting}",
            hint=f"add users: {{{user}: ACCOUNT}} to it, or set default: same-name",
        )

    def _same_name(self, user: str, domain: str | None) -> str:
        if domain is not None:
            raise BrokerError(
                f"controlled work ({domain}) of {user!r} would share the account of open work",
                hint="set task_accounts to a mapping file with a controlled: section",
            )
        return user

    def _created(self, user: str, domain: str | None) -> str:
        name = created_name(user, domain)
        if name not in self._known:
            ensure_account(name, account_comment(user, domain))
            self._known.add(name)
        return name


def _read_map(path: Path) -> AccountMap:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise BrokerError(
            f"cannot read the task accounts file {path}: {exc}",
            hint="task_accounts is auto, self, create, same-name or the path of a mapping file",
        ) from None
    try:
        return AccountMap.model_validate(data or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise BrokerError(f"task accounts file {path}: {problems}") from None


def account_comment(user: str, domain: str | None) -> str:
    """The comment (GECOS) of the account made for ``user``'s work in ``domain``: whose it
    is, in the characters ``useradd`` takes (a user name may hold ``:`` or a newline)."""
    who = re.sub(r"[^A-Za-z0-9 ._@-]", "?", user)[:64]
    where = re.sub(r"[^A-Za-z0-9 ._@-]", "?", domain or "open")[:64]
    return f"qcbroker tasks of {who} ({where})"


def ensure_account(name: str, comment: str) -> None:
    """Make a locked system account ``name`` with no home and no shell, unless it exists."""
    with contextlib.suppress(KeyError):
        pwd.getpwnam(name)
        return
    if os.geteuid() != 0:
        raise BrokerError(
            f"the account {name!r} does not exist and only root may make it",
            hint=f"as root: qcb accounts create (or useradd --system {name})",
        )
    argv = ["useradd", "--system", "--user-group", "--no-create-home",
            "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
            "--comment", comment, name]  # fmt: skip
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
    with _thread_lock, _file_lock():
        for attempt in range(10):
            with contextlib.suppress(KeyError):
                pwd.getpwnam(name)
                return
            proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
            if proc.returncode == 0:
                return
            if proc.returncode != 10:  # 10: /etc/passwd is locked by someone else
                raise BrokerError(f"could not make the account {name}: {proc.stderr.strip()}")
            time.sleep(0.1 * (attempt + 1))
    raise BrokerError(f"could not make the account {name}: /etc/passwd stayed locked")


@contextlib.contextmanager
def _file_lock() -> Iterator[None]:
    _LOCK.parent.mkdir(parents=True, exist_ok=True)
    with open(_LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield

"""``qcb accounts``: which Unix account runs whose tasks, and whether this host keeps them
apart (see the README's security section)."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from broker.cli.common import dump, user_errors
from broker.config import CONFIG_VARIABLE, Settings


@click.group()
def accounts() -> None:
    """The Unix accounts that classical tasks run as.

    \b
    qcb accounts show alice                   # which account runs alice's open work
    qcb accounts show alice --domain export   # ... and her work in a controlled domain
    qcb accounts create alice bob             # as root: make them now (else on first use)
    qcb accounts check                        # is this host set up to keep tenants apart?

    The setting QCB_TASK_ACCOUNTS chooses the mapping: auto (the default: create when the
    broker runs as root, else self), self, create, same-name, or a mapping file.
    """


_domain = click.option(
    "--domain",
    default=None,
    metavar="NAME",
    help="A controlled security domain (its work never shares open work's account).",
)


@accounts.command("show")
@click.argument("users", nargs=-1, required=True)
@_domain
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@user_errors
def show(users: tuple[str, ...], domain: str | None, as_json: bool) -> None:
    """Which account runs the tasks of each of USERS (nothing is made: see create)."""
    import pwd

    from broker.accounts import Accounts, created_name, mode_of

    settings = Settings()
    mode = mode_of(settings.task_accounts)
    rows = []
    for user in users:
        if mode == "create":
            name: str | None = created_name(user, domain)
        else:
            name = Accounts(settings.task_accounts).account(user, domain)
        try:
            uid: int | None = pwd.getpwnam(name).pw_uid if name else os.geteuid()
        except KeyError:
            uid = None
        rows.append({"user": user, "domain": domain, "account": name or "(the broker's)",
                     "uid": uid, "exists": uid is not None})  # fmt: skip
    if as_json:
        dump({"mode": mode, "accounts": rows})
        return
    table = Table("user", "domain", "account", "uid", title=f"task accounts ({mode})")
    for row in rows:
        uid_text = str(row["uid"]) if row["exists"] else "not made yet"
        table.add_row(str(row["user"]), str(domain or "open"), str(row["account"]), uid_text)
    Console().print(table)


@accounts.command("create")
@click.argument("users", nargs=-1, required=True)
@_domain
@user_errors
def create(users: tuple[str, ...], domain: str | None) -> None:
    """Make the accounts that create mode uses for USERS (as root; idempotent)."""
    from broker.accounts import account_comment, created_name, ensure_account

    for user in users:
        name = created_name(user, domain)
        ensure_account(name, account_comment(user, domain))
        click.echo(f"{user} ({domain or 'open'}): {name}")


@accounts.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@user_errors
def check(as_json: bool) -> None:
    """Check what keeps tenants apart here: the mapping, the Python tasks run, the folders
    that task directories go in, and who may read the files that hold credentials.

    Exits 1 when something would let a task run as root, fail to start, or read a secret.
    """
    problems = findings(Settings())
    if as_json:
        dump([{"check": c, "ok": ok, "detail": d} for c, ok, d in problems])
    else:
        table = Table("check", "", "detail")
        for name, ok, detail in problems:
            table.add_row(name, "[green]ok[/]" if ok else "[red]no[/]", detail)
        Console().print(table)
    if not all(ok for _, ok, _ in problems):
        raise SystemExit(1)


def findings(settings: Settings) -> list[tuple[str, bool, str]]:
    """``(check, passed, detail)`` for each thing ``qcb accounts check`` looks at."""
    from backends.identity import python_unreachable, unreachable
    from broker.accounts import mode_of

    mode = mode_of(settings.task_accounts)
    root = os.geteuid() == 0
    if mode == "self":
        detail = "self: tasks run as the broker's own account"
        out = [("accounts", not root, detail + (", here root: refused" if root else ""))]
    else:
        out = [("accounts", root, f"{mode}: each user's tasks run as an account of its own")]
        out.append(_reachable("python", Path(sys.executable), python_unreachable()))
        out.append(_reachable("task folder", settings.task_dir, unreachable(settings.task_dir)))
    config = os.environ.get(CONFIG_VARIABLE)
    for label, path in (("backends file", settings.backends_file), ("settings file", config)):
        if path is not None:
            out.append(_private(label, Path(path)))
    return out


def _reachable(label: str, path: Path, blocked: Path | None) -> tuple[str, bool, str]:
    if blocked is None:
        return label, True, f"{path}: other accounts reach it"
    return label, False, f"{path}: {blocked} is closed to other accounts"


def _private(label: str, path: Path) -> tuple[str, bool, str]:
    try:
        bits = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        return label, False, f"{path}: {exc.strerror}"
    if bits & 0o077:
        return label, False, f"{path} (mode {bits:o}): other accounts may read it; chmod 600"
    return label, True, f"{path} (mode {bits:o})"

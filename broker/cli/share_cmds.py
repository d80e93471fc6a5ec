"""``qcb fairshare`` and ``qcb priority``: the Fair Tree and the pending queue's priorities,
for PIs and committees, as Slurm's ``sshare -l`` and ``sprio -l`` show them."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from broker.accounting.shares import PriorityRow, ShareRow
from broker.cli.allocation_cmds import amount
from broker.cli.common import client as _client
from broker.cli.common import dump as _dump
from broker.cli.common import user_errors
from policies.priority import FACTORS

_INDENT = {"root": "", "program": "", "proposal": " ", "user": "  "}


def _num(value: float | None, level: str = "") -> str:
    if value is None:
        return "inf" if level not in ("root", "") else ""
    return f"{value:.6f}"


def share_table(backend: str, rows: list[ShareRow]) -> Table:
    """One backend's tree, depth first, as ``sshare -l`` lays it out."""
    table = Table(title=f"Fair Tree of {backend}")
    columns = ("account", "user", "raw shares", "norm shares", "raw usage", "effectv usage")
    for name in (*columns, "level FS", "fairshare"):
        table.add_column(name, justify="left" if name in ("account", "user") else "right")
    for r in rows:
        account = r.name if r.level != "user" else (r.proposal or "")
        table.add_row(
            _INDENT[r.level] + account,
            r.name if r.level == "user" else "",
            "" if r.raw_shares is None else f"{r.raw_shares:g}",
            f"{r.norm_shares:.6f}",
            amount(r.raw_usage),
            f"{r.effective_usage:.6f}",
            "" if r.level == "root" else _num(r.level_fs, r.level),
            _num(r.fairshare),
        )
    table.caption = "usage: decayed backend-seconds; fairshare: a user's rank / N"
    return table


@click.command()
@click.option("--backend", "-b", metavar="NAME", help="Only this backend's tree.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@user_errors
def fairshare(backend: str | None, as_json: bool) -> None:
    """Each backend's Fair Tree, like Slurm's `sshare -l`: root -> program -> proposal ->
    user, with shares, decayed usage and each user's fair-share factor.

    \b
    norm shares    S: its shares over its siblings' shares
    effectv usage  U: its decayed usage over its parent's
    level FS       S / U among siblings (inf: used nothing yet; 0: zero shares)
    fairshare      a user's factor: its rank in the walk over N, every member counted
    Siblings are walked highest level FS first; tied users share a rank and tied
    programs or proposals are ranked as one (Slurm's documented rule).
    Through a service you see your proposals' rows (a committee sees all); embedded,
    every row of your own store.
    """
    rows = _client().fairshare(backend)
    if as_json:
        _dump([r.model_dump(mode="json") for r in rows])
        return
    console = Console()
    if not rows:
        console.print(
            "no backend's Fair Tree has a user yet: a proposal counts its members and PI on "
            "the backends it has a budget on, and a '*' proposal each user who has run or "
            "waits there"
        )
    for name in dict.fromkeys(r.backend for r in rows):
        console.print(share_table(name, [r for r in rows if r.backend == name]))


def priority_table(rows: list[PriorityRow]) -> Table:
    """The pending tasks, best first, with each factor's weighted contribution."""
    table = Table(title="Pending tasks by priority")
    for name in ("task", "backend", "proposal", "user", "priority", *FACTORS):
        right = name == "priority" or name in FACTORS
        table.add_column(name, justify="right" if right else "left", no_wrap=True)
    for r in rows:
        weighted = [f"{r.weighted[f]:.0f}" for f in FACTORS]
        table.add_row(r.task_id, r.backend, r.proposal, r.user, f"{r.priority:.0f}", *weighted)
    table.caption = "each factor column: factor x its policy weight; `--json` has both"
    return table


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@user_errors
def priority(as_json: bool) -> None:
    """Every pending task's priority, factor by factor, like Slurm's `sprio -l`: best
    first, as the scheduler would release them where there is room.

    \b
    P = sum of weight x factor (age, fairshare, score, qos, size, hybrid); `qcb explain
    TASK` says what each factor means and why one task waits. Through a service you see
    your own tasks, your proposals' if you are their PI, and every task as a committee.
    """
    rows = _client().priority()
    if as_json:
        _dump([r.model_dump(mode="json") for r in rows])
        return
    if not rows:
        click.echo("no task is waiting")
        return
    Console().print(priority_table(rows))

"""``qcb policy``: the allocation committee's commands (validate, diff; more join the group).

A command added elsewhere joins with ``policy.add_command(cmd)``; the group's help lists
it automatically.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from broker.cli.common import user_errors
from broker.cli.paths import InputFile
from policies.diff import diff_policies, format_diff
from policies.errors import PolicyError
from policies.loader import LoadedPolicy, load_policy


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def policy() -> None:
    """Check, compare and put into force allocation policies (for committees).

    A policy is one YAML file (apiVersion: qcbroker/v1, kind: Policy): the backends with
    their units and capacity, security domains, QOS levels, priority weights, fair share,
    overrun bands, use-it-or-lose-it checkpoints, and the proposals with their budgets.
    Examples to start from are in policies/examples/ (see policies/README.md).

    \b
    A change usually goes:
        qcb policy validate new.yaml            every error at once, with its path and line
        qcb policy diff current.yaml new.yaml   what the new revision changes, line by line
        qcb policy trace --out week.jsonl       the recorded workload, from the store
        qcb policy simulate new.yaml --trace week.jsonl
                                                what it would change per proposal
        qcb policy apply new.yaml --reason "..."   in force now, kept in the history
        qcb policy history                      every revision, who applied it, and why

    Validation reports every problem in one go, as `path: message (line N)`, for example
    `proposals[2].budgets[0].unit: backend 'ibm' is counted in qpu_seconds, not 'shots'`.
    """


def _load_all(files: tuple[Path, ...]) -> list[tuple[Path, LoadedPolicy | PolicyError]]:
    out: list[tuple[Path, LoadedPolicy | PolicyError]] = []
    for file in files:
        try:
            out.append((file, load_policy(file)))
        except PolicyError as exc:
            out.append((file, exc))
    return out


def _report(file: Path, result: LoadedPolicy | PolicyError) -> dict[str, Any]:
    if isinstance(result, PolicyError):
        return {"file": str(file), "valid": False, "errors": result.errors}
    return {
        "file": str(file),
        "valid": True,
        "revision": result.revision,
        "sha256": result.sha256,
        "proposals": len(result.policy.proposals),
        "errors": [],
    }


@policy.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file, as a list.")
@user_errors
def validate(files: tuple[Path, ...], as_json: bool) -> None:
    """Check each policy FILE and list every error with its path.

    Prints `FILE: valid (revision ..., N proposals)` for a good file; for a bad one, every
    problem at once: unknown fields (with the valid ones), wrong units or choices, budgets
    on backends the file does not define or its security domain does not allow, dates
    outside the effective period, awards above a backend's capacity, keys written twice.

    Exits 0 when every file is valid, 2 when any is not.
    """
    results = _load_all(files)
    if as_json:
        click.echo(json.dumps([_report(f, r) for f, r in results], indent=2))
    else:
        console = Console(highlight=False, soft_wrap=True)
        for file, result in results:
            name = escape(str(file))
            if isinstance(result, PolicyError):
                n = len(result.errors)
                console.print(f"[bold red]{name}: invalid[/] ({n} error{'s' * (n != 1)})")
                for error in result.errors:
                    console.print(f"  - {escape(error)}")
            else:
                n = len(result.policy.proposals)
                console.print(
                    f"[green]{name}: valid[/] (revision {escape(result.revision)}, "
                    f"{n} proposal{'s' * (n != 1)})"
                )
    if any(isinstance(r, PolicyError) for _, r in results):
        sys.exit(2)


@policy.command()
@click.argument("old", type=InputFile("policy file"))
@click.argument("new", type=InputFile("policy file"))
@click.option("--json", "as_json", is_flag=True, help="Print the changes as a JSON list.")
@user_errors
def diff(old: Path, new: Path, as_json: bool) -> None:
    """What changes from policy OLD to policy NEW, one line per change.

    Proposals are matched by id and their budgets by (backend, unit, period), so a
    reordered file shows no change; numbers show the relative change. Both files must be
    valid (run `qcb policy validate` first). Exits 0 whether or not anything changed.
    """
    before, after = load_policy(old), load_policy(new)
    changes = diff_policies(before.policy, after.policy)
    if as_json:
        click.echo(json.dumps([c.as_dict() for c in changes], indent=2))
        return
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"{escape(before.revision)} -> {escape(after.revision)}")
    console.print(escape(format_diff(changes)))

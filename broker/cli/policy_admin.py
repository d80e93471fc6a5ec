"""``qcb policy apply`` and ``qcb policy history``: revisions of the policy in force."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from broker.cli.common import client as _client
from broker.cli.common import dump as _dump
from broker.cli.common import user_errors


@click.command()
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--reason", "-r", required=True, help="What changes and why (kept in the history).")
@user_errors
def apply(file: Path, reason: str) -> None:
    """Make FILE the policy in force, as a new revision with your name and REASON.

    FILE is validated first; if it has any error, every error is listed with its path and
    the running revision stays in force. Running processes pick the new revision up within
    a second, without a restart. Check what it would change first with
    `qcb policy diff` and `qcb policy simulate`.
    """
    number, loaded = _client().apply_policy(file, reason)
    click.echo(f"revision {number} in force: {loaded.revision}")


@click.command()
@click.option("--show", type=int, metavar="N", help="Print the text of revision N.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@user_errors
def history(show: int | None, as_json: bool) -> None:
    """Every revision of the policy, oldest first, with author, time and reason.

    The history is append-only (the store refuses to change or delete a line); the last
    revision is in force. Revisions come from `qcb policy apply` and from the policy file
    ($QCB_POLICY_FILE) whenever its content changes.
    """
    revisions = _client().policy_history()
    if show is not None:
        chosen = [r for r in revisions if r.id == show]
        if not chosen:
            raise click.BadParameter(
                f"no revision {show}; revisions are 1 to {len(revisions)}", param_hint="--show"
            )
        click.echo(chosen[0].text, nl=False)
        return
    if as_json:
        _dump(
            [
                {k: getattr(r, k) for k in ("id", "revision", "author", "reason", "source")}
                | {"created_at": r.created_at.isoformat(), "sha256": r.sha256}
                for r in revisions
            ]
        )
        return
    table = Table("#", "when (UTC)", "revision", "author", "reason", "source")
    for r in revisions:
        table.add_row(
            str(r.id),
            r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            r.revision,
            r.author,
            r.reason,
            r.source,
        )
    if revisions:
        table.caption = f"in force: #{revisions[-1].id} {revisions[-1].revision}"
    Console().print(table)


COMMANDS = (apply, history)

"""``qcb policy apply``, ``history``, ``trace`` and ``simulate``: revisions of the policy in
force, and what a new revision would change on a recorded workload."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from broker.cli.common import client as _client
from broker.cli.common import dump as _dump
from broker.cli.common import user_errors
from broker.cli.paths import InputFile, OutputFile
from broker.errors import InvalidTrace


@click.command()
@click.argument("file", type=InputFile("policy file"))
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


@click.command()
@click.option(
    "--out",
    "-o",
    required=True,
    type=OutputFile("trace", "week.jsonl"),
    help="The trace file to write (.jsonl, or .jsonl.gz to compress).",
)
@click.option("--since", type=click.DateTime(), help="Jobs submitted from then (UTC).")
@click.option("--until", type=click.DateTime(), help="Jobs submitted before then (UTC).")
@user_errors
def trace(out: Path, since: datetime | None, until: datetime | None) -> None:
    """Export the recorded workload (finished jobs) as a trace for `qcb policy simulate`.

    Each job keeps its proposal, user, QOS, submission time, what admission held, and
    every task's backend, run time, size and raw usage (before charge factors).
    """
    jobs, tasks = _client().export_trace(out, since=since, until=until)
    click.echo(f"{out}: {jobs} jobs, {tasks} tasks")


@click.command()
@click.argument("new", type=InputFile("policy file"))
@click.option(
    "--trace",
    "-t",
    "trace_file",
    required=True,
    type=InputFile("trace"),
    help="The workload to replay (`qcb policy trace` writes one).",
)
@click.option(
    "--base",
    type=InputFile("policy file"),
    help="Compare with this policy file instead of the revision in force.",
)
@click.option("--json", "as_json", is_flag=True, help="Print both reports and the deltas.")
@user_errors
def simulate(new: Path, trace_file: Path, base: Path | None, as_json: bool) -> None:
    """Replay a recorded workload under policy NEW and under the policy in force (or
    --base), and report per proposal what changes: its share of each backend's time,
    its waits, and jobs newly refused.

    Nothing is submitted and nothing in force changes. The replay uses the same
    admission, priority and fair-share code as the scheduler.
    """
    from policies.loader import load_policy
    from policies.simreport import compare, format_comparison, format_report
    from policies.simulate import simulate as replay
    from policies.trace import Trace, TraceError

    new_loaded = load_policy(new)
    old_loaded = load_policy(base) if base is not None else _client().policy()
    console = Console(stderr=True)
    try:
        workload = Trace.open(trace_file)
        reports = []
        for loaded in (old_loaded, new_loaded):
            with console.status(f"replaying {trace_file} under {loaded.revision} ..."):
                reports.append(replay(loaded.policy, workload, revision=loaded.revision))
    except (TraceError, OSError) as exc:
        raise InvalidTrace(
            f"cannot replay {trace_file}: {exc}",
            hint="`qcb policy trace --out FILE` writes a valid trace from the store",
        ) from None
    old_report, new_report = reports
    deltas = compare(old_report, new_report)
    if as_json:
        _dump(
            {
                "old": old_report.to_json(),
                "new": new_report.to_json(),
                "deltas": [d.__dict__ for d in deltas],
            }
        )
        return
    click.echo(format_report(new_report))
    click.echo()
    click.echo(format_comparison(deltas, old=old_loaded.revision, new=new_loaded.revision))


COMMANDS = (apply, history, trace, simulate)

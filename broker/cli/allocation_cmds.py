"""``qcb usage`` and ``qcb explain``: what a researcher's proposals have left, and why a
task waits."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from broker.accounting.usage import ProposalUsage
from broker.cli.common import client as _client
from broker.cli.common import dump as _dump
from broker.cli.common import user_errors
from broker.cli.paths import OutputFile


def amount(value: float) -> str:
    """A compact number for a table: 1564, 48.4k, 1.2M, 10G (three significant digits
    from 10,000 on; a value that rounds up to 1000 of a unit takes the next unit)."""
    if abs(value) < 1e4:
        return f"{value:.4g}"
    for divisor, suffix in ((1e3, "k"), (1e6, "M"), (1e9, "G"), (1e12, "T")):
        text = f"{value / divisor:.3g}"
        if abs(float(text)) < 1000 or suffix == "T":
            return text.replace("e+", "e") + suffix
    raise AssertionError("unreachable")


_PERIODS = {"allocation_year": "year", "quarter": "quarter", "month": "month"}


def usage_table(usage: ProposalUsage) -> Table:
    """One proposal's budgets as a table."""
    title = f"{usage.proposal}" + (f" — {usage.title}" if usage.title else "")
    table = Table(title=title)
    for name in ("backend", "unit", "period", "limit", "used", "held", "left", "used %"):
        right = name in ("limit", "used", "held", "left", "used %")
        table.add_column(name, justify="right" if right else "left", no_wrap=True)
    for b in usage.budgets:
        style = "red" if b.remaining <= 0 else ("yellow" if b.used_pct >= 80 else "")
        limit = amount(b.limit) + (f" of {amount(b.awarded)}" if b.limit != b.awarded else "")
        period = _PERIODS.get(b.period, b.period.removeprefix("rolling ") + " rolling")
        left = amount(b.remaining)
        table.add_row(
            b.backend,
            b.unit,
            period + ("" if b.enforcement == "hard" else " (soft)"),
            limit,
            amount(b.used),
            amount(b.held),
            f"[{style}]{left}[/]" if style else left,
            f"{b.used_pct:.1f}",
        )
    if usage.standing:
        table.caption = f"proposal {usage.standing}"
    return table


@click.command()
@click.option("--proposal", "-p", metavar="ID", help="Only this proposal.")
@click.option(
    "--plot",
    type=OutputFile("plot", "usage.png"),
    metavar="PNG",
    help="Also draw each budget's burn-down into this image.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@user_errors
def usage(proposal: str | None, plot: Path | None, as_json: bool) -> None:
    """Used, held and remaining per proposal and backend, in each budget's current period.

    \b
    used       charged to finished tasks in the current period (never decays)
    held       set aside for jobs still running (their estimate, less their charges)
    remaining  limit - used - held: what new jobs may still be admitted against
    A soft budget may run past its limit into the policy's overrun bands; the table's
    caption says where the proposal stands. --plot usage.png draws the burn-down.
    """
    client = _client()
    usages = client.usage(proposal)
    if plot is not None:
        from broker.cli.plots import plot_burn_down

        plot_burn_down(usages, client.burn_down(usages), plot)
    if as_json:
        _dump([u.model_dump(mode="json") for u in usages])
        return
    console = Console()
    if not usages:
        console.print("you belong to no proposal in the policy in force")
    for u in usages:
        console.print(usage_table(u))
    if plot is not None:
        console.print(f"burn-down drawn in {plot}")


@click.command()
@click.argument("ident", metavar="TASK_OR_JOB_ID")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@user_errors
def explain(ident: str, as_json: bool) -> None:
    """Why a pending task waits (or each pending task of a job): its priority, factor by
    factor, its rank on its backend, and what holds it back.

    \b
    P = sum of weight x factor, each factor in [0, 1] (weights from the policy):
      age        how long it has waited, up to the policy's max_age (an overrun band
                 makes a proposal's tasks look younger)
      fairshare  Fair Tree rank of its user: under-served program/proposal/user first
      score      the committee's score of its proposal
      qos        its job's QOS priority
      size       small (or large) tasks first, as the policy favours
      hybrid     boost for a job whose hybrid loop is under way
    """
    explanations = _client().explain(ident)
    if not as_json:
        click.echo("\n\n".join(e.format() for e in explanations))
        return
    _dump(
        [
            {
                "task_id": explanation.task_id,
                "backend": explanation.backend,
                "proposal": explanation.proposal,
                "user": explanation.user,
                "revision": explanation.revision,
                "priority": explanation.priority,
                "factors": [
                    {"name": n, "value": v, "weight": w, "contribution": c}
                    for n, v, w, c in explanation.rows()
                ],
                "rank": explanation.rank,
                "competing": explanation.competing,
                "starts_now": explanation.releasable,
                "waits_because": explanation.reasons,
                "notes": explanation.notes,
            }
            for explanation in explanations
        ]
    )

"""``qcb usage`` and ``qcb explain``: what a researcher's proposals have left, and why a
task waits."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from broker.cli.main import _client, _dump, user_errors
from broker.usage import ProposalUsage


def usage_table(usage: ProposalUsage) -> Table:
    """One proposal's budgets as a table."""
    title = f"{usage.proposal}" + (f" — {usage.title}" if usage.title else "")
    table = Table(
        "backend", "unit", "period", "limit", "used", "held", "remaining", "used %", title=title
    )
    for b in usage.budgets:
        style = "red" if b.remaining <= 0 else ("yellow" if b.used_pct >= 80 else "")
        limit = f"{b.limit:,.6g}" + (f" (of {b.awarded:,.6g})" if b.limit != b.awarded else "")
        table.add_row(
            b.backend,
            b.unit,
            f"{b.period}, {b.enforcement}",
            limit,
            f"{b.used:,.6g}",
            f"{b.held:,.6g}",
            f"[{style}]{b.remaining:,.6g}[/]" if style else f"{b.remaining:,.6g}",
            f"{b.used_pct:.1f}",
        )
    if usage.standing:
        table.caption = f"proposal {usage.standing}"
    return table


@click.command()
@click.option("--proposal", "-p", metavar="ID", help="Only this proposal.")
@click.option(
    "--plot",
    type=click.Path(path_type=Path, dir_okay=False),
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

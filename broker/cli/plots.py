"""Pictures for people who would rather look than read: the burn-down of budgets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from broker.accounting.usage import BudgetUsage, BurnPoint, ProposalUsage
from broker.errors import BrokerError


def pyplot() -> Any:
    """matplotlib's pyplot on a file backend, or an error that says which extra to install."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise BrokerError("drawing needs matplotlib", hint="pip install 'qcbroker[plot]'") from None
    return plt


MAX_IDLE_PANELS = 12
"""When no budget has been used, how many (flat) panels are drawn at most."""


def plot_burn_down(
    usages: list[ProposalUsage],
    series: dict[tuple[str, str, str, str], list[BurnPoint]],
    path: Path,
) -> Path:
    """One panel per budget in use: what remains over its current period, the even pace to
    zero (dashed), what is held now (shaded), the limit after checkpoints (dotted) and
    today (a vertical line). Budgets nothing has used are named under the figure instead
    of drawn as flat panels (drawn when no budget has been used, at most 12)."""
    plt = pyplot()
    every: list[BudgetUsage] = [b for u in usages for b in u.budgets]
    if not every:
        raise BrokerError("no budgets to draw", hint="`qcb usage` lists your proposals")
    budgets = [b for b in every if b.used or b.held] or every[:MAX_IDLE_PANELS]
    idle = [b for b in every if b not in budgets]
    cols = min(3, len(budgets))
    rows = -(-len(budgets) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.4 * rows), squeeze=False)
    now = datetime.now(UTC).replace(tzinfo=None)
    for ax, b in zip(axes.flat, budgets, strict=False):
        points = series.get((b.proposal, b.backend, b.unit, b.period), [])
        start = b.period_start or (points[0].at if points else None)
        times = ([start] if start else []) + [p.at for p in points]
        left = ([b.limit] if start else []) + [b.limit - p.used for p in points]
        if times:
            times.append(now)  # flat until now
            left.append(left[-1])
            ax.step(times, left, where="post", label="remaining")
            if b.held:
                ax.vlines(
                    times[-1], left[-1] - b.held, left[-1], linewidth=8, alpha=0.4, label="held now"
                )
        if b.period_start and b.period_end and not b.period.startswith("rolling"):
            ax.plot([b.period_start, b.period_end], [b.awarded, 0], "--", label="even pace")
        if b.limit != b.awarded:
            ax.axhline(b.limit, linestyle=":", label="limit after checkpoints")
        ax.axhline(0, color="black", linewidth=0.8)
        ax.axvline(now, color="grey", linewidth=0.8, linestyle="-.", label="today")
        ax.set_title(f"{b.proposal}: {b.backend} {b.unit} ({b.period}, {b.enforcement})")
        ax.set_ylabel(b.unit)
        ax.tick_params(axis="x", labelrotation=30)
        ax.legend(fontsize="small")
    for ax in list(axes.flat)[len(budgets) :]:
        ax.set_visible(False)
    fig.tight_layout()
    if idle:
        names = ", ".join(f"{b.proposal} {b.backend} {b.unit}" for b in idle[:12])
        more = f" and {len(idle) - 12} more" if len(idle) > 12 else ""
        fig.text(0.01, 0.002, f"not drawn, nothing used yet: {names}{more}", fontsize="small")
        fig.subplots_adjust(bottom=max(fig.subplotpars.bottom, 0.12))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

"""``qcb result ID --plot FILE``: a finished job drawn, for those who would rather look.

Two panels: what the algorithm found (the convergence of VQE and QAOA, the energy per SQD
iteration against the exact energy and chemical accuracy, a sweep's values over its grid,
the reconstructed expectation values of a cut circuit with their bounds) and, for every
job, when each task ran on which backend (a timeline: parallel steps show as stacked bars).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from broker.cli.plots import pyplot
from broker.core.models import JobResult
from broker.errors import BrokerError

CHEMICAL_ACCURACY = 1.6e-3  # Hartree


def _convergence(ax: Any, result: dict[str, Any], algorithm: str) -> None:
    history: Sequence[float] = result["history"]
    ax.plot(range(1, len(history) + 1), history, marker=".", linewidth=1, label=algorithm)
    if result.get("reference_energy") is not None:
        ax.axhline(result["reference_energy"], linestyle="--", color="black", label="exact")
    if result.get("max_cut") is not None:  # QAOA on a small graph: the optimum it aims at
        ax.axhline(result["max_cut"], linestyle="--", color="black", label="maximum cut (exact)")
        if result.get("cut_value") is not None:
            ax.axhline(result["cut_value"], linestyle=":", color="grey",
                       label=f"best sampled cut ({result['cut_value']:g})")  # fmt: skip
    ax.set_xlabel("iteration")
    ax.set_ylabel({"vqe": "energy (Ha)", "qaoa": "expected cut <C>"}.get(algorithm, "objective"))
    ax.set_title(f"{algorithm.upper()} convergence")
    ax.legend(fontsize="small")


def _sqd(ax: Any, result: dict[str, Any]) -> None:
    rows: list[dict[str, Any]] = result["iterations"]
    xs = [r.get("iteration", i + 1) for i, r in enumerate(rows)]
    ax.plot(xs, [r["energy"] for r in rows], marker="o", label="SQD (best batch)")
    for x, row in zip(xs, rows, strict=True):
        batches = row.get("batch_energies") or []
        ax.scatter([x] * len(batches), batches, s=10, alpha=0.5, color="grey")
    exact = result.get("reference_energy")
    if exact is not None:
        ax.axhline(exact, linestyle="--", color="black", label="exact (FCI)")
        ax.axhspan(exact - CHEMICAL_ACCURACY, exact + CHEMICAL_ACCURACY, alpha=0.15,
                   label="chemical accuracy")  # fmt: skip
    ax.set_xlabel("configuration-recovery iteration")
    ax.set_ylabel("energy (Ha)")
    ax.set_title("SQD energy per iteration")
    ax.legend(fontsize="small")


def _observable(values: Any, index: int) -> Any:
    """``values`` indexed [grid...][observable] -> [grid...] of observable ``index``."""
    if isinstance(values, list) and values and isinstance(values[0], list):
        return [_observable(v, index) for v in values]
    return values[index] if isinstance(values, list) else values


def _observables(values: Any) -> int:
    """How many observables a sweep's values hold per grid point."""
    while isinstance(values, list) and values and isinstance(values[0], list):
        values = values[0]
    return len(values) if isinstance(values, list) else 1


MAX_MAPS = 6
"""The most observables a 2-D sweep draws, a heat map each."""


def _maps(result: dict[str, Any]) -> int:
    """How many panels a sweep's result takes: a heat map per observable (at most
    :data:`MAX_MAPS`) for a grid of two or more axes, one plot otherwise."""
    if len(result["axes"]) < 2:
        return 1
    return min(_observables(result["expectation_values"]), MAX_MAPS)


def _sweep(panels: list[Any], result: dict[str, Any]) -> None:
    axes: dict[str, list[float]] = result["axes"]
    names = list(axes)
    count = _observables(result["expectation_values"])
    labels = result.get("observables") or [f"observable {i}" for i in range(count)]
    if len(names) == 1:
        ax, markers = panels[0], "o^sDv<>"
        for i in range(count):  # a marker each: told apart without colour
            values = _observable(result["expectation_values"], i)
            ax.plot(axes[names[0]], values, marker=markers[i % len(markers)], markersize=3,
                    linewidth=1, label=str(labels[i]))  # fmt: skip
        ax.set_xlabel(names[0])
        ax.set_ylabel("expectation value")
        ax.legend(fontsize="small")
        ax.set_title("parameter sweep")
        return
    import numpy as np

    extent = [min(axes[names[0]]), max(axes[names[0]]), min(axes[names[1]]), max(axes[names[1]])]
    for i, ax in enumerate(panels):
        values = _observable(result["expectation_values"], i)
        grid = np.asarray(values, dtype=float).reshape(len(axes[names[0]]), -1)
        image = ax.imshow(grid.T, origin="lower", aspect="auto", extent=extent)
        ax.figure.colorbar(image, ax=ax, label="expectation value")
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        ax.set_title(f"sweep: {labels[i]}")
    if count > len(panels):
        panels[-1].set_title(f"sweep: {labels[len(panels) - 1]} ({len(panels)} of {count} shown)")


def _cutting(ax: Any, result: dict[str, Any]) -> None:
    values: list[float] = result["expectation_values"]
    xs = list(range(len(values)))
    bounds = result.get("bound") or [0.0] * len(values)
    ax.errorbar(xs, values, yerr=bounds, fmt="o", capsize=4, label="reconstructed ± bound")
    if result.get("reference") is not None:
        ax.scatter(xs, result["reference"], marker="x", color="black", label="uncut (exact)")
    ax.set_xticks(xs, [f"obs {i}" for i in xs])
    ax.set_ylabel("expectation value")
    ax.set_title(f"circuit cutting: {result.get('subexperiments', '?')} subexperiments")
    ax.legend(fontsize="small")


def lanes(spans: list[tuple[str, float, float]]) -> list[tuple[str, int]]:
    """Each span ``(backend, start, end)`` placed in a lane of its backend: the lowest
    lane free when it starts. Tasks that ran at once stack; those that followed each
    other share a lane, so 400 tasks on two backends draw as a few readable rows."""
    ends: dict[str, list[float]] = {}
    placed = []
    for backend, start, end in spans:
        free = ends.setdefault(backend, [])
        lane = next((i for i, busy_until in enumerate(free) if busy_until <= start), len(free))
        if lane == len(free):
            free.append(end)
        else:
            free[lane] = end
        placed.append((backend, lane))
    return placed


def _since(when: Any, origin: Any) -> float:
    return float((when - origin).total_seconds())


def _timeline(ax: Any, found: JobResult) -> None:
    ran = [t for t in found.lineage.tasks if t.started_at and t.finished_at]
    if not ran:
        ax.text(0.5, 0.5, "no task ran", ha="center", transform=ax.transAxes)
        return
    origin = min(t.started_at for t in ran if t.started_at)
    ordered = sorted(ran, key=lambda t: (t.backend, t.started_at, t.key))
    spans = [
        (t.backend, _since(t.started_at, origin), _since(t.finished_at, origin))
        for t in ordered
        if t.started_at and t.finished_at
    ]
    placed = lanes(spans)
    rows = sorted(set(placed))
    row_of = {key: i for i, key in enumerate(rows)}
    colours = {b: f"C{i % 10}" for i, b in enumerate(sorted({t.backend for t in ran}))}
    failed = 0
    for task, (backend, start, end), key in zip(ordered, spans, placed, strict=True):
        bad = task.state.value != "COMPLETED"
        failed += bad
        ax.barh(row_of[key], max(end - start, 1e-3), left=start, height=0.8,
                color=colours[backend], edgecolor="black" if bad else "none",
                hatch="xx" if bad else None, linewidth=0.6)  # fmt: skip
    ax.set_yticks(range(len(rows)), [f"{b} #{lane + 1}" for b, lane in rows], fontsize="x-small")
    ax.invert_yaxis()
    from matplotlib.patches import Patch

    handles = [Patch(color=colour, label=backend) for backend, colour in colours.items()]
    if failed:
        handles.append(Patch(facecolor="white", edgecolor="black", hatch="xx",
                             label=f"not completed ({failed})"))  # fmt: skip
    ax.set_xlabel("seconds since the first task started")
    ax.set_title(f"{len(ordered)} tasks on {len(colours)} backend(s), one row per lane")
    ax.legend(handles=handles, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))


def plot_result(found: JobResult, algorithm: str, path: Path) -> Path:
    """Draw ``found`` (a job of ``algorithm``) into ``path``; the path."""
    fig = draw_result(found, algorithm)
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
    return path


def draw_result(found: JobResult, algorithm: str) -> Any:
    """The figure of ``found``: the algorithm's panel (when its result has one) and the
    timeline of its tasks."""
    result = found.result or {}  # a failed job: only when its tasks ran
    if not found.lineage.tasks:
        raise BrokerError(f"job {found.id} ran no task; there is nothing to draw")
    kind = next((k for k in ("history", "iterations", "axes", "bound") if k in result), None)
    plt = pyplot()
    drawn = (_maps(result) if kind == "axes" else 1) if kind else 0
    panels = drawn + 1
    fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 4.2), squeeze=False)
    first = axes[0][0]
    if kind == "history":
        _convergence(first, result, algorithm)
    elif kind == "iterations":
        _sqd(first, result)
    elif kind == "axes":
        _sweep(list(axes[0][:drawn]), result)
    elif kind == "bound":
        _cutting(first, result)
    _timeline(axes[0][panels - 1], found)
    fig.suptitle(f"{algorithm} job {found.id}: {found.state.value}")
    fig.tight_layout()  # the timeline's legend sits to its right, outside the bars
    return fig

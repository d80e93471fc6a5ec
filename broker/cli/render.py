"""How ``qcb`` shows jobs to a person: progress bars, tables and summaries."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from broker.core.models import JobResult, JobStatus

if TYPE_CHECKING:
    from broker.catalog import BackendInfo


class JobProgress:
    """A progress bar for one job: step of maxiter, latest energy, elapsed time."""

    def __init__(self, console: Console, title: str) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[steps]}"),
            TextColumn("{task.fields[energy]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.task = self.progress.add_task(title, total=None, energy="", steps="starting")
        self.started = time.monotonic()

    def __enter__(self) -> JobProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def update(self, status: JobStatus) -> None:
        """Show the job's latest progress."""
        prog = status.progress
        step, total = prog.get("step", 0), prog.get("maxiter")
        if prog.get("total") is not None:  # a task graph: steps done of all
            step, total = prog.get("done", 0), prog["total"]
        self.progress.update(
            self.task,
            total=total,
            completed=step,
            steps=f"step {step}/{total}" if total else f"step {step}",
            energy=_figure(prog) or status.state.value.lower(),
        )


def _figure(prog: dict[str, Any]) -> str:
    """The one number worth watching in a job's progress."""
    if prog.get("energy") is not None:
        return f"E = {prog['energy']:.8f}"
    if prog.get("expectation") is not None:
        return f"<C> = {prog['expectation']:.6g}"
    if prog.get("running"):
        return "running " + ", ".join(prog["running"])[:60]
    return ""


def _answer(res: dict[str, Any]) -> list[str]:
    """The lines that give a result's answer, by what the result holds."""
    lines = []
    if res.get("partial"):
        lines.append(
            f"  partial result   where the job stood when it ended (step {res.get('step', '?')})"
        )
    if isinstance(res.get("best_energy"), int | float):
        lines.append(f"  best energy      {res['best_energy']:.10f}")
    if isinstance(res.get("energy"), int | float):
        lines.append(f"  energy           {res['energy']:.10f}")
    if isinstance(res.get("reference_energy"), int | float):
        lines.append(f"  exact (classical) {res['reference_energy']:.10f}")
        if isinstance(res.get("error"), int | float):
            lines.append(f"  error            {res['error'] * 1000:+.4f} mHa")
    if "cut_value" in res:
        sides = "".join(str(s) for s in res.get("cut", []))
        lines.append(f"  cut value        {res['cut_value']:g}  (sides {sides})")
    if "shape" in res:
        lines.append(f"  grid             {' x '.join(map(str, res['shape']))} points")
    best = res.get("best")
    if isinstance(best, dict) and "value" in best:
        at = ", ".join(f"{k}={v:.6g}" for k, v in best.get("parameters", {}).items())
        lines.append(f"  lowest           {best['value']:.6g} at {at}")
    if "bound" in res and "expectation_values" in res:
        reference = res.get("reference") or [None] * len(res["expectation_values"])
        for i, (value, bound, exact) in enumerate(
            zip(res["expectation_values"], res["bound"], reference, strict=False)
        ):
            uncut = f"  (uncut {exact:.6f})" if exact is not None else ""
            lines.append(f"  observable {i}     {value:.6f} ± {bound:.6f}{uncut}")
    if "outputs" in res and "waves" in res:
        lines.append(f"  steps            {', '.join(res['outputs'])}")
        lines.append(f"  waves            {' -> '.join('+'.join(w) for w in res['waves'])}")
    iterations = res.get("iterations")
    if isinstance(iterations, int):
        lines.append(f"  iterations       {iterations}")
    elif isinstance(iterations, list):
        lines.append(f"  iterations       {len(iterations)}")
    return lines + _warnings(res)


CHEMICAL_ACCURACY_HA = 1.6e-3
"""1 kcal/mol in hartree: the usual bar for a chemistry result."""


def _warnings(res: dict[str, Any]) -> list[str]:
    """What a reader must not miss: an optimizer that stopped before converging, an error
    against the exact value beyond chemical accuracy."""
    lines = []
    if res.get("converged") is False:
        lines.append(
            "  warning          the optimizer stopped at its maxiter without converging; "
            "raise optimizer.maxiter or start from this result's parameters"
        )
    error = res.get("error")
    if isinstance(error, int | float) and abs(error) > CHEMICAL_ACCURACY_HA:
        lines.append(
            f"  warning          {abs(error) * 1000:.1f} mHa from the exact value, beyond "
            "chemical accuracy (1.6 mHa)"
        )
    return lines


def summary(result: JobResult) -> str:
    """A few lines on a finished job."""
    lines = [f"job {result.id}: {result.state.value}"]
    if result.message:
        lines.append(f"  {result.message}")
    res = result.result or {}
    lines += _answer(res)
    used: dict[str, float] = {}
    for c in result.charges:
        if c.kind == "charge":
            key = f"{c.backend} {c.unit}"
            used[key] = used.get(key, 0.0) + c.amount
    if used:
        lines.append("  charged          " + ", ".join(f"{v:g} {k}" for k, v in used.items()))
    lines.append(f"  policy revision  {result.lineage.policy_revision}")
    return "\n".join(lines)


def jobs_table(statuses: list[JobStatus]) -> Table:
    """A table of jobs, as squeue lays one out: id, state, step and submission time (UTC)
    first and never cut; proposal, algorithm, backend and name shrink to fit."""
    table = Table(
        caption=None if statuses else "no jobs match",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
    )
    widest = max((len(s.id) for s in statuses), default=2)
    table.add_column("id", no_wrap=True, min_width=widest)
    table.add_column("state", no_wrap=True, min_width=9)
    table.add_column("step", justify="right", no_wrap=True, min_width=4)
    table.add_column("submitted", no_wrap=True, min_width=11)
    for name in ("proposal", "algorithm", "backend", "name"):
        table.add_column(name, overflow="ellipsis", no_wrap=True)
    for s in statuses:
        table.add_row(
            s.id,
            s.state.value + (" held" if s.held_by else "") + (" waiting" if s.waits_for else ""),
            str(s.step),
            s.created_at.strftime("%m-%d %H:%M"),
            escape(s.proposal),
            s.algorithm,
            escape(s.backend),
            escape(s.name or ""),
        )
    return table


def status_text(status: JobStatus) -> str:
    """A job's state for a person: state, step, the figure to watch, its tasks by state."""
    prog = status.progress
    step, total = prog.get("step", status.step), prog.get("maxiter")
    if prog.get("total") is not None:
        step, total = prog.get("done", 0), prog["total"]
    state = status.state.value + (f" (held by {status.held_by})" if status.held_by else "")
    parts = [status.id, state, f"step {step}/{total}" if total else f"step {step}"]
    figure = _figure(prog)
    if figure:
        parts.append(figure)
    lines = ["  ".join(parts)]
    if status.tasks:
        counts = ", ".join(f"{n} {state.lower()}" for state, n in sorted(status.tasks.items()))
        lines.append(f"  tasks: {counts}")
    when = f"{status.created_at:%Y-%m-%d %H:%M:%S}"
    what = status.name or status.algorithm
    lines.append(f"  {what} on {status.backend}, proposal {status.proposal}, submitted {when} UTC")
    if status.waits_for:
        lines.append(f"  waits for {', '.join(status.waits_for)}")
    if status.message:
        lines.append(f"  {status.message}")
    return "\n".join(lines)


def backends_table(infos: list[BackendInfo]) -> Table:
    """Backends as a table: usable ones with their qubits, the others with the reason."""
    table = Table("backend", "kind", "qubits", "exact", "software / why not usable")
    for info in infos:
        if info.available:
            exact = "" if info.exact is None else ("yes" if info.exact else "no")
            qubits = "" if info.max_qubits is None else str(info.max_qubits)
            table.add_row(info.name, info.kind or "", qubits, exact, info.version or "")
        else:
            reason = escape(info.reason or "")
            table.add_row(f"[dim]{escape(info.name)}[/]", "", "", "", f"[yellow]{reason}[/]")
    return table

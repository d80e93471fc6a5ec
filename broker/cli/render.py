"""How ``qcb`` shows jobs to a person: progress bars, tables and summaries."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from broker.models import JobResult, JobStatus

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
        energy = prog.get("energy")
        step, total = prog.get("step", 0), prog.get("maxiter")
        self.progress.update(
            self.task,
            total=total,
            completed=step,
            steps=f"step {step}/{total}" if total else f"step {step}",
            energy=f"E = {energy:.8f}" if energy is not None else status.state.value.lower(),
        )


def summary(result: JobResult) -> str:
    """A few lines on a finished job."""
    lines = [f"job {result.id}: {result.state.value}"]
    if result.message:
        lines.append(f"  {result.message}")
    res = result.result or {}
    if "energy" in res:
        lines.append(f"  energy           {res['energy']:.10f}")
    if "reference_energy" in res:
        lines.append(f"  exact (classical) {res['reference_energy']:.10f}")
        lines.append(f"  error            {res['error'] * 1000:+.4f} mHa")
    if "iterations" in res:
        lines.append(f"  iterations       {res['iterations']}")
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
    """A table of jobs."""
    table = Table("id", "name", "proposal", "algorithm", "backend", "state", "step", "created")
    for s in statuses:
        table.add_row(
            s.id,
            s.name or "",
            s.proposal,
            s.algorithm,
            s.backend,
            s.state.value,
            str(s.step),
            s.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    return table


def backends_table(infos: list[BackendInfo]) -> Table:
    """Backends as a table: usable ones with their qubits, the others with the reason."""
    table = Table("backend", "kind", "qubits", "exact", "software / why not usable")
    for info in infos:
        if info.available:
            exact = "" if info.exact is None else ("yes" if info.exact else "no")
            qubits = "" if info.max_qubits is None else str(info.max_qubits)
            table.add_row(info.name, info.kind or "", qubits, exact, info.version or "")
        else:
            table.add_row(f"[dim]{info.name}[/]", "", "", "", f"[yellow]{info.reason}[/]")
    return table

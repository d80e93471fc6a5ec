"""What ``qcb policy simulate`` reports: per proposal, its share of each backend's busy
time, tasks run, waits and admission; and the differences between two revisions."""

from __future__ import annotations

import math
import re
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_REASONS = (
    (re.compile(r"unknown proposal"), "unknown proposal"),
    (re.compile(r"is not a member"), "user not a member"),
    (re.compile(r"governs .* only"), "outside the policy's dates"),
    (re.compile(r"starts on"), "proposal not started"),
    (re.compile(r"expired on"), "proposal expired"),
    (re.compile(r"may not use QOS"), "QOS not allowed"),
    (re.compile(r"security domain"), "security domain"),
    (re.compile(r"has no budget on backend"), "no budget on backend"),
    (re.compile(r"no new work starts"), "hard stop (overrun)"),
    (re.compile(r" left on "), "budget exhausted"),
)


def reason_kind(reason: str) -> str:
    """A short kind for an admission refusal (its numbers left out), for counting."""
    for pattern, kind in _REASONS:
        if pattern.search(reason):
            return kind
    return reason[:80]


@dataclass
class Tally:
    """What the replay counts for one proposal while it runs."""

    submitted: int = 0
    admitted: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    refused_ids: list[str] = field(default_factory=list)
    completed: int = 0
    tasks_admitted: int = 0
    tasks_run: int = 0
    busy: dict[str, float] = field(default_factory=dict)
    waits: array[float] = field(default_factory=lambda: array("d"))
    start_delays: array[float] = field(default_factory=lambda: array("d"))


@dataclass(frozen=True)
class ProposalReport:
    """One proposal's outcome in a replay. Waits are from a task becoming ready (its step
    started) to its release, in seconds; start delay from submission to the first release."""

    proposal: str
    jobs_submitted: int
    jobs_admitted: int
    jobs_refused: int
    refused_reasons: dict[str, int]
    refused_jobs: tuple[str, ...]
    jobs_completed: int
    tasks_run: int
    tasks_left: int
    busy: dict[str, float]
    share: dict[str, float]
    wait_mean: float
    wait_p50: float
    wait_p90: float
    start_delay_mean: float


@dataclass(frozen=True)
class SimReport:
    """The outcome of replaying a trace under one policy revision."""

    revision: str
    start: float
    end: float
    capacity: dict[str, int]
    busy: dict[str, float]
    """Occupancy per backend (backend-seconds, x nodes for classical tasks)."""
    utilization: dict[str, float]
    """Busy slots over capacity x the replay's span."""
    proposals: dict[str, ProposalReport]
    jobs: int
    tasks: int
    replay_seconds: float

    def to_json(self) -> dict[str, Any]:
        """The report as plain JSON data."""
        out = {k: v for k, v in self.__dict__.items() if k != "proposals"}
        out["proposals"] = {
            p: {**r.__dict__, "refused_jobs": list(r.refused_jobs)}
            for p, r in self.proposals.items()
        }
        return out


def _stats(values: array[float]) -> tuple[float, float, float]:
    if not values:
        return math.nan, math.nan, math.nan
    a = np.frombuffer(values, dtype=np.float64)
    p50, p90 = np.percentile(a, [50, 90])
    return float(a.mean()), float(p50), float(p90)


def build_report(
    revision: str,
    start: float,
    end: float,
    capacity: dict[str, int],
    slot_seconds: dict[str, float],
    tallies: dict[str, Tally],
    replay_seconds: float,
) -> SimReport:
    """Turn the tallies of a replay into its report."""
    busy: dict[str, float] = dict.fromkeys(capacity, 0.0)
    for t in tallies.values():
        for b, v in t.busy.items():
            busy[b] = busy.get(b, 0.0) + v
    span = max(end - start, 1e-9)
    proposals = {}
    for pid in sorted(tallies):
        t = tallies[pid]
        mean, p50, p90 = _stats(t.waits)
        delays = np.frombuffer(t.start_delays, dtype=np.float64)
        proposals[pid] = ProposalReport(
            proposal=pid,
            jobs_submitted=t.submitted,
            jobs_admitted=t.admitted,
            jobs_refused=sum(t.refused.values()),
            refused_reasons=dict(t.refused),
            refused_jobs=tuple(t.refused_ids),
            jobs_completed=t.completed,
            tasks_run=t.tasks_run,
            tasks_left=t.tasks_admitted - t.tasks_run,
            busy=dict(t.busy),
            share={b: v / busy[b] for b, v in t.busy.items() if busy.get(b, 0.0) > 0},
            wait_mean=mean,
            wait_p50=p50,
            wait_p90=p90,
            start_delay_mean=float(delays.mean()) if delays.size else math.nan,
        )
    return SimReport(
        revision=revision,
        start=start,
        end=end,
        capacity=dict(capacity),
        busy=busy,
        utilization={b: slot_seconds.get(b, 0.0) / (c * span) for b, c in capacity.items()},
        proposals=proposals,
        jobs=sum(t.submitted for t in tallies.values()),
        tasks=sum(t.tasks_run for t in tallies.values()),
        replay_seconds=replay_seconds,
    )


def _h(seconds: float) -> str:
    if math.isnan(seconds):
        return "-"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    if seconds >= 60:
        return f"{seconds / 60:.1f}m"
    return f"{seconds:.0f}s"


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def format_report(report: SimReport) -> str:
    """The report as text: one row per proposal, then backend shares."""
    head = (
        f"policy {report.revision}: {report.jobs} jobs, {report.tasks} tasks run, "
        f"{_h(report.end - report.start)} simulated in {report.replay_seconds:.1f} s"
    )
    rows = []
    for r in report.proposals.values():
        refused = ", ".join(f"{k} x{n}" for k, n in sorted(r.refused_reasons.items()))
        rows.append(
            [
                r.proposal,
                f"{r.jobs_admitted}/{r.jobs_submitted}",
                str(r.tasks_run),
                str(r.tasks_left),
                _h(r.wait_mean),
                _h(r.wait_p50),
                _h(r.wait_p90),
                refused or "-",
            ]
        )
    header = ["proposal", "admitted", "tasks", "left", "wait", "p50", "p90", "refused"]
    share_rows = [
        [r.proposal, b, f"{100 * s:.1f} %"]
        for r in report.proposals.values()
        for b, s in sorted(r.share.items())
    ]
    util = ", ".join(f"{b} {100 * u:.0f} %" for b, u in sorted(report.utilization.items()))
    return "\n\n".join(
        [
            head,
            _table(header, rows),
            _table(["proposal", "backend", "share of busy time"], share_rows),
            f"utilization: {util}",
        ]
    )


@dataclass(frozen=True)
class Delta:
    """How one proposal fares under a new revision compared with an old one."""

    proposal: str
    share_old: dict[str, float]
    share_new: dict[str, float]
    tasks_old: int
    tasks_new: int
    wait_mean_old: float
    wait_mean_new: float
    wait_p90_old: float
    wait_p90_new: float
    newly_refused: tuple[str, ...]
    newly_admitted: tuple[str, ...]

    def share_change(self) -> dict[str, float]:
        """New share minus old share, per backend."""
        backends = set(self.share_old) | set(self.share_new)
        return {
            b: self.share_new.get(b, 0.0) - self.share_old.get(b, 0.0) for b in sorted(backends)
        }


def compare(old: SimReport, new: SimReport) -> list[Delta]:
    """Per proposal: share, waits and admission under ``new`` against ``old``."""
    out = []
    for pid in sorted(set(old.proposals) | set(new.proposals)):
        a, b = old.proposals.get(pid), new.proposals.get(pid)
        refused_a = set(a.refused_jobs) if a else set()
        refused_b = set(b.refused_jobs) if b else set()
        out.append(
            Delta(
                proposal=pid,
                share_old=a.share if a else {},
                share_new=b.share if b else {},
                tasks_old=a.tasks_run if a else 0,
                tasks_new=b.tasks_run if b else 0,
                wait_mean_old=a.wait_mean if a else math.nan,
                wait_mean_new=b.wait_mean if b else math.nan,
                wait_p90_old=a.wait_p90 if a else math.nan,
                wait_p90_new=b.wait_p90 if b else math.nan,
                newly_refused=tuple(sorted(refused_b - refused_a)),
                newly_admitted=tuple(sorted(refused_a - refused_b)),
            )
        )
    return out


def _signed(seconds: float) -> str:
    if math.isnan(seconds):
        return "-"
    return ("+" if seconds >= 0 else "-") + _h(abs(seconds))


def format_comparison(deltas: list[Delta], old: str = "old", new: str = "new") -> str:
    """The differences as a table: share change (largest backend), waits, admission."""
    rows = []
    for d in deltas:
        change = d.share_change()
        biggest = max(change, key=lambda b: abs(change[b]), default=None)
        share = f"{biggest} {100 * change[biggest]:+.1f} pp" if biggest else "-"
        rows.append(
            [
                d.proposal,
                share,
                f"{d.tasks_old} -> {d.tasks_new}",
                f"{_h(d.wait_mean_old)} -> {_h(d.wait_mean_new)}",
                _signed(d.wait_mean_new - d.wait_mean_old),
                _signed(d.wait_p90_new - d.wait_p90_old),
                str(len(d.newly_refused)),
                str(len(d.newly_admitted)),
            ]
        )
    header = [
        "proposal",
        "share change",
        "tasks",
        "wait (mean)",
        "wait change",
        "p90 change",
        "newly refused",
        "newly admitted",
    ]
    return f"{old} -> {new}\n" + _table(header, rows)

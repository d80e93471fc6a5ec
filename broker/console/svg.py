"""The console's two plots as inline SVG, drawn on the server: a convergence plot (a value
per iteration) and a timeline of a job's tasks on each backend.

Neither needs colour to be read: points are marked, reference lines are dashed and
labelled, and a task's wait is an outlined bar where its run is a filled one, with a legend
in words. Each plot carries a title for screen readers, and the page shows the same data
as a table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

W, H = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 72, 16, 16, 40


def _num(value: float) -> str:
    return f"{value:.6g}"


def _scale(lo: float, hi: float, a: float, b: float) -> tuple[float, float]:
    """``(gain, offset)`` mapping [lo, hi] onto [a, b] (a flat range onto its middle)."""
    if hi - lo <= 0:
        return 0.0, (a + b) / 2
    gain = (b - a) / (hi - lo)
    return gain, a - lo * gain


def convergence(
    values: Sequence[float],
    *,
    label: str,
    reference: float | None = None,
    reference_label: str = "exact",
) -> str:
    """A value per iteration (from 1), with an optional dashed reference line."""
    points = [(i + 1, v) for i, v in enumerate(values) if math.isfinite(v)]
    if not points:
        return ""
    ys = [v for _, v in points] + ([reference] if reference is not None else [])
    lo, hi = min(ys), max(ys)
    pad = (hi - lo) * 0.05 or abs(hi) * 0.05 or 1.0
    lo, hi = lo - pad, hi + pad
    gx, ox = _scale(1, max(len(points), 2), LEFT, W - RIGHT)
    gy, oy = _scale(lo, hi, H - BOTTOM, TOP)
    xy = [(ox + gx * i, oy + gy * v) for i, v in points]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" '
        f'class="plot" aria-labelledby="conv-title">',
        f'<title id="conv-title">{escape(label)} per iteration: {len(points)} iterations, '
        f"last {_num(points[-1][1])}</title>",
        _axes(lo, hi, ("1", str(len(points))), label, "iteration"),
        '<polyline class="series" fill="none" points="'
        + " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        + '"/>',
    ]
    parts += [f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3"/>' for x, y in xy]
    if reference is not None:
        y = oy + gy * reference
        parts.append(
            f'<line class="reference" x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="label" x="{W - RIGHT - 4}" y="{y - 4:.1f}" text-anchor="end">'
            f"{escape(reference_label)} {_num(reference)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _axes(lo: float, hi: float, xticks: tuple[str, str], ylabel: str, xlabel: str) -> str:
    bottom, right = H - BOTTOM, W - RIGHT
    return (
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}"/>'
        f'<line class="axis" x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}"/>'
        f'<text class="tick" x="{LEFT - 6}" y="{TOP + 10}" text-anchor="end">{_num(hi)}</text>'
        f'<text class="tick" x="{LEFT - 6}" y="{bottom}" text-anchor="end">{_num(lo)}</text>'
        f'<text class="tick" x="{LEFT}" y="{bottom + 16}">{escape(xticks[0])}</text>'
        f'<text class="tick" x="{right}" y="{bottom + 16}" text-anchor="end">'
        f"{escape(xticks[1])}</text>"
        f'<text class="label" x="{(LEFT + right) / 2}" y="{H - 6}" text-anchor="middle">'
        f"{escape(xlabel)}</text>"
        f'<text class="label" x="14" y="{(TOP + bottom) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 14 {(TOP + bottom) / 2})">{escape(ylabel)}</text>'
    )


@dataclass(frozen=True)
class Span:
    """One task on the timeline: queued at ``created``, ran from ``started`` to ``ended``
    (``None``: not yet)."""

    label: str
    backend: str
    created: datetime
    started: datetime | None
    ended: datetime | None


def timeline(spans: Sequence[Span], now: datetime) -> str:
    """Each backend a lane; each task its wait (outlined) and its run (filled)."""
    if not spans:
        return ""
    lanes = sorted({s.backend for s in spans})
    t0 = min(s.created for s in spans)
    t1 = max(max(s.ended or s.started or s.created for s in spans), now)
    total = max((t1 - t0).total_seconds(), 1e-3)
    lane_h = 28
    height = TOP + lane_h * len(lanes) + BOTTOM
    gx = (W - RIGHT - LEFT - 40) / total
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" role="img" '
        f'class="plot" aria-labelledby="tl-title">',
        f'<title id="tl-title">Timeline of {len(spans)} tasks on {len(lanes)} backends over '
        f"{total:.1f} s</title>",
    ]
    for k, lane in enumerate(lanes):
        y = TOP + k * lane_h
        parts.append(
            f'<text class="tick" x="{LEFT + 30}" y="{y + 18}" text-anchor="end">'
            f"{escape(lane[:14])}</text>"
        )
        for s in (s for s in spans if s.backend == lane):
            parts.append(_bars(s, t0, gx, LEFT + 40, y + 4, now))
    bottom = TOP + lane_h * len(lanes)
    parts.append(
        f'<line class="axis" x1="{LEFT + 40}" y1="{bottom}" x2="{W - RIGHT}" y2="{bottom}"/>'
        f'<text class="tick" x="{LEFT + 40}" y="{bottom + 16}">0 s</text>'
        f'<text class="tick" x="{W - RIGHT}" y="{bottom + 16}" text-anchor="end">'
        f"{total:.1f} s</text>"
        f'<rect class="wait" x="{LEFT + 40}" y="{bottom + 24}" width="14" height="10"/>'
        f'<text class="tick" x="{LEFT + 60}" y="{bottom + 33}">waiting</text>'
        f'<rect class="run" x="{LEFT + 140}" y="{bottom + 24}" width="14" height="10"/>'
        f'<text class="tick" x="{LEFT + 160}" y="{bottom + 33}">running</text>'
        "</svg>"
    )
    return "".join(parts)


def _bars(s: Span, t0: datetime, gx: float, x0: float, y: float, now: datetime) -> str:
    def x(t: datetime) -> float:
        return x0 + gx * (t - t0).total_seconds()

    start = s.started or now
    out = (
        f'<rect class="wait" x="{x(s.created):.1f}" y="{y:.1f}" '
        f'width="{max(x(start) - x(s.created), 1):.1f}" height="18">'
        f"<title>{escape(s.label)} waiting</title></rect>"
    )
    if s.started is not None:
        end = s.ended or now
        out += (
            f'<rect class="run" x="{x(s.started):.1f}" y="{y:.1f}" '
            f'width="{max(x(end) - x(s.started), 1):.1f}" height="18">'
            f"<title>{escape(s.label)} running</title></rect>"
        )
    return out


def burn_down(
    points: Sequence[tuple[datetime, float]], limit: float, start: datetime, end: datetime
) -> str:
    """A budget's cumulative use over its period (a step line), its limit dashed."""
    total = max((end - start).total_seconds(), 1.0)
    top = max([limit, *(v for _, v in points)]) or 1.0
    gx = (W - RIGHT - LEFT) / total
    gy, oy = _scale(0.0, top * 1.05, H - BOTTOM, TOP)
    xy: list[tuple[float, float]] = [(float(LEFT), oy)]
    for at, used in points:
        x = LEFT + gx * min(max((at - start).total_seconds(), 0.0), total)
        xy += [(x, xy[-1][1]), (x, oy + gy * used)]
    used_now = points[-1][1] if points else 0.0
    y_limit = oy + gy * limit
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" '
        f'class="plot"><title>Used {_num(used_now)} of {_num(limit)} from '
        f"{start:%Y-%m-%d} to {end:%Y-%m-%d}</title>"
        + _axes(0.0, top * 1.05, (f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d}"), "used", "")
        + '<polyline class="series" fill="none" points="'
        + " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        + '"/>'
        f'<line class="reference" x1="{LEFT}" x2="{W - RIGHT}" y1="{y_limit:.1f}" '
        f'y2="{y_limit:.1f}"/><text class="label" x="{W - RIGHT - 4}" y="{y_limit - 4:.1f}" '
        f'text-anchor="end">limit {_num(limit)}</text></svg>'
    )


__all__ = ["Span", "burn_down", "convergence", "timeline"]

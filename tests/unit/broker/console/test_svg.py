"""The console's plots: values land where the axes say, names are escaped, unfinished
tasks are drawn up to now, and nothing is drawn from nothing."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from xml.etree import ElementTree

from broker.console import svg

NS = {"s": "http://www.w3.org/2000/svg"}


def test_convergence_points_follow_the_values() -> None:
    values = [-0.2, -0.9, -1.1, -1.13]
    drawn = svg.convergence(values, label="energy (Ha)", reference=-1.137)
    root = ElementTree.fromstring(drawn)
    points = [(float(c.get("cx", 0)), float(c.get("cy", 0))) for c in root.iterfind("s:circle", NS)]
    assert len(points) == 4
    assert [x for x, _ in points] == sorted(x for x, _ in points)
    ys = [y for _, y in points]  # larger value, smaller y: lower energies lower on the plot
    assert ys == sorted(ys)
    line = root.find("s:line[@class='reference']", NS)
    assert line is not None and float(line.get("y1", 0)) > ys[-1]
    assert "4 iterations, last -1.13" in drawn


def test_convergence_escapes_and_skips_what_cannot_be_drawn() -> None:
    drawn = svg.convergence([1.0, float("nan"), 2.0], label="<script>x</script>")
    assert "<script>" not in drawn and "&lt;script&gt;" in drawn
    assert len(re.findall("<circle", drawn)) == 2
    assert svg.convergence([], label="x") == ""
    assert svg.convergence([float("inf")], label="x") == ""
    flat = ElementTree.fromstring(svg.convergence([3.0, 3.0], label="flat"))
    assert len(flat.findall("s:circle", NS)) == 2


def test_timeline_waits_and_runs_per_backend() -> None:
    t0 = datetime(2026, 12, 8, 12, 0, 0)
    spans = [
        svg.Span("a", "slurm", t0, t0 + timedelta(seconds=2), t0 + timedelta(seconds=5)),
        svg.Span("b", "aer", t0, t0 + timedelta(seconds=1), None),
        svg.Span("c<&>", "aer", t0 + timedelta(seconds=3), None, None),
    ]
    drawn = svg.timeline(spans, now=t0 + timedelta(seconds=10))
    root = ElementTree.fromstring(drawn)
    waits = root.findall("s:rect[@class='wait']", NS)
    runs = root.findall("s:rect[@class='run']", NS)
    assert (len(waits), len(runs)) == (3 + 1, 2 + 1)  # one of each in the legend
    assert "c&lt;&amp;&gt; waiting" in drawn
    widths = {r.find("s:title", NS).text: float(r.get("width", 0)) for r in runs[:-1]}  # type: ignore[union-attr]
    assert widths["b running"] > widths["a running"]  # b runs until now (9 s) against 3 s
    assert "10.0 s" in drawn
    assert svg.timeline([], now=t0) == ""

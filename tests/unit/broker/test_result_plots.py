"""What ``qcb result --plot`` draws for each kind of result."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from backends.states import TaskState
from broker.cli.result_plots import CHEMICAL_ACCURACY, draw_result
from broker.core.models import JobResult, Lineage, TaskRecord
from broker.errors import BrokerError

T0 = datetime(2026, 12, 4, 12, 0, 0)


def task(key: str, backend: str, start: float, seconds: float) -> TaskRecord:
    """A finished task that ran from T0 + start for ``seconds``."""
    return TaskRecord(
        id=f"t-{key}",
        step=0,
        key=key,
        kind="quantum",
        backend=backend,
        state=TaskState.COMPLETED,
        created_at=T0,
        started_at=T0 + timedelta(seconds=start),
        finished_at=T0 + timedelta(seconds=start + seconds),
    )


def job(result: dict[str, Any] | None, tasks: list[TaskRecord]) -> JobResult:
    """A job result with ``result`` and ``tasks``."""
    lineage = Lineage(
        job_id="j-1",
        job_sha256="0",
        inputs_sha256="0",
        circuits=[],
        backend="aer",
        backend_version=None,
        seed=1,
        policy_revision="r",
        packages={},
        tasks=tasks,
    )
    state = TaskState.COMPLETED if result is not None else TaskState.FAILED
    return JobResult(id="j-1", state=state, result=result, charges=[], lineage=lineage)


TASKS = [task("a", "aer", 0, 2), task("b", "cirq", 1, 2), task("c", "aer", 3, 1)]


def test_convergence_is_the_history_with_the_exact_energy() -> None:
    history = [-0.5, -0.9, -1.1, -1.13]
    fig = draw_result(job({"history": history, "reference_energy": -1.137}, TASKS), "vqe")
    left, right = fig.axes
    assert left.get_title() == "VQE convergence"
    assert list(left.lines[0].get_ydata()) == history
    assert list(left.lines[1].get_ydata()) == [-1.137, -1.137]
    assert right.get_title() == "3 tasks on 2 backend(s), one row per lane"
    widths = sorted(p.get_width() for p in right.patches)
    assert widths == [1.0, 2.0, 2.0]
    # a and c ran one after the other on aer: one lane; b on cirq: another
    assert [t.get_text() for t in right.get_yticklabels()] == ["aer #1", "cirq #1"]


def test_sqd_shows_each_iteration_against_chemical_accuracy() -> None:
    rows = [
        {"iteration": 1, "energy": -7.8, "batch_energies": [-7.8, -7.7]},
        {"iteration": 2, "energy": -7.88, "batch_energies": [-7.88, -7.87]},
    ]
    fig = draw_result(job({"iterations": rows, "reference_energy": -7.882}, TASKS), "sqd")
    left = fig.axes[0]
    assert list(left.lines[0].get_ydata()) == [-7.8, -7.88]
    band = next(p for p in left.patches if p.get_label() == "chemical accuracy")
    low, high = band.get_y(), band.get_y() + band.get_height()
    assert low == pytest.approx(-7.882 - CHEMICAL_ACCURACY)
    assert high == pytest.approx(-7.882 + CHEMICAL_ACCURACY)


def test_a_sweep_draws_a_line_in_one_dimension_and_an_image_in_two() -> None:
    one = {"axes": {"theta": [0.0, 1.0, 2.0]}, "expectation_values": [[1.0], [0.5], [-0.4]]}
    fig = draw_result(job(one, TASKS), "sweep")
    assert list(fig.axes[0].lines[0].get_ydata()) == [1.0, 0.5, -0.4]
    both = {"axes": {"theta": [0.0, 1.0]}, "expectation_values": [[1.0, 0.0], [0.5, 0.8]]}
    lines = draw_result(job(both, TASKS), "sweep").axes[0].lines
    assert [list(line.get_ydata()) for line in lines] == [[1.0, 0.5], [0.0, 0.8]]
    assert lines[0].get_marker() != lines[1].get_marker()  # told apart without colour
    two = {
        "axes": {"a": [0.0, 1.0], "b": [0.0, 1.0, 2.0]},
        "expectation_values": [[[1.0], [2.0], [3.0]], [[4.0], [5.0], [6.0]]],
    }
    fig = draw_result(job(two, TASKS), "sweep")
    image = fig.axes[0].images[0].get_array()
    assert image.shape == (3, 2) and image[2][1] == 6.0  # b down the side, a across


def test_cutting_shows_values_bounds_and_the_uncut_reference() -> None:
    result = {"expectation_values": [0.2, -0.1], "bound": [0.05, 0.04], "reference": [0.21, -0.12]}
    fig = draw_result(job(result, TASKS), "cutting")
    assert "circuit cutting" in fig.axes[0].get_title()
    assert len(fig.axes[0].collections) >= 2  # error bars and the reference markers


def test_a_failed_job_still_shows_its_timeline_and_one_with_no_task_is_an_error() -> None:
    fig = draw_result(job(None, TASKS), "graph")
    assert len(fig.axes) == 1 and fig.axes[0].get_title().startswith("3 tasks on 2 backend")
    with pytest.raises(BrokerError, match="ran no task"):
        draw_result(job(None, []), "graph")


def test_hundreds_of_tasks_pack_into_lanes_and_failures_are_hatched() -> None:
    many = [task(f"k{i}", "aer" if i % 2 else "slurm", i * 0.5, 1.0) for i in range(300)]
    many[7] = many[7].model_copy(update={"state": TaskState.FAILED})
    fig = draw_result(job(None, many), "graph")
    timeline = fig.axes[0]
    rows = [t.get_text() for t in timeline.get_yticklabels()]
    assert len(rows) <= 6 and {r.split()[0] for r in rows} == {"aer", "slurm"}
    hatched = [p for p in timeline.patches if p.get_hatch()]
    assert len(hatched) == 1
    legend = timeline.get_legend()
    assert "not completed (1)" in [t.get_text() for t in legend.get_texts()]
    assert legend.get_bbox_to_anchor().x0 > timeline.get_window_extent().x1 - 1  # outside


def test_qaoa_shows_the_optimum_beside_its_convergence() -> None:
    result = {"history": [5.0, 7.5, 8.9], "cut_value": 9.0, "max_cut": 10.0}
    ax = draw_result(job(result, TASKS), "qaoa").axes[0]
    labels = [line.get_label() for line in ax.lines]
    assert "maximum cut (exact)" in labels and "best sampled cut (9)" in labels


def test_usage_draws_budgets_in_use_with_today_and_names_the_idle_ones(tmp_path: Any) -> None:
    from unittest import mock

    from broker.accounting.usage import BudgetUsage, BurnPoint, ProposalUsage
    from broker.cli import plots

    def budget(backend: str, used: float) -> BudgetUsage:
        return BudgetUsage(
            proposal="p", backend=backend, unit="shots", period="allocation_year",
            enforcement="hard", period_start=T0 - timedelta(days=30),
            period_end=T0 + timedelta(days=335), awarded=1000.0, limit=1000.0, used=used,
            held=0.0, remaining=1000.0 - used, used_pct=used / 10,
        )  # fmt: skip

    usage = ProposalUsage(
        proposal="p", title="", pi="pi", standing="",
        budgets=[budget("aer", 300.0), *(budget(f"idle{i}", 0.0) for i in range(31))],
    )  # fmt: skip
    series = {("p", "aer", "shots", "allocation_year"): [BurnPoint(at=T0, used=300.0)]}
    drawn: list[Any] = []
    real = plots.pyplot()
    with mock.patch.object(real, "close", side_effect=drawn.append):
        plots.plot_burn_down([usage], series, tmp_path / "usage.png")
    [fig] = drawn
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 1 and "aer shots" in visible[0].get_title()
    assert "today" in [line.get_label() for line in visible[0].lines]
    note = " ".join(t.get_text() for t in fig.texts)
    assert "nothing used yet: p idle0 shots" in note and "and 19 more" in note


def test_a_two_dimensional_sweep_draws_a_map_for_each_observable() -> None:
    grid = [[[float(10 * i + j), -float(10 * i + j)] for j in range(3)] for i in range(2)]
    two = {
        "axes": {"a": [0.0, 1.0], "b": [0.0, 1.0, 2.0]},
        "observables": ["Z", "X"],
        "expectation_values": grid,
    }
    fig = draw_result(job(two, TASKS), "sweep")
    maps = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in maps] == ["sweep: Z", "sweep: X"]
    assert maps[0].images[0].get_array()[2][1] == 12.0
    assert maps[1].images[0].get_array()[2][1] == -12.0
    many = {**two, "observables": [f"O{k}" for k in range(8)],
            "expectation_values": [[[0.5] * 8] * 3] * 2}  # fmt: skip
    titles = [ax.get_title() for ax in draw_result(job(many, TASKS), "sweep").axes if ax.images]
    assert len(titles) == 6 and titles[-1] == "sweep: O5 (6 of 8 shown)"

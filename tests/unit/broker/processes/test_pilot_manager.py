"""How many pilots the pilot manager wants for a queue depth."""

from __future__ import annotations

import pytest

from backends.slurm.pilot import PilotOptions
from broker.processes.pilot_manager import desired_pilots


@pytest.mark.parametrize(
    ("open_tasks", "expected"),
    [(0, 1), (1, 1), (2, 1), (3, 2), (6, 3), (7, 4), (100, 4)],
)
def test_pilots_follow_queue_depth_between_min_and_max(open_tasks: int, expected: int) -> None:
    options = PilotOptions(min_pilots=1, max_pilots=4, slots=2)
    assert desired_pilots(open_tasks, options) == expected


def test_no_work_and_no_minimum_means_no_pilot() -> None:
    assert desired_pilots(0, PilotOptions(min_pilots=0, max_pilots=3, slots=2)) == 0

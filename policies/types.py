"""Small value types of policy files: units, periods and durations such as ``7d``."""

from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from pydantic import BeforeValidator

UNITS = (
    "shots",
    "evaluations",
    "qpu_seconds",
    "node_hours",
    "core_hours",
    "gpu_hours",
    "credits",
)
Unit = Literal[
    "shots", "evaluations", "qpu_seconds", "node_hours", "core_hours", "gpu_hours", "credits"
]
CLASSICAL_UNITS = frozenset({"node_hours", "core_hours", "gpu_hours"})

Period = Literal["allocation_year", "quarter", "month", "rolling"]

# Nominal lengths, used only to compare budgets of different periods with a capacity.
PERIOD_DAYS = {"allocation_year": 365.0, "quarter": 365.0 / 4, "month": 365.0 / 12}

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$")
_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0, None: 1.0}


MAX_DURATION = 100 * 365.25 * 86400.0
"""The longest duration a policy may name (a window, a half-life, an age): 100 years, so
that every window starts at a date a calendar can hold."""


def parse_duration(value: object) -> float:
    """``"7d"``, ``"12h"``, ``"30m"``, ``"90s"``, ``"2w"`` or a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text such as '7d', '12h'")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _SECONDS[match.group(2)]
    else:
        raise ValueError(
            f"{value!r} is not a duration; write a number of seconds or text such as "
            "'7d', '12h', '30m', '90s', '2w'"
        )
    if not math.isfinite(seconds):
        raise ValueError("a duration must be a finite number of seconds or text such as '7d'")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    if seconds > MAX_DURATION:
        raise ValueError(f"a duration must be at most {MAX_DURATION / 86400:g}d (100 years)")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""A duration in seconds, written in a policy file as ``7d``, ``12h`` or a number."""


def format_duration(seconds: float) -> str:
    """The shortest exact text for a duration (``604800`` -> ``7d``)."""
    for suffix, size in (("w", 604800.0), ("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{suffix}"
    return f"{seconds:g}s"

"""The sections of a policy file other than proposals: backends, security domains, QOS
levels, priority, fair share, overrun bands and use-it-or-lose-it checkpoints.

Every model forbids unknown fields, so a misspelt key is an error with its path instead of
a setting silently ignored.
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from policies.types import Duration, Period, Unit

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Control characters; tab, newline and carriage return are text."""


class Strict(BaseModel):
    """Base of every policy model: unknown fields are errors; values are immutable; numbers
    are finite (``.inf`` and ``.nan`` are refused)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )

    @model_validator(mode="before")
    @classmethod
    def _plain_text(cls, data: object) -> object:
        """No key or text may hold a control character (YAML's ``"\\0"`` makes a NUL)."""
        if isinstance(data, dict):
            for key, value in data.items():
                texts = value if isinstance(value, list) else [value]
                for text in [key, *texts]:
                    bad = _CONTROL.search(text) if isinstance(text, str) else None
                    if bad:
                        raise ValueError(
                            f"{key}: contains the control character U+{ord(bad.group()):04X}"
                        )
        return data


def _whole_number_as_text(value: object) -> object:
    """``revision: 2`` means ``"2"``; a decimal (``1.10``) stays refused: YAML reads it 1.1."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


class Metadata(Strict):
    """Who wrote this revision of the policy."""

    name: str = Field(min_length=1)
    revision: Annotated[str, BeforeValidator(_whole_number_as_text)] = Field(
        default="1", description="The committee's label for this revision (2 reads as '2')."
    )
    description: str = ""


class Effective(Strict):
    """The dates the policy governs; proposal dates and checkpoints must fall inside."""

    from_: date = Field(alias="from")
    to: date

    @model_validator(mode="after")
    def _in_order(self) -> Effective:
        if self.to < self.from_:
            raise ValueError(f"'to' ({self.to}) is before 'from' ({self.from_})")
        return self


class Capacity(Strict):
    """What a backend can deliver in a period: the sum of budgets must fit in it."""

    unit: Unit
    amount: float = Field(gt=0)
    period: Period = "allocation_year"
    window: Duration | None = Field(default=None, description="Length of a rolling period.")
    oversubscription: float = Field(
        default=1.0, ge=1.0, description="How far awarded budgets may exceed the capacity."
    )

    @model_validator(mode="after")
    def _window_iff_rolling(self) -> Capacity:
        _check_window(self.period, self.window)
        return self


def _check_window(period: str, window: float | None) -> None:
    if period == "rolling" and not window:
        raise ValueError("a rolling period needs its window, e.g. window: 28d")
    if period != "rolling" and window is not None:
        raise ValueError(f"window applies only to period: rolling, not {period}")


class BackendPolicy(Strict):
    """How one backend is charged and how much it can give."""

    units: list[Unit] = Field(min_length=1)
    charge_factor: float = Field(default=1.0, gt=0)
    capacity: list[Capacity] = Field(default_factory=list)
    size: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="The whole backend in task-size units (a classical backend's nodes) for "
        "the size factor; unset: the size the backend reports (a Slurm partition's nodes).",
    )


class SecurityDomain(Strict):
    """A security domain: the backends its jobs may run on (``*``: every backend)."""

    backends: list[str] = Field(min_length=1)
    controlled: bool = Field(
        default=False, description="Export-controlled or otherwise restricted work."
    )
    description: str = ""

    def allows(self, backend: str) -> bool:
        """Whether a job of this domain may run on ``backend``."""
        return "*" in self.backends or backend in self.backends


class QOS(Strict):
    """A quality-of-service level: a priority and a charge multiplier."""

    priority: float = Field(default=0.0, ge=0)
    usage_factor: float = Field(default=1.0, gt=0, description="Multiplies classical charges.")
    max_running_jobs: int | None = Field(default=None, ge=1)
    description: str = ""


class Weights(Strict):
    """Weights ``w_i`` of ``P = sum_i w_i f_i``; each factor ``f_i`` lies in [0, 1]."""

    age: float = Field(default=1000, ge=0)
    fairshare: float = Field(default=10000, ge=0)
    score: float = Field(default=2000, ge=0, description="The proposal's committee score.")
    qos: float = Field(default=2000, ge=0)
    size: float = Field(default=500, ge=0)
    hybrid: float = Field(
        default=3000, ge=0, description="Boost for tasks of a hybrid loop already under way."
    )


class Priority(Strict):
    """How pending tasks are ordered."""

    weights: Weights = Field(default_factory=Weights)
    max_age: Duration = Field(default=7 * 86400.0, gt=0, description="Age factor saturates.")
    favor: Literal["small", "large"] = Field(
        default="small", description="Whether the size factor favours small or large tasks."
    )


class FairShare(Strict):
    """Fair Tree fair share over program -> proposal -> user, with decayed usage."""

    half_life: Duration = Field(default=7 * 86400.0, gt=0)
    programs: dict[str, float] = Field(
        default_factory=dict,
        description="Shares of each program under the root (0: its work runs last).",
    )

    @model_validator(mode="after")
    def _not_negative(self) -> FairShare:
        bad = [name for name, shares in self.programs.items() if not 0 <= shares < math.inf]
        if bad:
            raise ValueError(f"program shares must be 0 or more: {', '.join(bad)}")
        return self


class OverrunBand(Strict):
    """Above ``above_pct`` of a soft budget: tasks look younger by ``age_penalty``."""

    above_pct: float = Field(ge=100)
    age_penalty: Duration = 0.0
    max_running_jobs: int | None = Field(default=None, ge=1)


class Overrun(Strict):
    """What happens past a soft budget (OLCF-style bands); ``hard_stop_pct`` refuses."""

    bands: list[OverrunBand] = Field(default_factory=list)
    hard_stop_pct: float | None = Field(default=None, ge=100)

    @model_validator(mode="after")
    def _ascending(self) -> Overrun:
        edges = [b.above_pct for b in self.bands]
        if edges != sorted(set(edges)):
            raise ValueError("bands must have strictly increasing above_pct")
        if self.hard_stop_pct is not None and edges and self.hard_stop_pct <= edges[-1]:
            raise ValueError("hard_stop_pct must lie above the last band")
        return self

    def band(self, used_pct: float) -> OverrunBand | None:
        """The band a proposal at ``used_pct`` of a soft budget is in, if any."""
        current = None
        for band in self.bands:
            if used_pct > band.above_pct:
                current = band
        return current


class Checkpoint(Strict):
    """Use it or lose it: at ``date``, a budget less than ``if_used_below_pct`` used loses
    ``remove_pct_of_unused`` percent of what is unused."""

    date: date
    if_used_below_pct: float = Field(gt=0, le=100)
    remove_pct_of_unused: float = Field(gt=0, le=100)
    units: list[Unit] = Field(
        default_factory=list, description="Units it applies to; empty: every unit."
    )

    def applies_to(self, unit: str) -> bool:
        """Whether the checkpoint concerns budgets in ``unit``."""
        return not self.units or unit in self.units

"""Proposals (allocation awards) and their budgets."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field, model_validator

from policies.sections import Strict, _check_window
from policies.types import PERIOD_DAYS, Duration, Period, Unit


class Budget(Strict):
    """An amount of one unit on one backend, per period.

    ``hard``: admission refuses what would pass the limit. ``soft``: work continues past it,
    in the policy's overrun bands, up to ``overrun.hard_stop_pct``.
    Budgets never decay: only usage inside the current period counts against them.
    """

    backend: str
    unit: Unit
    amount: float = Field(ge=0)
    period: Period = "allocation_year"
    window: Duration | None = Field(default=None, description="Length of a rolling period.")
    enforcement: Literal["hard", "soft"] = "hard"

    @model_validator(mode="after")
    def _window_iff_rolling(self) -> Budget:
        _check_window(self.period, self.window)
        return self

    def days(self) -> float:
        """Nominal length of the period in days (to compare with a capacity)."""
        if self.period == "rolling":
            return (self.window or 0.0) / 86400.0
        return PERIOD_DAYS[self.period]


class Proposal(Strict):
    """An allocation award: who may use it, when, on which backends, how much, how urgently."""

    id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    title: str = ""
    pi: str = Field(min_length=1)
    members: list[str] = Field(
        min_length=1, description="User names; '*' admits every user (local use only)."
    )
    program: str = Field(default="default", description="Fair-share parent (e.g. INCITE).")
    security_domain: str = "open"
    committee_score: float = Field(default=0.5, ge=0, le=1)
    shares: float = Field(
        default=1.0,
        ge=0,
        allow_inf_nan=False,
        description="Fair-share weight among siblings (0: its work runs last, as in Slurm).",
    )
    allowed_qos: list[str] = Field(
        default_factory=list, description="QOS levels its jobs may ask for; the first is default."
    )
    start: date | None = None
    expires: date | None = None
    budgets: list[Budget] = Field(default_factory=list)

    @model_validator(mode="after")
    def _dates_in_order(self) -> Proposal:
        if self.start and self.expires and self.expires < self.start:
            raise ValueError(f"expires ({self.expires}) is before start ({self.start})")
        return self

    def admits(self, user: str) -> bool:
        """Whether ``user`` is a member (or the PI)."""
        return user == self.pi or user in self.members or "*" in self.members

    def backends(self) -> set[str]:
        """The backends it has a budget on (those its jobs may use)."""
        return {b.backend for b in self.budgets}

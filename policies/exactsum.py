"""A sum kept exactly as numbers are added and taken away (Shewchuk's partials, as in
``math.fsum``): a program's usage in the simulator's incremental Fair Tree."""

from __future__ import annotations

import math


class ExactSum:
    """An exactly maintained sum (Shewchuk's partials, as in ``math.fsum``)."""

    __slots__ = ("partials",)

    def __init__(self) -> None:
        self.partials: list[float] = []

    def add(self, x: float) -> None:
        """Add ``x``, exactly."""
        partials = self.partials
        i = 0
        for y in partials:
            if abs(x) < abs(y):
                x, y = y, x
            hi = x + y
            lo = y - (hi - x)
            if lo:
                partials[i] = lo
                i += 1
            x = hi
        partials[i:] = [x]

    def value(self) -> float:
        """The sum, correctly rounded."""
        return math.fsum(self.partials)

"""Integer codes for the engine's columns: leaves converted once and kept between cycles,
the tasks' (proposal, user) pairs, and distinct values with each value's index among them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from policies.pending import PendingTasks


@dataclass
class LeafCodes:
    """A list of leaves converted to codes, kept between cycles (``Engine._codes``)."""

    seen: list[tuple[str, str]] = field(default_factory=list)
    props: list[int] = field(default_factory=list)
    users: list[int] = field(default_factory=list)
    arrays: tuple[np.ndarray, np.ndarray] | None = None
    source: list[tuple[str, str]] | None = None

    def continued_by(self, leaves: list[tuple[str, str]]) -> bool:
        """Whether ``leaves`` begins with the leaves converted so far (at once for the list
        they came from: such lists are only appended to)."""
        n = len(self.seen)
        return n <= len(leaves) and (leaves is self.source or leaves[:n] == self.seen)


def task_pairs(pending: PendingTasks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct (proposal, user) pairs of the tasks, as codes into ``pending``'s
    vocabularies, and each task's pair. Where every user waits under one proposal only (the
    usual case), the pairs are the users themselves."""
    owner = np.zeros(len(pending.users), dtype=pending.proposal.dtype)
    owner[pending.user] = pending.proposal
    if np.array_equal(owner[pending.user], pending.proposal):
        return owner, np.arange(len(pending.users)), pending.user
    n = len(pending.users)
    pairs, pair_of = unique_inverse(
        pending.proposal.astype(np.int64) * n + pending.user, len(pending.proposals) * n
    )
    return pairs // n, pairs % n, pair_of


DENSE = 1 << 16
"""Below this many possible values, :func:`unique_inverse` marks them in arrays."""


def unique_inverse(values: np.ndarray, space: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` for values in ``[0, space)``: marked in a
    dense array where ``space`` is small, else with numpy's fastest (unstable) sort."""
    if space <= DENSE:
        seen = np.zeros(space, dtype=bool)
        seen[values] = True
        distinct = np.flatnonzero(seen)
        where = np.empty(space, dtype=np.intp)
        where[distinct] = np.arange(distinct.size)
        return distinct, where[values]
    order = np.argsort(values)
    ordered = values[order]
    new = np.empty(ordered.size, dtype=bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    inverse = np.empty(values.size, dtype=np.intp)
    inverse[order] = np.cumsum(new) - 1
    return ordered[new], inverse

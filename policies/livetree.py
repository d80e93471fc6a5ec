"""A Fair Tree kept up to date one leaf at a time, for the simulator.

:class:`policies.fairshare.FairTree` sorts a whole tree for each scheduling cycle; a replay
of a million tasks cannot afford that after every completion. Here each node's sort key
depends on its own usage only (``shares / usage``; users by usage), so a change to one
leaf moves one user within its proposal, the proposal within its program and the program
among programs, and the ranks of the other leaves follow from counts. The floats are the
ones :class:`FairTree` computes (a proposal's usage is the same ascending sum, a program's
the same exactly rounded sum, kept here as Shewchuk partials), so both give the same ranks.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping

import numpy as np

from policies.fairshare import INF, FairTree, sibling_key


class _ExactSum:
    """An exactly maintained sum (Shewchuk's partials, as in ``math.fsum``)."""

    __slots__ = ("partials",)

    def __init__(self) -> None:
        self.partials: list[float] = []

    def add(self, x: float) -> None:
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
        return math.fsum(self.partials)


class LiveTree:
    """The Fair Tree of one backend, updated leaf by leaf; ranks on demand.

    Proposals keep their sibling order per program; all programs' proposals are laid out
    in one array of positions (programs in name order), with the number of leaves at each
    position and the number before it (``_excl``), so a leaf's index in the walk is its
    program's offset + the leaves before its proposal in the program + its place among
    its proposal's users.
    """

    def __init__(self, tree: FairTree) -> None:
        self.tree = tree
        n_props = len(tree.ids)
        self.n = 0
        self._prog: list[int] = tree.program_of.tolist()
        self._shares: list[float] = tree.shares.tolist()
        self._rank: list[int] = tree.name_rank.tolist()
        self._leaves: dict[tuple[int, str], int] = {}
        self._leaf_prop: list[int] = []
        self._leaf_user: list[str] = []
        self._leaf_w: list[float] = []
        self._member: list[bool] = []
        self._uidx: list[int] = []
        self.uidx = np.zeros(16, dtype=np.int64)
        """Index of each leaf among its proposal's users, in order."""
        self._users: list[list[tuple[float, str, int]]] = [[] for _ in range(n_props)]
        self._usage = [0.0] * n_props
        self._key = [INF] * n_props
        self._order: list[list[tuple[float, int, int]]] = []
        self._base = np.zeros(len(tree.programs) + 1, dtype=np.int64)
        self._at = [0] * n_props
        self._prop_at = [0] * n_props
        self._count_at = [0] * n_props
        self._excl = np.zeros(n_props + 1, dtype=np.int64)
        base = 0
        for g, members in enumerate(tree.members):
            order = sorted((-INF, self._rank[p], int(p)) for p in members)
            self._order.append(order)
            for k, (_, _, p) in enumerate(order):
                self._at[p] = base + k
                self._prop_at[base + k] = p
            base += len(order)
            self._base[g + 1] = base
        self._bases: list[int] = self._base.tolist()
        self._program_total = [_ExactSum() for _ in tree.programs]
        self._program_key = [-INF] * len(tree.programs)
        self._program_count = [0] * len(tree.programs)
        self._shift: dict[int, int] | None = None
        self._present: list[int] | None = None
        self._multi = len(tree.programs) > 1
        self._program_shares: list[float] = tree.program_shares.tolist()

    # -- leaves ----------------------------------------------------------------------------

    def leaf(self, proposal: int, user: str) -> int:
        """The id of leaf (proposal index, user), created on first use (not a member yet)."""
        key = (proposal, user)
        leaf = self._leaves.get(key)
        if leaf is None:
            leaf = self._leaves[key] = len(self._leaf_prop)
            self._leaf_prop.append(proposal)
            self._leaf_user.append(user)
            self._leaf_w.append(0.0)
            self._member.append(False)
            self._uidx.append(0)
            if leaf >= self.uidx.size:
                self.uidx = np.concatenate([self.uidx, np.zeros_like(self.uidx)])
        return leaf

    def insert(self, leaf: int) -> None:
        """Put a leaf in the tree, with its current usage."""
        if self._member[leaf]:
            return
        self._member[leaf] = True
        p = self._leaf_prop[leaf]
        bisect.insort(self._users[p], (self._leaf_w[leaf], self._leaf_user[leaf], leaf))
        self._recount(p, +1)
        self._proposal_changed(p)

    def remove(self, leaf: int) -> None:
        """Take a leaf out of the tree."""
        if not self._member[leaf]:
            return
        self._member[leaf] = False
        p = self._leaf_prop[leaf]
        self._users[p].remove((self._leaf_w[leaf], self._leaf_user[leaf], leaf))
        self._recount(p, -1)
        self._proposal_changed(p)

    def update(self, leaf: int, w: float) -> None:
        """A leaf's usage is now ``w`` (it joins the tree if it was not in it)."""
        if not self._member[leaf]:
            self._leaf_w[leaf] = w
            self.insert(leaf)
            return
        p = self._leaf_prop[leaf]
        users = self._users[p]
        users.remove((self._leaf_w[leaf], self._leaf_user[leaf], leaf))
        self._leaf_w[leaf] = w
        bisect.insort(users, (w, self._leaf_user[leaf], leaf))
        self._proposal_changed(p)

    def rescale(self, raw: Mapping[tuple[str, str], float]) -> None:
        """Take new raw usage for every leaf (after the usage's reference time moved)."""
        members = [leaf for leaf, member in enumerate(self._member) if member]
        for leaf in members:
            self.remove(leaf)
        ids = self.tree.ids
        for leaf, (p, user) in enumerate(zip(self._leaf_prop, self._leaf_user, strict=True)):
            self._leaf_w[leaf] = raw.get((ids[p], user), 0.0)
        for leaf in members:
            self.insert(leaf)

    def _recount(self, p: int, delta: int) -> None:
        self.n += delta
        k = self._at[p]
        self._count_at[k] += delta
        self._excl[k + 1 :] += delta
        g = self._prog[p]
        self._program_count[g] += delta
        self._shift = None
        if self._program_count[g] == 0 or (delta > 0 and self._program_count[g] == delta):
            self._present = None

    # -- proposals and programs ------------------------------------------------------------

    def _proposal_changed(self, p: int) -> None:
        usage = 0.0  # users are sorted by usage: this is ascending_sum
        uidx, uidx_np = self._uidx, self.uidx
        for k, (w, _, leaf) in enumerate(self._users[p]):
            usage += w
            if uidx[leaf] != k:
                uidx[leaf] = k
                uidx_np[leaf] = k
        old = self._usage[p]
        if usage == old:
            return
        self._usage[p] = usage
        g = self._prog[p]
        if self._multi:
            total = self._program_total[g]
            total.add(-old)
            total.add(usage)
            self._program_key[g] = -sibling_key(self._program_shares[g], total.value())
            self._reorder(g)
        key = sibling_key(self._shares[p], usage)
        if key != self._key[p]:
            self._move(p, g, key)

    def _move(self, p: int, g: int, key: float) -> None:
        order = self._order[g]
        rank = self._rank[p]
        i = bisect.bisect_left(order, (-self._key[p], rank, p))
        del order[i]
        self._key[p] = key
        j = bisect.bisect_left(order, (-key, rank, p))
        order.insert(j, (-key, rank, p))
        if i == j:
            return
        base = self._bases[g]
        i, j = base + i, base + j
        prop_at, count_at, at, excl = self._prop_at, self._count_at, self._at, self._excl
        count = count_at[i]
        if i < j:
            moved = prop_at[i + 1 : j + 1]
            prop_at[i:j] = moved
            count_at[i:j] = count_at[i + 1 : j + 1]
            for q in moved:
                at[q] -= 1
            if j - i < 8:
                for k in range(i, j):
                    excl[k] = excl.item(k + 1) - count
            else:
                excl[i:j] = excl[i + 1 : j + 1] - count
            excl[j] = excl.item(j - 1) + count_at[j - 1]
        else:
            moved = prop_at[j:i]
            prop_at[j + 1 : i + 1] = moved
            count_at[j + 1 : i + 1] = count_at[j:i]
            for q in moved:
                at[q] += 1
            if i - j < 8:
                for k in range(i, j, -1):
                    excl[k] = excl.item(k - 1) + count
            else:
                excl[j + 1 : i + 1] = excl[j:i] + count
        prop_at[j] = p
        count_at[j] = count
        at[p] = j

    def _reorder(self, g: int) -> None:
        """Program ``g``'s key changed: forget the offsets if it changed place."""
        order = self._present
        if order is None or self._shift is None:
            return
        i = order.index(g) if g in order else -1
        keys, names = self._program_key, self.tree.programs
        key = (keys[g], names[g])
        before = i > 0 and key < (keys[order[i - 1]], names[order[i - 1]])
        after = 0 <= i < len(order) - 1 and key > (keys[order[i + 1]], names[order[i + 1]])
        if i < 0 or before or after:
            self._shift = None

    def _shifts(self) -> dict[int, int]:
        """Per program with leaves: its offset in the walk minus the leaves laid out
        before its block, so that a proposal's first leaf is at shift + _excl[at]."""
        if self._shift is None:
            present = [g for g, c in enumerate(self._program_count) if c > 0]
            if len(present) > 1:
                present.sort(key=lambda g: (self._program_key[g], self.tree.programs[g]))
            self._present = present
            shift, offset = {}, 0
            for g in present:
                shift[g] = offset - self._excl.item(self._bases[g])
                offset += self._program_count[g]
            self._shift = shift
        return self._shift

    def ranking(
        self,
    ) -> tuple[dict[int, int], list[int], np.ndarray, list[int], list[int], int]:
        """The pieces of a member leaf's index in the walk, for callers that compute many:
        ``shift[program[p]] + excl[at[p]] + uidx[leaf]``; and N (see :meth:`factor_list`)."""
        return self._shifts(), self._prog, self._excl, self._at, self._uidx, self.n

    def factor_list(self, leaves: list[int], props: list[int]) -> list[float]:
        """Fair-share factors ``(N - i) / N`` of member leaves (with their proposals)."""
        shift, prog, uidx = self._shifts(), self._prog, self._uidx
        excl, at, n = self._excl, self._at, self.n
        return [
            (n - (shift[prog[p]] + excl.item(at[p]) + uidx[leaf])) / n
            for leaf, p in zip(leaves, props, strict=True)
        ]

    def factors(self, leaves: np.ndarray, props: np.ndarray) -> np.ndarray:
        """:meth:`factor_list` on arrays."""
        if props.size == 0:
            return np.zeros(0)
        shift = np.zeros(len(self.tree.programs), dtype=np.int64)
        for g, value in self._shifts().items():
            shift[g] = value
        at = np.array([self._at[p] for p in props.tolist()], dtype=np.int64)
        index = shift[self.tree.program_of[props]] + self._excl[at]
        out: np.ndarray = (self.n - (index + self.uidx[leaves])) / self.n
        return out

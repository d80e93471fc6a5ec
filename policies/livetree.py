"""A Fair Tree kept up to date one leaf at a time, for the simulator.

:class:`policies.fairshare.FairTree` walks a whole tree for each scheduling cycle; a replay
of a million tasks cannot afford that after every completion. Here each node's sort key
depends on its own usage only (``shares / usage``, the order of Slurm's ``S / U`` in exact
arithmetic; users by usage), so a change to one leaf moves one user within its proposal,
the proposal within its program and the program among programs, and the ranks of the other
leaves follow from counts. Ties are Slurm's (:mod:`policies.sshare`): users of equal usage
share a rank, and the first user of a proposal (program) whose key equals its previous
sibling's takes the rank of the user before it. Keys are compared as floats, where Slurm
compares long-double ``S / U``: the two can differ only for siblings whose shares/usage
agree to about 15 digits without being equal.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping

import numpy as np

from policies.exactsum import ExactSum
from policies.fairshare import INF, FairTree, sibling_key


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
        self._ustart: list[int] = []
        self._present_at: dict[int, int] = {}
        self.uidx = np.zeros(16, dtype=np.int64)
        """Index of each leaf among its proposal's users, in order."""
        self._users: list[list[tuple[float, str, int]]] = [[] for _ in range(n_props)]
        self._usage = [0.0] * n_props
        self._key = [sibling_key(x, 0.0) for x in self._shares]  # no usage yet
        self._order: list[list[tuple[float, int, int]]] = []
        self._base = np.zeros(len(tree.programs) + 1, dtype=np.int64)
        self._at = [0] * n_props
        self._prop_at = [0] * n_props
        self._count_at = [0] * n_props
        self._excl = np.zeros(n_props + 1, dtype=np.int64)
        base = 0
        for g, members in enumerate(tree.members):
            order = sorted((-self._key[p], self._rank[p], int(p)) for p in members)
            self._order.append(order)
            for k, (_, _, p) in enumerate(order):
                self._at[p] = base + k
                self._prop_at[base + k] = p
            base += len(order)
            self._base[g + 1] = base
        self._bases: list[int] = self._base.tolist()
        self._program_total = [ExactSum() for _ in tree.programs]
        self._program_key = [-sibling_key(x, 0.0) for x in tree.program_shares.tolist()]
        self._program_count = [0] * len(tree.programs)
        self._shift: dict[int, int] | None = None
        self._present: list[int] | None = None
        self._multi = len(tree.programs) > 1
        self._zero = [any(self._shares[q] == 0 for q in m.tolist()) for m in tree.members]
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
            self._ustart.append(0)
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
        usage = 0.0  # users are sorted by usage, added smallest first
        uidx, uidx_np, ustart = self._uidx, self.uidx, self._ustart
        start, previous = 0, -1.0
        for k, (w, _, leaf) in enumerate(self._users[p]):
            usage += w
            if w != previous:
                start, previous = k, w
            ustart[leaf] = start
            if uidx[leaf] != k:
                uidx[leaf] = k
                uidx_np[leaf] = k
        old = self._usage[p]
        if usage == old:
            return
        self._usage[p] = usage
        g = self._prog[p]
        total = self._program_total[g]
        total.add(-old)
        total.add(usage)
        self._program_key[g] = -sibling_key(self._program_shares[g], total.value())
        if self._multi:
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
            self._present_at = {g: i for i, g in enumerate(present)}
            shift, offset = {}, 0
            for g in present:
                shift[g] = offset - self._excl.item(self._bases[g])
                offset += self._program_count[g]
            self._shift = shift
        return self._shift

    def index(self, leaf: int) -> int:
        """A member leaf's rank in the walk, from 0 (its factor is ``(N - index) / N``):
        the number of users ranked strictly before it, as :mod:`policies.sshare` ranks
        them. Siblings are kept in order of ``shares / usage``; where two keys are equal,
        their order and ties are settled by Slurm's long-double ``S / U`` (tied ones
        merged), which needs sums over the program (or the root): rare but exact."""
        shift = self._shift if self._shift is not None else self._shifts()
        p = self._leaf_prop[leaf]
        g = self._prog[p]
        present, keys = self._present or [], self._program_key
        i, kg = self._present_at[g], keys[g]
        if (i == 0 or keys[present[i - 1]] != kg) and (
            i + 1 == len(present) or keys[present[i + 1]] != kg
        ):  # the common case: no sibling program or proposal has the same key
            key, order = self._key[p], self._order[g]
            k = self._at[p] - self._bases[g]
            if (key != INF and key != 0) and (
                (k == 0 or order[k - 1][0] != -key)
                and (k + 1 == len(order) or order[k + 1][0] != -key)
            ):
                return shift[g] + self._excl.item(self._at[p]) + self._ustart[leaf]
            return shift[g] + self._excl.item(self._bases[g]) + self._in_program(leaf, p, g)
        lo = hi = i
        while lo > 0 and keys[present[lo - 1]] == keys[g]:
            lo -= 1
        while hi + 1 < len(present) and keys[present[hi + 1]] == keys[g]:
            hi += 1
        first = present[lo]
        start: int = (self._shift or {})[first] + self._excl.item(self._bases[first])
        run = present[lo : hi + 1]
        if len(run) > 1 and keys[g] == -INF and not any(self._zero[h] for h in run):
            return start  # none of them used anything and all have shares: all tied
        if len(run) > 1 and keys[g] != 0:
            lf = self._program_lfs(run)
            start += sum(self._program_count[h] for h in run if lf[h] > lf[g])
            run = [h for h in run if lf[h] == lf[g]]
        if len(run) == 1:
            return start + self._in_program(leaf, p, g)
        return start + self._in_programs(leaf, p, run)

    def _in_program(self, leaf: int, p: int, g: int) -> int:
        key, order, base, excl = self._key[p], self._order[g], self._bases[g], self._excl
        first = bisect.bisect_left(order, (-key, -1, -1))
        before: int = excl.item(base + first) - excl.item(base)
        if key == INF:  # no usage: tied with every proposal before it, and users too
            return before
        end = bisect.bisect_right(order, (-key, math.inf, math.inf), lo=first)
        run = [q for _, _, q in order[first:end] if self._count_at[self._at[q]]]
        if len(run) > 1 and key != 0:
            lf = self._proposal_lfs(self._leafful(g))
            before += sum(self._count_at[self._at[q]] for q in run if lf[q] > lf[p])
            run = [q for q in run if lf[q] == lf[p]]
        if len(run) == 1:
            return before + self._ustart[leaf]
        return before + self._users_before(leaf, p, run)

    def _in_programs(self, leaf: int, p: int, programs: list[int]) -> int:
        """Users ranked before ``leaf`` within tied programs: their proposals merged and
        ordered by level fair share."""
        lf: dict[int, np.longdouble] = {}
        for h in programs:
            lf.update(self._proposal_lfs(self._leafful(h)))
        mine = lf[p]
        before = sum(self._count_at[self._at[q]] for q, v in lf.items() if v > mine)
        if mine == INF:
            return before
        tied = [q for q, v in lf.items() if v == mine]
        return before + (self._ustart[leaf] if tied == [p] else self._users_before(leaf, p, tied))

    def _users_before(self, leaf: int, p: int, tied: list[int]) -> int:
        """How many users of the tied (merged) proposals rank before ``leaf``."""
        mine = self._user_lf(p, self._leaf_w[leaf])
        return sum(1 for q in tied for w, _, _ in self._users[q] if self._user_lf(q, w) > mine)

    # -- Slurm's arithmetic, for equal keys ------------------------------------------------

    def _leafful(self, g: int) -> list[int]:
        """Program ``g``'s proposals with users, in the order of :meth:`FairTree.build`."""
        props = [q for q in self.tree.members[g].tolist() if self._count_at[self._at[q]]]
        return sorted(props, key=self.tree.ids.__getitem__)

    def _usage_ld(self, q: int) -> np.longdouble:
        total = np.longdouble(0)
        for _, w in sorted((name, w) for w, name, _ in self._users[q]):
            total += np.longdouble(w)
        return total

    def _user_lf(self, q: int, w: float) -> np.longdouble:
        if w == 0:
            return np.longdouble(INF)
        share = np.longdouble(1.0 / len(self._users[q]))
        return share / (np.longdouble(w) / self._usage_ld(q))

    def _proposal_lfs(self, props: list[int]) -> dict[int, np.longdouble]:
        usage = {q: self._usage_ld(q) for q in props}
        total = np.longdouble(0)
        for q in props:
            total += usage[q]
        shares = sum(self._shares[q] for q in props)
        return {q: _lf(self._shares[q], shares, usage[q], total) for q in props}

    def _program_lfs(self, programs: list[int]) -> dict[int, np.longdouble]:
        present = sorted(self._present or [], key=self.tree.programs.__getitem__)
        usage = {}
        for h in present:
            usage[h] = np.longdouble(0)
            for q in self._leafful(h):
                usage[h] += self._usage_ld(q)
        total = np.longdouble(0)
        for h in present:
            total += usage[h]
        shares = sum(self._program_shares[h] for h in present)
        return {h: _lf(self._program_shares[h], shares, usage[h], total) for h in programs}

    def factor_list(self, leaves: list[int]) -> list[float]:
        """Fair-share factors ``(N - index) / N`` of member leaves."""
        n, index = self.n, self.index
        return [(n - index(leaf)) / n for leaf in leaves]

    def factors(self, leaves: np.ndarray) -> np.ndarray:
        """:meth:`factor_list` on an array."""
        return np.array(self.factor_list(leaves.tolist()), dtype=np.float64)


def _lf(
    shares: float, siblings: float, usage: np.longdouble, total: np.longdouble
) -> np.longdouble:
    """Slurm's level fair share, as :mod:`policies.sshare` computes it."""
    s = shares / siblings if siblings else 0.0
    if s == 0:
        return np.longdouble(0)
    u = usage / total if total else np.longdouble(0)
    return np.longdouble(s) / u if u else np.longdouble(INF)

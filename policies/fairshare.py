"""Fair share: decayed usage and Slurm's Fair Tree over program -> proposal -> user.

Usage here is what a backend was occupied for (backend-seconds: run seconds, times nodes
for classical tasks), not budget units, and it decays: ``U <- U * 2^(-dt / half_life) + u``.
Budgets (which never decay) live in :mod:`policies.budgets`.

Each backend has its own tree (as each IBM QPU has its own fair-share scheduler): the root,
the programs (``fairshare.programs`` shares, 1 for a program not listed), the proposals
with a budget on the backend (their ``shares``), and under each proposal one user per
member and its PI, each with one share, plus any other user with usage or a pending task
there (a ``*`` proposal's users). ``N`` is the number of those users, whether they have
anything pending or not, as Slurm's ``N`` is every user association. The factors are
Slurm's Fair Tree (:mod:`policies.sshare`): level fair share ``S / U`` among siblings,
zero shares last, tied users one rank, the user at rank ``r`` gets ``r / N``.

Usage is the raw numbers of :class:`DecayedUsage` (every leaf scaled by one common factor,
which no ratio sees).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from policies import sshare as slurm
from policies.schema import Policy

Leaf = tuple[str, str]
"""A leaf of the tree: (proposal id, user)."""

INF = math.inf
_REBASE_AFTER = 256.0  # half-lives; 2**256 is far from overflowing a float


def decay(value: float, dt: float, half_life: float) -> float:
    """``value * 2^(-dt / half_life)``: what usage ``value`` is worth ``dt`` seconds later."""
    return value * math.pow(2.0, -dt / half_life)


def accrued(occupied: float, rate: float, half_life: float) -> float:
    """What a run leaves at its end (or so far, for one still running): ``occupied``
    backend-seconds at ``rate`` per second (its nodes; 1 for a quantum task), each second
    decayed from when it was used, as Slurm adds a running job's usage every period:
    ``rate * T / ln 2 * (1 - 2^(-d / T))`` with ``d = occupied / rate``. About
    ``occupied`` for a run much shorter than the half-life ``T``; a 14-day one-node run with
    ``T`` = 7 days leaves 7.57 node-days, not 14."""
    if occupied <= 0 or rate <= 0:
        return 0.0
    k = math.log(2.0) / half_life
    return -rate * math.expm1(-(occupied / rate) * k) / k


class _Backend:
    """The leaves of one backend: keys in order of first use, raw values alongside."""

    __slots__ = ("index", "keys", "values")

    def __init__(self) -> None:
        self.keys: list[Leaf] = []
        self.index: dict[Leaf, int] = {}
        self.values: list[float] = []


def _copy(store: _Backend) -> _Backend:
    fresh = _Backend()
    fresh.keys, fresh.values, fresh.index = list(store.keys), list(store.values), dict(store.index)
    return fresh


class DecayedUsage:
    """Decayed occupancy per (backend, proposal, user), cheap for thousands of leaves.

    Each leaf stores one number, its usage scaled to a common reference time (``origin``):
    ``raw = U(t) * 2^((t - origin) / half_life)``. All leaves then decay by the same factor,
    so adding is O(1), reading one leaf is O(1), and the Fair Tree, which only compares
    ratios, can use the raw numbers as they are (:meth:`raw`). When the reference falls
    more than 256 half-lives behind, it moves forward by a whole number of half-lives,
    which scales every raw number by an exact power of two (:attr:`rebases` counts it).
    """

    def __init__(self, half_life: float, origin: float | None = None) -> None:
        if not half_life > 0:
            raise ValueError("half_life must be positive")
        self.half_life = float(half_life)
        self.origin = origin
        self.rebases = 0
        self._backends: dict[str, _Backend] = {}

    def _exponent(self, at: float) -> float:
        if self.origin is None:
            self.origin = at
        return (at - self.origin) / self.half_life

    def add(self, backend: str, proposal: str, user: str, amount: float, at: float) -> float:
        """Record ``amount`` backend-seconds used at time ``at``; returns the leaf's new raw
        value. A leaf is created even for a zero amount: its user is then known."""
        if not amount >= 0 or math.isinf(amount):
            raise ValueError(f"usage must be a finite amount >= 0, not {amount!r}")
        x = self._exponent(at)
        if x > _REBASE_AFTER:
            self._rebase(math.floor(x))
            x = self._exponent(at)
        store = self._backends.get(backend)
        if store is None:
            store = self._backends[backend] = _Backend()
        key = (proposal, user)
        i = store.index.get(key)
        if i is None:
            i = store.index[key] = len(store.keys)
            store.keys.append(key)
            store.values.append(0.0)
        value = store.values[i] + amount * math.pow(2.0, x)
        store.values[i] = value
        return value

    def _rebase(self, half_lives: int) -> None:
        assert self.origin is not None
        self.origin += half_lives * self.half_life
        for store in self._backends.values():
            store.values = [math.ldexp(v, -half_lives) for v in store.values]
        self.rebases += 1

    def _factor(self, now: float) -> float:
        if self.origin is None:
            return 0.0
        return math.pow(2.0, -(now - self.origin) / self.half_life)

    def value(self, backend: str, proposal: str, user: str, now: float) -> float:
        """The decayed usage of one leaf at ``now``."""
        store = self._backends.get(backend)
        i = store.index.get((proposal, user)) if store is not None else None
        if store is None or i is None:
            return 0.0
        return store.values[i] * self._factor(now)

    def leaves(self, backend: str, now: float) -> dict[Leaf, float]:
        """Every leaf of ``backend`` with its decayed usage at ``now``."""
        factor = self._factor(now)
        return {key: raw * factor for key, raw in self.raw(backend).items()}

    def raw(self, backend: str) -> dict[Leaf, float]:
        """The leaves of ``backend``, each proportional to its decayed usage (one common
        factor for all of them, whatever the time): enough for the Fair Tree."""
        store = self._backends.get(backend)
        return dict(zip(store.keys, store.values, strict=True)) if store is not None else {}

    def columns(self, backend: str) -> tuple[list[Leaf], list[float]]:
        """The leaves of ``backend`` in order of first use, and their raw values (the
        lists themselves, to read only; later leaves are appended)."""
        store = self._backends.get(backend)
        return (store.keys, store.values) if store is not None else ([], [])

    def backends(self) -> list[str]:
        """The backends with recorded usage."""
        return list(self._backends)

    def plus(self, adds: Iterable[tuple[str, str, str, float]], at: float) -> DecayedUsage:
        """A copy with ``(backend, proposal, user, amount)`` added at ``at`` (the usage of
        running tasks so far, for one cycle); this one is left as it is. Only the stores
        that change are copied (all of them when the reference time must move)."""
        adds = list(adds)
        out = DecayedUsage(self.half_life, self.origin)
        out.rebases = self.rebases
        out._backends = dict(self._backends)
        moves = self.origin is not None and (at - self.origin) / self.half_life > _REBASE_AFTER
        touched = set(out._backends) if moves else {a[0] for a in adds} & set(out._backends)
        for name in touched:
            out._backends[name] = _copy(out._backends[name])
        for backend, proposal, user, amount in adds:
            out.add(backend, proposal, user, amount, at)
        return out


@dataclass(frozen=True)
class Level:
    """One node on a leaf's path, as ``sshare -l`` shows it."""

    level: str
    name: str
    shares: float
    usage: float
    level_fs: float


def sibling_key(shares: float, usage: float) -> float:
    """``shares / usage``: siblings sort by it, highest first (in exact arithmetic the
    order of Slurm's ``S / U``). Zero shares give 0 whatever the usage (Slurm: run last);
    no usage gives inf."""
    if shares == 0:
        return 0.0
    return shares / usage if usage > 0 else INF


class FairTree:
    """The static part of the trees for one policy: programs, proposals, shares, members."""

    def __init__(self, policy: Policy) -> None:
        names = {p.program for p in policy.proposals} | set(policy.fairshare.programs)
        self.programs: list[str] = sorted(names)
        self.program_shares = np.array(
            [policy.fairshare.programs.get(g, 1.0) for g in self.programs]
        )
        self.ids: list[str] = [p.id for p in policy.proposals]
        self.index: dict[str, int] = {pid: i for i, pid in enumerate(self.ids)}
        self.shares = np.array([p.shares for p in policy.proposals], dtype=np.float64)
        self.name_rank = np.argsort(np.argsort(np.array(self.ids, dtype=object), kind="stable"))
        program_index = {g: i for i, g in enumerate(self.programs)}
        self.program_of = np.array(
            [program_index[p.program] for p in policy.proposals], dtype=np.int64
        )
        self.members: list[np.ndarray] = [
            np.flatnonzero(self.program_of == g) for g in range(len(self.programs))
        ]
        self.users: list[list[str]] = [sorted({p.pi, *p.members} - {"*"}) for p in policy.proposals]
        self._on: dict[str, list[Leaf]] = {}
        for p in policy.proposals:
            for backend in sorted(p.backends()):
                self._on.setdefault(backend, []).extend(
                    (p.id, u) for u in self.users[self.index[p.id]]
                )

    def members_on(self, backend: str) -> list[Leaf]:
        """The users every backend's tree holds from the start: each member and PI of the
        proposals with a budget on ``backend``."""
        return self._on.get(backend, [])

    def leaves(
        self, backend: str, usage: Mapping[Leaf, float], leaves: Iterable[Leaf]
    ) -> dict[Leaf, float]:
        """The users of ``backend``'s tree (members, those in ``usage``, ``leaves``; of
        proposals the policy knows) with their raw usage."""
        values = dict.fromkeys(self.members_on(backend), 0.0)
        values.update((leaf, 0.0) for leaf in leaves if leaf[0] in self.index)
        values.update((leaf, v) for leaf, v in usage.items() if leaf[0] in self.index)
        return values

    def build(
        self, backend: str, usage: Mapping[Leaf, float], leaves: Iterable[Leaf]
    ) -> tuple[slurm.Node, dict[Leaf, slurm.Node]]:
        """``backend``'s tree as :mod:`policies.sshare` nodes, and the node of each user."""
        by_proposal: dict[int, list[tuple[str, float]]] = {}
        for (pid, user), w in self.leaves(backend, usage, leaves).items():
            by_proposal.setdefault(self.index[pid], []).append((user, w))
        root = slurm.Node("root", None)
        found: dict[Leaf, slurm.Node] = {}
        for g, members in enumerate(self.members):
            present = [int(i) for i in members if int(i) in by_proposal]
            if not present:
                continue
            program = slurm.Node(self.programs[g], float(self.program_shares[g]))
            root.children.append(program)
            for i in sorted(present, key=self.ids.__getitem__):
                proposal = slurm.Node(self.ids[i], float(self.shares[i]))
                program.children.append(proposal)
                for user, w in sorted(by_proposal[i]):
                    node = found[(self.ids[i], user)] = slurm.Node(user, 1.0, w, user=True)
                    proposal.children.append(node)
        return root, found

    def factors(
        self, backend: str, usage: Mapping[Leaf, float], leaves: Iterable[Leaf]
    ) -> dict[Leaf, float]:
        """Each user's Fair Tree factor on ``backend``; see :func:`fair_tree`."""
        values = self.leaves(backend, usage, leaves)
        keys = list(values)
        names = sorted({u for _, u in keys})
        rank = {u: i for i, u in enumerate(names)}
        prop = np.array([self.index[p] for p, _ in keys], dtype=np.int64)
        user = np.array([rank[u] for _, u in keys], dtype=np.int64)
        w = np.array(list(values.values()), dtype=np.float64)
        return dict(zip(keys, self.factor_arrays(prop, user, w).tolist(), strict=True))

    def factor_arrays(self, prop: np.ndarray, user: np.ndarray, w: np.ndarray) -> np.ndarray:
        """The factors of a whole tree given as arrays of its users (proposal index, rank
        of the user's name, raw usage), as :mod:`policies.sshare` computes them on
        :meth:`build`'s tree (the same sums in the same order, the same long doubles).

        With tied accounts merged, a user's rank is the number of users whose (program
        LF, proposal LF, user LF) comes first in the walk: programs by LF, then, within
        programs of one LF, proposals by LF, then users by LF; equal triples tie."""
        n = prop.size
        if n == 0:
            return np.zeros(0)
        order = np.lexsort((user, prop))
        pu = _sequential_sums(prop[order], w[order].astype(LD), len(self.ids))
        count = np.bincount(prop, minlength=len(self.ids))
        present = np.flatnonzero(count)
        present = present[np.lexsort((self.name_rank[present], self.program_of[present]))]
        g_of = self.program_of[present]
        gu = _sequential_sums(g_of, pu[present], len(self.programs))
        gs = _sequential_sums(g_of, self.shares[present], len(self.programs))
        programs = np.unique(g_of)  # in name order, as self.programs is
        root, root_shares = LD(0), 0.0
        for g in programs.tolist():
            root += gu[g]
            root_shares += float(self.program_shares[g])
        lf_g = _level_fs(
            self.program_shares, np.full(gu.size, root_shares), gu, np.full(gu.size, root)
        )
        lf_p = _level_fs(self.shares, gs[self.program_of], pu, gu[self.program_of])
        lf_u = _level_fs(np.ones(n), count[prop].astype(np.float64), w.astype(LD), pu[prop])
        # Proposals in walk order (program LF, then proposal LF; few, so sorted apart), as
        # a dense rank that equal pairs share; then users by that rank and their own LF.
        k1, k2 = -lf_g[self.program_of[present]], -lf_p[present]
        by = np.lexsort((k2, k1))
        step = np.r_[True, (k1[by][1:] != k1[by][:-1]) | (k2[by][1:] != k2[by][:-1])]
        rank = np.zeros(len(self.ids), dtype=np.int64)
        rank[present[by]] = np.cumsum(step)
        r, k3 = rank[prop], -lf_u
        walk = np.lexsort((k3, r))
        a, c = r[walk], k3[walk]
        new = np.r_[True, (a[1:] != a[:-1]) | (c[1:] != c[:-1])]
        first = np.maximum.accumulate(np.where(new, np.arange(n), 0))
        index = np.empty(n, dtype=np.int64)
        index[walk] = first
        out: np.ndarray = (n - index) / n
        return out

    def path(
        self, backend: str, usage: Mapping[Leaf, float], leaves: Iterable[Leaf], leaf: Leaf
    ) -> list[Level]:
        """The levels of one leaf (program, proposal, user) with S, U and LF as fractions
        among siblings, for ``qcb explain``."""
        if leaf[0] not in self.index:
            return []
        root, found = self.build(backend, usage, [*leaves, leaf])
        rows = dict(zip((id(n) for n in root.walk()), slurm.sshare(root), strict=True))
        node = found[leaf]
        program = next(g for g in root.children if any(node in p.children for p in g.children))
        owner = next(p for p in program.children if node in p.children)
        return [
            Level(
                kind,
                n.name,
                rows[id(n)].norm_shares,
                rows[id(n)].effective_usage,
                _lf(rows[id(n)].level_fs),
            )
            for kind, n in (("program", program), ("proposal", owner), ("user", node))
        ]


LD = np.longdouble


def _sequential_sums(group: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Per group (``group`` sorted), its values added one after the other in the order
    given, as a loop over a tree's children adds them (numpy's sums add pairwise; an
    accumulate along the rows of a zero-padded matrix adds in order)."""
    out = np.zeros(size, dtype=values.dtype)
    if group.size == 0:
        return out
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    counts = np.diff(np.r_[starts, group.size])
    within = np.arange(group.size) - np.repeat(starts, counts)
    rows = np.zeros((starts.size, int(counts.max())), dtype=values.dtype)
    rows[np.repeat(np.arange(starts.size), counts), within] = values
    out[group[starts]] = np.add.accumulate(rows, axis=1)[:, -1]
    return out


def _level_fs(
    shares: np.ndarray, siblings: np.ndarray, usage: np.ndarray, total: np.ndarray
) -> np.ndarray:
    """Slurm's ``S / U``: ``S`` a double, ``U`` and the result long doubles; 0 for zero
    shares, inf for no usage."""
    s = np.divide(shares, siblings, out=np.zeros(shares.size), where=siblings > 0)
    u = np.divide(usage, total, out=np.zeros(usage.size, dtype=LD), where=total > 0)
    lf = np.divide(s.astype(LD), u, out=np.full(u.size, np.inf, dtype=LD), where=u > 0)
    out: np.ndarray = np.where(s == 0, LD(0), lf)
    return out


def _lf(value: float | None) -> float:
    return INF if value is None else value


def fair_tree(
    policy: Policy, backend: str, usage: Mapping[Leaf, float], leaves: Iterable[Leaf]
) -> dict[Leaf, float]:
    """Fair Tree factors in (0, 1] for every user of ``backend``'s tree (see the module),
    and 0 for the leaves in ``usage`` or ``leaves`` of proposals the policy does not know."""
    leaves = list(leaves)
    out = FairTree(policy).factors(backend, usage, leaves)
    for leaf in [*usage, *leaves]:
        out.setdefault(leaf, 0.0)
    return out

"""Fair share: decayed usage and Slurm's Fair Tree over program -> proposal -> user.

Usage here is what a backend was occupied for (backend-seconds: run seconds, times nodes
for classical tasks), not budget units, and it decays: ``U <- U * 2^(-dt / half_life) + u``.
Budgets (which never decay) live in :mod:`policies.budgets`.

Fair Tree (Slurm's ``fair_tree.shtml``): at each level of the tree, a node's level fair
share is ``LF = S / U`` among its siblings (``S``: its fraction of the siblings' shares,
``U``: its fraction of their usage; ``LF = inf`` without usage). Siblings are sorted by LF,
highest first, and the tree is walked depth first; the leaf at index ``i`` of ``N`` gets the
factor ``(N - i) / N``, so every user of an under-served subtree outranks every user of a
better-served sibling subtree.

Ties: siblings of equal LF are ordered by name (program, proposal id, user), so the walk
is deterministic and no two leaves share a rank. Within one level, sorting by ``LF`` is
the same as sorting by ``shares / usage`` (both fractions share their denominators; users
have equal shares, so they sort by usage), and that is what is computed: each node's key
then depends on its own usage only, so a simulator can keep the order up to date one node
at a time and get exactly the floats computed here (:mod:`policies.livetree`). For that,
sums do not depend on the order things come in: a proposal's usage is its users' usage
added smallest first (:func:`ascending_sum`), a program's the exactly rounded
``math.fsum`` of its proposals' usage.

Usage is per backend (each backend has its own tree, as each IBM QPU has its own
fair-share scheduler).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from policies.schema import Policy

Leaf = tuple[str, str]
"""A leaf of the tree: (proposal id, user)."""

INF = math.inf
_REBASE_AFTER = 256.0  # half-lives; 2**256 is far from overflowing a float


def decay(value: float, dt: float, half_life: float) -> float:
    """``value * 2^(-dt / half_life)``: what usage ``value`` is worth ``dt`` seconds later."""
    return value * math.pow(2.0, -dt / half_life)


class _Backend:
    """The leaves of one backend: keys in order of first use, raw values alongside."""

    __slots__ = ("index", "keys", "values")

    def __init__(self) -> None:
        self.keys: list[Leaf] = []
        self.index: dict[Leaf, int] = {}
        self.values: list[float] = []


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


@dataclass(frozen=True)
class Level:
    """One node on a leaf's path, as ``sshare -l`` shows it."""

    level: str
    name: str
    shares: float
    usage: float
    level_fs: float


def sibling_key(shares: float, usage: float) -> float:
    """``shares / usage`` (inf without usage): siblings sort by it, highest first."""
    return shares / usage if usage > 0 else INF


def ascending_sum(values: Iterable[float]) -> float:
    """A proposal's usage: its users' usage added smallest first, one after the other
    (a definition that does not depend on the order the users come in)."""
    total = 0.0
    for v in sorted(values):
        total += v
    return total


class FairTree:
    """The static part of the tree for one policy: programs, proposals, their shares."""

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

    def proposal_usage(self, prop: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Each proposal's usage (:func:`ascending_sum` of its leaves), indexed like
        ``self.ids``."""
        usage = np.zeros(len(self.ids))
        if prop.size == 0:
            return usage
        o = np.lexsort((w, prop))
        sp, sw = prop[o], w[o]
        starts = np.flatnonzero(np.r_[True, sp[1:] != sp[:-1]])
        within = np.arange(sp.size) - np.repeat(starts, np.diff(np.r_[starts, sp.size]))
        for j in range(int(within.max()) + 1):
            at = within == j
            usage[sp[at]] += sw[at]
        return usage

    def program_order(self, usage: np.ndarray, present: Iterable[int]) -> dict[int, int]:
        """Position of each program (of those ``present``) among its siblings."""
        present = sorted(set(present))
        if len(present) == 1:
            return {present[0]: 0}

        def key(g: int) -> tuple[float, str]:
            total = math.fsum(usage[self.members[g]].tolist())
            return (-sibling_key(float(self.program_shares[g]), total), self.programs[g])

        return {g: i for i, g in enumerate(sorted(present, key=key))}

    def order_arrays(self, prop: np.ndarray, user_rank: np.ndarray, w: np.ndarray) -> np.ndarray:
        """The leaves (proposal index into ``self.ids``, rank of the user's name, raw usage;
        one leaf per (proposal, user)) in Fair Tree order: a permutation of their indices."""
        if prop.size == 0:
            return np.zeros(0, dtype=np.int64)
        usage = self.proposal_usage(prop, w)
        key_p = np.divide(self.shares, usage, out=np.full(usage.size, INF), where=usage > 0)
        programs = self.program_of[prop]
        position = self.program_order(usage, np.unique(programs).tolist())
        prog_pos = np.zeros(len(self.programs), dtype=np.int64)
        prog_pos[list(position)] = list(position.values())
        order: np.ndarray = np.lexsort(
            (user_rank, w, self.name_rank[prop], -key_p[prop], prog_pos[programs])
        )
        return order

    def _arrays(
        self, usage: Mapping[Leaf, float], leaves: Iterable[Leaf]
    ) -> tuple[list[Leaf], np.ndarray, np.ndarray, np.ndarray]:
        values = {leaf: 0.0 for leaf in leaves if leaf[0] in self.index}
        values.update((leaf, v) for leaf, v in usage.items() if leaf[0] in self.index)
        keys = list(values)
        rank = {u: i for i, u in enumerate(sorted({u for _, u in keys}))}
        prop = np.array([self.index[p] for p, _ in keys], dtype=np.int64)
        user_rank = np.array([rank[u] for _, u in keys], dtype=np.int64)
        return keys, prop, user_rank, np.array(list(values.values()), dtype=np.float64)

    def order(self, usage: Mapping[Leaf, float], leaves: Iterable[Leaf]) -> list[Leaf]:
        """Every leaf of the tree (those in ``usage`` or ``leaves`` whose proposal the
        policy knows), in Fair Tree order: the most under-served first."""
        keys, prop, user_rank, w = self._arrays(usage, leaves)
        return [keys[i] for i in self.order_arrays(prop, user_rank, w).tolist()]

    def factors(self, usage: Mapping[Leaf, float], leaves: Iterable[Leaf]) -> dict[Leaf, float]:
        """Each leaf's fair-share factor ``(N - i) / N``; see :func:`fair_tree`."""
        ordered = self.order(usage, leaves)
        n = len(ordered)
        return {leaf: (n - i) / n for i, leaf in enumerate(ordered)}

    def path(self, usage: Mapping[Leaf, float], leaves: Iterable[Leaf], leaf: Leaf) -> list[Level]:
        """The levels of one leaf (program, proposal, user) with S, U and LF as fractions
        among siblings, for ``qcb explain``."""
        proposal, user = leaf
        if proposal not in self.index:
            return []
        keys, prop, _, w = self._arrays(usage, [*leaves, leaf])
        pu = self.proposal_usage(prop, w)
        gu = [math.fsum(pu[m].tolist()) for m in self.members]
        g = int(self.program_of[self.index[proposal]])
        siblings = self.members[g]
        users = {u: v for (p, u), v in zip(keys, w.tolist(), strict=True) if p == proposal}
        return [
            _level(
                "program",
                self.programs[g],
                dict(zip(self.programs, self.program_shares.tolist(), strict=True)),
                dict(zip(self.programs, gu, strict=True)),
            ),
            _level(
                "proposal",
                proposal,
                {self.ids[i]: float(self.shares[i]) for i in siblings},
                {self.ids[i]: float(pu[i]) for i in siblings},
            ),
            _level("user", user, dict.fromkeys(users, 1.0), users),
        ]


def _level(level: str, name: str, shares: Mapping[str, float], usage: Mapping[str, float]) -> Level:
    s = shares[name] / sum(shares.values())
    total = math.fsum(usage.get(k, 0.0) for k in shares)
    u = usage.get(name, 0.0) / total if total > 0 else 0.0
    return Level(level, name, s, u, s / u if u > 0 else INF)


def fair_tree(
    policy: Policy, usage: Mapping[Leaf, float], leaves: Iterable[Leaf]
) -> dict[Leaf, float]:
    """Fair Tree factors in (0, 1] for every leaf in ``usage`` or ``leaves``.

    The tree is root -> program (``fairshare.programs`` shares; 1 for a program not listed)
    -> proposal (its ``shares``) -> user (equal shares among the users seen in ``usage`` or
    ``leaves``). Higher is more under-served. Leaves of proposals unknown to the policy get
    0 and take no part in the tree.
    """
    leaves = list(leaves)
    out = FairTree(policy).factors(usage, leaves)
    for leaf in [*usage, *leaves]:
        out.setdefault(leaf, 0.0)
    return out

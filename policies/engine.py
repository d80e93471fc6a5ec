"""The policy engine: the one place that decides which pending tasks start, and in what
order. The broker's scheduler calls :meth:`Engine.cycle` every tick; ``qcb explain`` calls
:meth:`Engine.explain`; ``qcb policy simulate`` replays a trace with the same ordering.

Order is by priority ``P`` (:mod:`policies.priority`), then creation time, then task id
(Slurm: priority, then submit time, then job id). A task never starts when the policy does
not know its proposal, when its proposal's security domain does not allow its backend, or
when its proposal is blocked (a hard stop, or its maximum of running jobs reached),
whatever its priority.

A cycle is vectorized: the parts of ``P`` that belong to a (backend, proposal, user) are
computed once (the Fair Tree once per backend), the rest per task with numpy, and each
backend's best tasks are picked with a partial sort.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from policies.codes import LeafCodes, task_pairs, unique_inverse
from policies.fairshare import DecayedUsage, FairTree
from policies.pending import PendingTasks, TaskRow
from policies.priority import age_factors, combine, qos_factor, size_factors, static_part
from policies.schema import Policy, Proposal

if TYPE_CHECKING:
    from policies.explain import Explanation

__all__ = ["Engine", "PendingTasks", "Release", "Scored", "TaskRow"]

_NO_PENALTIES: Mapping[str, float] = {}


@dataclass(frozen=True)
class Release:
    """A task to start now."""

    task_id: str
    backend: str
    proposal: str
    user: str
    priority: float
    index: int
    """Its position in the :class:`PendingTasks` of the cycle."""


@dataclass(frozen=True, eq=False)
class Scored:
    """Priorities and factors of every pending task, and why some may not start."""

    priority: np.ndarray
    age: np.ndarray
    fairshare: np.ndarray
    score: np.ndarray
    qos: np.ndarray
    size: np.ndarray
    hybrid: np.ndarray
    known: np.ndarray
    domain_ok: np.ndarray
    blocked: np.ndarray
    penalty: np.ndarray

    @property
    def eligible(self) -> np.ndarray:
        """Tasks that may start now (if their backend has room)."""
        result: np.ndarray = self.known & self.domain_ok & ~self.blocked
        return result


class Engine:
    """Orders pending tasks under one policy revision."""

    def __init__(
        self,
        policy: Policy,
        revision: str = "",
        backend_size: Callable[[str], float | None] | None = None,
    ) -> None:
        self.policy = policy
        self._backend_size = backend_size
        self.revision = revision or f"{policy.metadata.name}@{policy.metadata.revision}"
        self.weights = policy.priority.weights
        self.tree = FairTree(policy)
        self._qos = {name: qos_factor(policy, name) for name in policy.qos}
        self._proposals = {p.id: p for p in policy.proposals}
        self._default_qos = {
            p.id: self._qos.get(policy.qos_of(p, None), 0.0) for p in policy.proposals
        }
        self._users: dict[str, int] = {}
        self._user_names: list[str] = []
        self._user_rank: np.ndarray | None = None
        self._code_cache: dict[str, LeafCodes] = {}

    def qos_value(self, proposal: str, qos: str | None) -> float:
        """The QOS factor of a task of ``proposal`` at ``qos`` (None: the proposal's
        default QOS; 0 for a level the policy does not know)."""
        if qos is None:
            return self._default_qos.get(proposal, 0.0)
        return self._qos.get(qos, 0.0) if qos else 0.0

    # -- scoring ---------------------------------------------------------------------------

    def score(
        self,
        pending: PendingTasks,
        usage: DecayedUsage,
        now: float,
        *,
        penalties: Mapping[str, float] = _NO_PENALTIES,
        blocked: Collection[str] = (),
    ) -> Scored:
        """Every pending task's factors and priority at ``now``."""
        proposals = [self._proposals.get(pid) for pid in pending.proposals]
        known_v = np.array([p is not None for p in proposals], dtype=bool)
        score_v = np.array([p.committee_score if p else 0.0 for p in proposals])
        penalty_v = np.array([float(penalties.get(pid, 0.0)) for pid in pending.proposals])
        blocked_v = np.array([pid in blocked for pid in pending.proposals], dtype=bool)
        prop = pending.proposal
        domain_ok = self._domain_ok(pending, proposals)
        qos = self._qos_factors(pending)
        fairshare = self._fairshare(pending, usage)
        max_size = self._machine_sizes(pending)
        size = size_factors(pending.size, max_size[pending.backend], self.policy.priority.favor)
        age = age_factors(now, pending.created, penalty_v[prop], self.policy.priority.max_age)
        hybrid = pending.hybrid.astype(np.float64)
        score = score_v[prop]
        static = static_part(self.weights, score, qos, size, hybrid)
        return Scored(
            priority=combine(self.weights, static, fairshare, age),
            age=age,
            fairshare=fairshare,
            score=score,
            qos=qos,
            size=size,
            hybrid=hybrid,
            known=known_v[prop],
            domain_ok=domain_ok,
            blocked=blocked_v[prop],
            penalty=penalty_v[prop],
        )

    def size_of(self, backend: str) -> float | None:
        """The whole backend in task-size units, for the size factor: the policy's
        ``backends.<name>.size``, else what the backend reports; None when neither says."""
        configured = self.policy.backends.get(backend)
        if configured is not None and configured.size is not None:
            return configured.size
        return self._backend_size(backend) if self._backend_size is not None else None

    def _machine_sizes(self, pending: PendingTasks) -> np.ndarray:
        """Each backend's size (:meth:`size_of`); where unknown, its largest waiting task."""
        largest = np.zeros(len(pending.backends))
        np.maximum.at(largest, pending.backend, pending.size)
        known = [self.size_of(b) for b in pending.backends]
        out: np.ndarray = np.array(
            [k if k is not None else m for k, m in zip(known, largest.tolist(), strict=True)]
        )
        return out

    def _domain_ok(self, pending: PendingTasks, proposals: list[Proposal | None]) -> np.ndarray:
        domains = self.policy.security_domains
        names = list(domains)
        allowed = np.zeros((len(pending.backends), len(names) + 1), dtype=bool)
        for j, name in enumerate(names):
            for i, backend in enumerate(pending.backends):
                allowed[i, j] = domains[name].allows(backend)
        unknown = len(names)
        column = {name: j for j, name in enumerate(names)}
        dom_v = np.array(
            [column.get(p.security_domain, unknown) if p else unknown for p in proposals],
            dtype=np.int64,
        )
        result: np.ndarray = allowed[pending.backend, dom_v[pending.proposal]]
        return result

    def _qos_factors(self, pending: PendingTasks) -> np.ndarray:
        table = np.array([self._qos.get(q, 0.0) if q else 0.0 for q in pending.qos_names])
        out: np.ndarray = table[pending.qos] if len(table) else np.zeros(0)
        if None in pending.qos_names:
            default_v = np.array([self._default_qos.get(pid, 0.0) for pid in pending.proposals])
            unset = pending.qos == pending.qos_names.index(None)
            out[unset] = default_v[pending.proposal[unset]]
        return out

    def _user_code(self, name: str) -> int:
        code = self._users.get(name)
        if code is None:
            code = self._users[name] = len(self._user_names)
            self._user_names.append(name)
            self._user_rank = None
        return code

    def _user_ranks(self) -> np.ndarray:
        """The rank of each user code's name among all names seen (the Fair Tree's users
        are ordered by name within a proposal)."""
        if self._user_rank is None:
            names = self._user_names
            order = sorted(range(len(names)), key=names.__getitem__)
            self._user_rank = np.empty(len(names), dtype=np.int64)
            self._user_rank[order] = np.arange(len(names))
        return self._user_rank

    def _codes(
        self, leaves: list[tuple[str, str]], cache_key: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """Proposal index (-1: unknown) and user code of each leaf, as arrays, converted
        once: a list seen before (usage's leaves are only appended; a cycle's copy shares
        them) is only extended."""
        cached = self._code_cache.get(cache_key)
        if cached is None or not cached.continued_by(leaves):
            cached = self._code_cache[cache_key] = LeafCodes()
        cached.source = leaves
        if len(cached.seen) < len(leaves):
            index = self.tree.index
            for proposal, user in leaves[len(cached.seen) :]:
                cached.seen.append((proposal, user))
                cached.props.append(index.get(proposal, -1))
                cached.users.append(self._user_code(user))
            cached.arrays = None
        if cached.arrays is None:
            cached.arrays = (
                np.array(cached.props, dtype=np.int64),
                np.array(cached.users, dtype=np.int64),
            )
        return cached.arrays

    def _fairshare(self, pending: PendingTasks, usage: DecayedUsage) -> np.ndarray:
        """Each task's Fair Tree factor on its backend (0 for an unknown proposal): one
        tree per backend with pending tasks, its users those of :class:`FairTree`."""
        prop_v = np.array([self.tree.index.get(p, -1) for p in pending.proposals], dtype=np.int64)
        codes = list(map(self._users.get, pending.users))
        if None in codes:  # names not seen before get their codes
            codes = [self._user_code(u) for u in pending.users]
        user_v = np.array(codes, dtype=np.int64)
        tables = {}
        for name in pending.backends:
            keys, values = usage.columns(name)
            held = self._codes(keys, f"usage:{name}")
            members = self._codes(self.tree.members_on(name), f"members:{name}")
            tables[name] = (held, members, np.array(values, dtype=np.float64))
        n_users = max(len(self._user_names), 1)
        ranks = self._user_ranks()
        pair_prop, pair_user, pair_of = task_pairs(pending)
        pair_prop, pair_user = prop_v[pair_prop], user_v[pair_user]
        pair_code = np.where(pair_prop >= 0, pair_prop * n_users + pair_user, -1)
        n_pairs = max(pair_code.size, 1)
        unique, inverse = unique_inverse(
            pending.backend.astype(np.int64) * n_pairs + pair_of, len(pending.backends) * n_pairs
        )
        edges = np.searchsorted(unique // n_pairs, np.arange(len(pending.backends) + 1))
        per_combo = np.zeros(unique.size)
        for b, name in enumerate(pending.backends):
            lo, hi = int(edges[b]), int(edges[b + 1])
            if lo == hi:
                continue
            wanted = pair_code[unique[lo:hi] % n_pairs]  # prop * n_users + user; < 0: unknown
            (up, uu), (mp, mu), w_used = tables[name]
            prop = np.concatenate([up, mp])
            user = np.concatenate([uu, mu])
            known, mine = prop >= 0, wanted >= 0
            code = np.concatenate([(prop * n_users + user)[known], wanted[mine]])
            leaves, at = unique_inverse(code, len(self.tree.ids) * n_users)
            # A leaf's usage: its one usage value (members and tasks add exact zeros).
            w = np.concatenate([w_used, np.zeros(len(mp))])[known]
            n_known = w.size
            w = np.bincount(at[:n_known], weights=w, minlength=leaves.size)
            factor = self.tree.factor_arrays(leaves // n_users, ranks[leaves % n_users], w)
            part = np.zeros(hi - lo)
            part[mine] = factor[at[n_known:]]
            per_combo[lo:hi] = part
        result: np.ndarray = per_combo[inverse.reshape(-1)]
        return result

    # -- a scheduling cycle ----------------------------------------------------------------

    def cycle(
        self,
        pending: PendingTasks,
        free: Mapping[str, int],
        usage: DecayedUsage,
        now: float,
        *,
        penalties: Mapping[str, float] = _NO_PENALTIES,
        blocked: Collection[str] = (),
    ) -> list[Release]:
        """The tasks to start now, best first: at most ``free[backend]`` per backend (0 for
        a backend missing from ``free``). ``penalties``: age penalty in seconds per
        proposal (overrun bands); ``blocked``: proposals that may not start anything."""
        if len(pending) == 0 or not any(free.get(b, 0) > 0 for b in pending.backends):
            return []
        scored = self.score(pending, usage, now, penalties=penalties, blocked=blocked)
        eligible = scored.eligible
        chosen: list[int] = []
        for b, name in enumerate(pending.backends):
            k = int(free.get(name, 0))
            if k > 0:
                idx = np.flatnonzero(eligible & (pending.backend == b))
                chosen += top_k(scored.priority, pending.created, pending.ids, idx, k)
        chosen.sort(key=lambda i: order_key(scored.priority, pending.created, pending.ids, i))
        return [
            Release(
                task_id=str(pending.ids[i]),
                backend=pending.backends[pending.backend[i]],
                proposal=pending.proposals[pending.proposal[i]],
                user=pending.users[pending.user[i]],
                priority=float(scored.priority[i]),
                index=i,
            )
            for i in chosen
        ]

    def explain(
        self,
        task: TaskRow | str,
        pending: PendingTasks,
        usage: DecayedUsage,
        now: float,
        *,
        free: Mapping[str, int] | None = None,
        capacity: Mapping[str, int] | None = None,
        penalties: Mapping[str, float] = _NO_PENALTIES,
        blocked: Collection[str] = (),
    ) -> Explanation:
        """Why a pending task stands where it does: see :mod:`policies.explain`."""
        from policies.explain import explain

        return explain(
            self,
            task,
            pending,
            usage,
            now,
            free=free,
            capacity=capacity,
            penalties=penalties,
            blocked=blocked,
        )


def order_key(
    priority: np.ndarray, created: np.ndarray, ids: np.ndarray, i: int
) -> tuple[float, float, str]:
    """The sort key of task ``i``: priority (highest first), then created, then id."""
    return (-float(priority[i]), float(created[i]), str(ids[i]))


def top_k(
    priority: np.ndarray, created: np.ndarray, ids: np.ndarray, idx: np.ndarray, k: int
) -> list[int]:
    """The ``k`` best of the tasks ``idx``, best first (see :func:`order_key`).

    A partial sort on priority keeps the tasks at or above the k-th priority; among those
    tied at the k-th, another on creation time keeps the earliest; only what is left
    (about k tasks) is sorted in Python, where ids can be compared.
    """
    if k <= 0 or idx.size == 0:
        return []
    if idx.size > k:
        neg = -priority[idx]
        kth = np.partition(neg, k - 1)[k - 1]
        better = idx[neg < kth]
        tied = idx[neg == kth]
        need = k - better.size
        if tied.size > need:
            c = created[tied]
            cut = np.partition(c, need - 1)[need - 1]
            tied = tied[c <= cut]
        idx = np.concatenate([better, tied])
    ordered = sorted(idx.tolist(), key=lambda i: order_key(priority, created, ids, i))
    return ordered[:k]

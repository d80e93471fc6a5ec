"""One backend's pending work in a replay: groups of interchangeable tasks, their heads,
and the parts of their priority that do not change while they wait.

A group is the tasks of one (proposal, user, QOS, size, hybrid) on this backend: they
differ only in age, so they leave in order of (created, id), and only the group's head
competes with other groups. Arrays over groups hold what :mod:`policies.priority`
computes for each; ``active`` lists the groups with pending tasks.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from policies.livetree import LiveTree
from policies.pending import TaskRow
from policies.priority import age_factor, age_factors, combine, size_factor, static_part
from policies.trace import Task

if TYPE_CHECKING:
    from policies.engine import Engine
    from policies.simulate import Run

Entry = tuple[float, str, "Run", Task]
"""A pending task: (created, task id, its job's run, the task)."""


SMALL = 24
"""Up to this many competing groups, priorities are computed with Python floats (the same
IEEE operations as numpy's, so the same values), above with numpy."""


class Backend:
    """The pending tasks of one backend, grouped, with their Fair Tree."""

    def __init__(self, name: str, capacity: int, engine: Engine, favor: str) -> None:
        self.name = name
        self.capacity = capacity
        self.busy = 0
        self.engine = engine
        self.weights = engine.weights
        self.favor = favor
        self.max_age = engine.policy.priority.max_age
        self.live = LiveTree(engine.tree)
        self.members: set[int] = set()
        """Leaves of the proposals' members: in the tree from the start, as in the engine."""
        index = engine.tree.index
        for proposal, user in engine.tree.members_on(name):
            leaf = self.live.leaf(index[proposal], user)
            self.members.add(leaf)
            self.live.insert(leaf)
        self.keys: dict[tuple[int, str, str | None, float, bool], int] = {}
        self.heaps: list[list[Entry]] = []
        self.info: list[tuple[str, str, str | None, float, bool]] = []
        self.prop: list[int] = []
        self.leaf: list[int] = []
        self.created: list[float] = []
        self.static: list[float] = []
        self.score: list[float] = []
        self.qos: list[float] = []
        self.size: list[float] = []
        self.hybrid: list[float] = []
        self.active: list[int] = []
        self.slot: list[int] = []
        self.size_count: dict[float, int] = {}
        self.fixed_size = engine.size_of(name)
        """The backend's own size, when the policy gives it; else its largest waiting task."""
        self.max_size = self.fixed_size or 0.0
        self.static_dirty = False
        self.leaf_pending: dict[int, int] = {}
        self.has_usage: set[int] = set()
        self._popped: list[int] = []
        self._emptied: list[int] = []

    # -- groups ----------------------------------------------------------------------------

    def _group(self, run: Run, task: Task, hybrid: bool) -> int:
        key = (run.index, run.job.user, run.qos, task.size, hybrid)
        g = self.keys.get(key)
        if g is not None:
            return g
        g = self.keys[key] = len(self.heaps)
        self.heaps.append([])
        self.info.append((run.proposal, run.job.user, run.qos, task.size, hybrid))
        self.slot.append(-1)
        self.prop.append(run.index)
        self.leaf.append(self.live.leaf(run.index, run.job.user))
        self.created.append(0.0)
        self.static.append(0.0)
        self.score.append(self.engine.policy.proposals[run.index].committee_score)
        self.qos.append(self.engine.qos_value(run.proposal, run.qos))
        self.size.append(task.size)
        self.hybrid.append(1.0 if hybrid else 0.0)
        return g

    def _static(self, g: int) -> None:
        size = size_factor(self.size[g], self.max_size, self.favor)
        self.static[g] = static_part(self.weights, self.score[g], self.qos[g], size, self.hybrid[g])

    def _activate(self, g: int) -> None:
        self.slot[g] = len(self.active)
        self.active.append(g)
        size = self.size[g]
        self.size_count[size] = self.size_count.get(size, 0) + 1
        if size > self.max_size and self.fixed_size is None:
            self.max_size = size
            self.static_dirty = True
        elif not self.static_dirty:
            self._static(g)

    def _deactivate(self, g: int) -> None:
        i, last = self.slot[g], self.active[-1]
        self.active[i] = last
        self.slot[last] = i
        self.active.pop()
        self.slot[g] = -1
        size = self.size[g]
        self.size_count[size] -= 1
        if not self.size_count[size]:
            del self.size_count[size]
            top = max(self.size_count, default=0.0)
            if top != self.max_size and self.fixed_size is None:
                self.max_size = top
                self.static_dirty = True

    # -- tasks -----------------------------------------------------------------------------

    def push(self, run: Run, task: Task, task_id: str, t: float) -> None:
        """A task becomes pending at ``t``."""
        g = self._group(run, task, run.step > 0)
        heap = self.heaps[g]
        heapq.heappush(heap, (t, task_id, run, task))
        if len(heap) == 1:
            self._activate(g)
        self.created[g] = heap[0][0]
        leaf = self.leaf[g]
        count = self.leaf_pending.get(leaf, 0)
        self.leaf_pending[leaf] = count + 1
        if count == 0:
            self.live.insert(leaf)

    def decide(self, t: float, penalty: list[float], blocked: list[bool] | None) -> list[Entry]:
        """The tasks to release at ``t``, best first, as Engine.cycle orders them:
        priority (factors fixed for the cycle), then created, then id."""
        active, prop_of = self.active, self.prop
        if self.static_dirty:
            for g in active:
                self._static(g)
            self.static_dirty = False
        free = self.capacity - self.busy
        if len(active) == 1 and (blocked is None or not blocked[prop_of[active[0]]]):
            # one group: first in, first out, whatever the priorities
            g = active[0]
            taken = [self._pop(g)[0] for _ in range(min(free, len(self.heaps[g])))]
            self._settle()
            return taken
        if len(active) <= SMALL:
            prio, fs, pen = self._priorities_small(t, penalty)
        else:
            prio, fs, pen = self._priorities_large(t, penalty)
        if blocked is not None:
            for j, g in enumerate(active):
                if blocked[prop_of[g]]:
                    prio[j] = -math.inf
        out = self._take(t, free, prio, fs, pen)
        self._settle()
        return out

    def _priorities_small(
        self, t: float, penalty: list[float]
    ) -> tuple[list[float], list[float], list[float]]:
        """Each active group's (priority, fair-share factor, age penalty), in Python floats."""
        index, n = self.live.index, self.live.n
        created, leaf_of, prop_of, static = self.created, self.leaf, self.prop, self.static
        w_fs, w_age, max_age = self.weights.fairshare, self.weights.age, self.max_age
        prio: list[float] = []
        fs: list[float] = []
        pen: list[float] = []
        for g in self.active:
            p = prop_of[g]
            f = (n - index(leaf_of[g])) / n
            q = penalty[p]
            fs.append(f)
            pen.append(q)
            age = min(max((t - created[g]) - q, 0.0), max_age) / max_age
            prio.append(static[g] + w_fs * f + w_age * age)  # = combine(...)
        return prio, fs, pen

    def _priorities_large(
        self, t: float, penalty: list[float]
    ) -> tuple[list[float], list[float], list[float]]:
        """Each active group's (priority, fair-share factor, age penalty), with numpy."""
        active = self.active
        props = [self.prop[g] for g in active]
        pen = [penalty[p] for p in props]
        fs_a = self.live.factors(np.array([self.leaf[g] for g in active]))
        created_a = np.array([self.created[g] for g in active])
        static_a = np.array([self.static[g] for g in active])
        age_a = age_factors(t, created_a, np.array(pen), self.max_age)
        prio: list[float] = combine(self.weights, static_a, fs_a, age_a).tolist()
        fs: list[float] = fs_a.tolist()
        return prio, fs, pen

    def _take(
        self, t: float, free: int, prio: list[float], fs: list[float], pen: list[float]
    ) -> list[Entry]:
        """Up to ``free`` tasks, best first; a group's next task competes with the priority
        of its new head."""
        active, static, w, max_age = self.active, self.static, self.weights, self.max_age
        out: list[Entry] = []
        for _ in range(free):
            best = max(prio)
            if best == -math.inf:
                break
            j = prio.index(best)
            if prio.count(best) > 1:
                ties = [i for i, v in enumerate(prio) if v == best]
                j = min(ties, key=lambda i: self.heaps[active[i]][0][:2])
            g = active[j]
            entry, head = self._pop(g)
            out.append(entry)
            if head is None:
                prio[j] = -math.inf
            else:
                prio[j] = combine(w, static[g], fs[j], age_factor(t - head, max_age, pen[j]))
        return out

    def _pop(self, g: int) -> tuple[Entry, float | None]:
        # the tree and sizes change only in _settle: a cycle computes its factors once
        heap = self.heaps[g]
        entry = heapq.heappop(heap)
        self._popped.append(g)
        if heap:
            self.created[g] = heap[0][0]
            return entry, heap[0][0]
        self._emptied.append(g)
        return entry, None

    def _settle(self) -> None:
        for g in self._popped:
            leaf = self.leaf[g]
            count = self.leaf_pending[leaf] - 1
            if count:
                self.leaf_pending[leaf] = count
            else:
                del self.leaf_pending[leaf]
                if leaf not in self.has_usage and leaf not in self.members:
                    self.live.remove(leaf)
        for g in self._emptied:
            self._deactivate(g)
        self._popped.clear()
        self._emptied.clear()

    def used(self, proposal: int, user: str, raw: float) -> None:
        """A leaf's decayed usage is now ``raw`` (it has usage from now on)."""
        leaf = self.live.leaf(proposal, user)
        self.has_usage.add(leaf)
        self.live.update(leaf, raw)

    def rescale(self, raw: Mapping[tuple[str, str], float]) -> None:
        """Decayed usage moved its reference time: take every leaf's new raw value."""
        self.live.rescale(raw)

    def rows(self) -> list[TaskRow]:
        """Every pending task as a row (for checks against the engine)."""
        out = []
        for g, heap in enumerate(self.heaps):
            pid, user, qos, size, hybrid = self.info[g]
            out += [TaskRow(e[1], self.name, pid, user, qos, e[0], size, hybrid) for e in heap]
        return out


__all__ = ["Backend", "Entry"]

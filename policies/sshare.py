"""Slurm's Fair Tree over any tree of accounts and users, with the columns of ``sshare -l``.

This follows Slurm's ``fair_tree.shtml`` and its code (``fair_tree.c``, ``assoc_mgr.c``):

- An account's raw usage is the sum of its children's.
- A node's *fair-share parent* is its parent, except around ``Fairshare=parent``
  (:data:`PARENT`): a node with parent shares, or a node whose parent has them, hangs
  under the first ancestor that has shares of its own. The walk and every fraction below
  use the fair-share parent.
- ``S`` (norm shares): its shares over the sum of its fair-share siblings' shares (parent
  shares count for nothing in that sum; a node with parent shares takes its fair-share
  parent's ``S``). ``U`` (effective usage): its raw usage over its fair-share parent's (0
  when that is 0).
- Level fair share ``LF = S / U``: 0 when ``S`` is 0 (zero shares run last), infinite
  when ``U`` is 0; a user with parent shares is infinite, an account with them does not
  take part (Slurm's ``NO_VAL``). ``S`` is a double and ``U`` and ``LF`` long doubles, as
  in Slurm, so two ratios equal on paper may differ in their last bit and not tie (Slurm's
  own test24.4 shows it).
- Siblings are sorted by ``LF``, highest first (users before accounts on a tie, then by
  name: Slurm leaves that order to ``qsort``), and walked depth first. With ``N`` users in
  the whole tree, the user at rank ``r`` (``N`` for the first, one less for each user after)
  gets the factor ``r / N``.
- **Ties**, as Slurm's documentation states them: a user whose ``LF`` equals the previous
  sibling's takes the previous user's rank; a user tied with a sibling account takes the
  rank of that account's first user; sibling accounts with the same ``LF`` have their
  children merged before descending, so their users are ranked together by their own
  ``LF``. Slurm's code means to merge too, but its ``_count_tied_accounts`` stops at the
  first account it looks at, so it never does, and the first user under the second of two
  tied accounts takes the rank of the last user under the first: which users gain then
  depends on the accounts' names. qcbroker merges, so no rank depends on a name (names only
  order the walk among equals).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

PARENT = None
"""Shares of a node that defers to its parent (Slurm's ``Fairshare=parent``)."""

NO_VAL = np.longdouble(0xFFFFFFFE)
"""Slurm's level fair share of an account with parent shares (it takes no part)."""

_INF = np.longdouble(math.inf)


@dataclass(eq=False)
class Node:
    """An account (with children) or a user (a leaf) of the tree."""

    name: str
    shares: float | None = 1.0
    """Raw shares; :data:`PARENT` for ``Fairshare=parent``."""
    usage: float = 0.0
    """Raw usage of a user; an account's is the sum of its children's."""
    children: list[Node] = field(default_factory=list)
    user: bool = False

    def walk(self) -> Iterator[Node]:
        """This node and every node below it, depth first in the order given."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True)
class Row:
    """One line of ``sshare -l`` (``fairshare`` for users only; ``level_fs`` None for the
    root and for parent shares)."""

    account: str
    user: str
    raw_shares: float | None
    norm_shares: float
    raw_usage: float
    norm_usage: float
    effective_usage: float
    fairshare: float | None
    level_fs: float | None
    is_root: bool = False


class _State:
    """What Fair Tree computes for every node of one tree."""

    def __init__(self, root: Node) -> None:
        self.root = root
        self.parent: dict[int, Node] = {}
        self.usage: dict[int, np.longdouble] = {}
        self.fs_parent: dict[int, Node] = {}
        self.fs_children: dict[int, list[Node]] = {id(n): [] for n in root.walk()}
        self.norm: dict[int, float] = {id(root): 1.0}
        self.efctv: dict[int, np.longdouble] = {id(root): np.longdouble(1)}
        self.level_fs: dict[int, np.longdouble] = {id(root): NO_VAL}
        self.factor: dict[int, float] = {}
        self.levels: dict[int, float] = {}
        self._sum(root)
        for node in root.walk():
            if node is not root:
                up = self._find_fs_parent(node)
                self.fs_parent[id(node)] = up
                self.fs_children[id(up)].append(node)
        for node in root.walk():
            if node is not root:
                self._fractions(node)
        self.n_users = sum(1 for n in root.walk() if n.user)
        self.rank = self.rnt = self.n_users
        self._descend(self.fs_children[id(root)], account_tied=False)

    def _sum(self, node: Node) -> np.longdouble:
        total = np.longdouble(node.usage) if node.user else np.longdouble(0)
        for child in node.children:
            self.parent[id(child)] = node
            total += self._sum(child)
        self.usage[id(node)] = total
        return total

    def _find_fs_parent(self, node: Node) -> Node:
        """Slurm's ``fs_assoc_ptr``: the first ancestor that has shares of its own, when
        the node or its parent has parent shares; else the parent."""
        up = self.parent[id(node)]
        if node.shares is not PARENT and up.shares is not PARENT:
            return up
        while up is not self.root and up.shares is PARENT:
            up = self.parent[id(up)]
        return up

    def _fractions(self, node: Node) -> None:
        up = self.fs_parent[id(node)]
        if node.shares is PARENT:
            self.norm[id(node)] = self.norm[id(up)]
        else:
            level = self._level_shares(up)
            self.norm[id(node)] = node.shares / level if level else 0.0
        parent_usage = self.usage[id(up)]
        u = self.usage[id(node)] / parent_usage if parent_usage else np.longdouble(0)
        self.efctv[id(node)] = u
        s = np.longdouble(self.norm[id(node)])
        if node.shares is PARENT:
            self.level_fs[id(node)] = _INF if node.user else NO_VAL
        elif s == 0:
            self.level_fs[id(node)] = np.longdouble(0)
        else:
            self.level_fs[id(node)] = s / u if u else _INF

    def _level_shares(self, up: Node) -> float:
        """The sum of the shares of ``up``'s fair-share children (parent shares aside)."""
        level = self.levels.get(id(up))
        if level is None:
            kids = self.fs_children[id(up)]
            level = self.levels[id(up)] = sum(
                float(k.shares) for k in kids if k.shares is not PARENT
            )
        return level

    def _descend(self, siblings: list[Node], account_tied: bool) -> None:
        """Slurm's ``_calc_tree_fs``: rank users, recurse into accounts, in LF order;
        tied sibling accounts are merged (their children walked as one list)."""
        ordered = sorted(siblings, key=lambda n: (-self.level_fs[id(n)], not n.user, n.name))
        previous = NO_VAL
        i = 0
        while i < len(ordered):
            node = ordered[i]
            lf = self.level_fs[id(node)]
            tied = True if i == 0 and account_tied else bool(previous == lf)
            if node.user:
                if not tied:
                    self.rank = self.rnt
                self.factor[id(node)] = self.rank / self.n_users
                self.rnt -= 1
                i += 1
            else:
                merged = [*self.fs_children[id(node)]]
                i += 1
                while (
                    i < len(ordered) and not ordered[i].user and self.level_fs[id(ordered[i])] == lf
                ):
                    merged += self.fs_children[id(ordered[i])]
                    i += 1
                self._descend(merged, tied)
            previous = lf


def fair_tree(root: Node) -> dict[int, float]:
    """Each user's Fair Tree factor in (0, 1], by ``id()`` of its :class:`Node`."""
    return _State(root).factor


def sshare(root: Node) -> list[Row]:
    """Every node as ``sshare -l`` lists it: depth first, in the order given."""
    state = _State(root)
    total = state.usage[id(root)]
    rows = []
    for node in root.walk():
        account = node.name if not node.user else state.parent[id(node)].name
        lf = state.level_fs[id(node)]
        rows.append(
            Row(
                account=account,
                user=node.name if node.user else "",
                raw_shares=None if node is root else node.shares,
                norm_shares=0.0 if node is root else state.norm[id(node)],
                raw_usage=float(state.usage[id(node)]),
                norm_usage=float(state.usage[id(node)] / total) if total else 0.0,
                effective_usage=float(state.efctv[id(node)]),
                fairshare=state.factor.get(id(node)),
                level_fs=None if node is root or node.shares is PARENT else float(lf),
                is_root=node is root,
            )
        )
    return rows


def parsable(row: Row) -> str:
    """A row as ``sshare -l -P`` prints it (six decimals; the TRES columns left empty)."""

    def num(value: float | None) -> str:
        if value is None:
            return ""
        return "inf" if math.isinf(value) else f"{value:.6f}"

    shares = "parent" if row.raw_shares is None else f"{row.raw_shares:g}"
    if row.is_root:
        shares = ""
    return "|".join(
        [
            row.account,
            row.user,
            shares,
            num(row.norm_shares),
            f"{row.raw_usage:.0f}",
            "" if row.is_root else num(row.norm_usage),
            num(row.effective_usage),
            num(row.fairshare),
            num(row.level_fs),
            "",
            "cpu=0",
            "",
        ]
    )

"""Fair Tree against a reference written here from Slurm's documentation
(``fair_tree.shtml``: level fair share, ties, merged tied accounts) and code
(``fair_tree.c``, ``assoc_mgr.c``: fair-share parents, ``Fairshare=parent``, zero shares,
long-double ``S / U``), not from the engine's code.

On random trees full of ties (small integer shares and usage, zero shares, users with no
usage, proportional usage that may or may not tie in long double), three implementations
must give the reference's factors and the same ties: :mod:`policies.sshare` on general
trees, the engine's cycle (``Engine.score``) on policies, and the simulator's incremental
tree (``LiveTree``) on the same policies."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from policies.engine import Engine, PendingTasks, TaskRow
from policies.fairshare import DecayedUsage
from policies.livetree import LiveTree
from policies.schema import Policy
from policies.sshare import PARENT, Node, fair_tree

LD = np.longdouble
INF = LD(np.inf)
SKIPPED = LD(0xFFFFFFFE)  # Slurm's NO_VAL: an account with parent shares
T0 = 1_767_225_600.0


# -- the reference ---------------------------------------------------------------------------


def reference(tree: dict[str, Any]) -> dict[str, float]:
    """Factors by user path ("a/b/user") of a tree of dicts: {name, shares, usage, kids}
    (users have no "kids" key; shares None means Fairshare=parent)."""
    nodes: dict[str, dict[str, Any]] = {}
    up: dict[str, str] = {}

    def index(node: dict[str, Any], path: str) -> LD:
        nodes[path] = node
        if "kids" not in node:
            raw = node["raw"] = LD(node["usage"])
            return raw
        total = LD(0)
        for kid in node["kids"]:
            child = f"{path}/{kid['name']}"
            up[child] = path
            total = total + index(kid, child)
        node["raw"] = total
        return total

    index(tree, "")

    def fs_up(path: str) -> str:
        # the first ancestor with shares of its own, if this node or its parent defers
        parent = up[path]
        if nodes[path]["shares"] is not PARENT and nodes[parent]["shares"] is not PARENT:
            return parent
        while parent and nodes[parent]["shares"] is PARENT:
            parent = up[parent]
        return parent

    kids: dict[str, list[str]] = {p: [] for p in nodes}
    for path in up:
        kids[fs_up(path)].append(path)
    norm: dict[str, float] = {"": 1.0}
    for path in up:  # insertion order is depth first: a parent's norm comes first
        node, home = nodes[path], fs_up(path)
        if node["shares"] is PARENT:
            norm[path] = norm[home]
            continue
        level = sum(
            float(nodes[k]["shares"]) for k in kids[home] if nodes[k]["shares"] is not PARENT
        )
        norm[path] = node["shares"] / level if level else 0.0
    lf: dict[str, LD] = {}
    for path in up:
        node, home = nodes[path], fs_up(path)
        if node["shares"] is PARENT:
            lf[path] = INF if "kids" not in node else SKIPPED
            continue
        s = LD(norm[path])
        u = node["raw"] / nodes[home]["raw"] if nodes[home]["raw"] else LD(0)
        lf[path] = LD(0) if s == 0 else (s / u if u != 0 else INF)

    users = [p for p in up if "kids" not in nodes[p]]
    factors: dict[str, float] = {}
    counter = {"next": len(users), "held": len(users)}

    def walk(siblings: list[str], inherit_tie: bool) -> None:
        # highest LF first, users before accounts among equals
        ordered = sorted(siblings, key=lambda p: (-lf[p], "kids" in nodes[p], p))
        last = SKIPPED
        k = 0
        while k < len(ordered):
            path = ordered[k]
            tie = True if k == 0 and inherit_tie else bool(lf[path] == last)
            if "kids" not in nodes[path]:
                if not tie:
                    counter["held"] = counter["next"]
                factors[path.lstrip("/")] = counter["held"] / len(users)
                counter["next"] -= 1
                k += 1
            else:
                group = [path]
                while (
                    k + 1 < len(ordered)
                    and "kids" in nodes[ordered[k + 1]]
                    and lf[ordered[k + 1]] == lf[path]
                ):
                    k += 1
                    group.append(ordered[k])
                walk([c for g in group for c in kids[g]], tie)
                k += 1
            last = lf[path]

    walk(kids[""], False)
    return factors


# -- random trees ------------------------------------------------------------------------------


def random_tree(rng: random.Random, depth: int = 0, name: str = "root") -> dict[str, Any]:
    shares: float | None = rng.choice([0, 1, 1, 2, 3, 5, 10])
    if depth > 0 and rng.random() < 0.1:
        shares = PARENT
    node: dict[str, Any] = {"name": name, "shares": None if depth == 0 else shares}
    kids = []
    for i in range(rng.randint(1, 4)):
        if depth < 3 and rng.random() < 0.45:
            kids.append(random_tree(rng, depth + 1, f"{name[0]}{depth}{i}a"))
        else:
            user_shares = PARENT if rng.random() < 0.1 else rng.choice([0, 1, 1, 2, 4])
            usage = rng.choice([0, 0, 1, 2, 4, 5, 10, 20, 25])
            kids.append({"name": f"u{depth}{i}{name}", "shares": user_shares, "usage": usage})
    node["kids"] = kids
    return node


def to_nodes(tree: dict[str, Any]) -> tuple[Node, dict[str, Node]]:
    found: dict[str, Node] = {}

    def build(d: dict[str, Any], path: str) -> Node:
        if "kids" not in d:
            node = found[path.lstrip("/")] = Node(d["name"], d["shares"], d["usage"], user=True)
            return node
        kids = [build(k, f"{path}/{k['name']}") for k in d["kids"]]
        return Node(d["name"], d["shares"], children=kids)

    return build(tree, ""), found


def assert_same(got: dict[str, float], want: dict[str, float]) -> None:
    assert got.keys() == want.keys()
    for key in want:
        assert got[key] == pytest.approx(want[key], abs=1e-9), key
    keys = sorted(want)
    for a in keys:  # the same ties, so the same order
        for b in keys:
            assert (got[a] == got[b]) == (want[a] == want[b]), (a, b)


@pytest.mark.parametrize("block", range(10))
def test_sshare_gives_the_reference_factors_on_random_trees(block: int) -> None:
    for seed in range(block * 100, block * 100 + 100):
        rng = random.Random(seed)
        tree = random_tree(rng)
        root, found = to_nodes(tree)
        by_id = fair_tree(root)
        assert_same({path: by_id[id(n)] for path, n in found.items()}, reference(tree))


# -- policies: the engine and the simulator ----------------------------------------------------


def random_policy(rng: random.Random) -> tuple[Policy, dict[tuple[str, str], float], list[TaskRow]]:
    programs = [f"g{i}" for i in range(rng.randint(1, 3))]
    proposals: list[dict[str, Any]] = []
    usage: dict[tuple[str, str], float] = {}
    rows: list[TaskRow] = []
    for i in range(rng.randint(1, 7)):
        members = [f"m{i}{k}" for k in range(rng.randint(1, 4))]
        on_qpu = rng.random() < 0.85
        budgets = [{"backend": "qpu", "unit": "qpu_seconds", "amount": 1e9}] if on_qpu else []
        proposals.append(
            {
                "id": f"p{i}",
                "pi": members[0],
                "members": [*members, "*"] if rng.random() < 0.2 else members,
                "program": rng.choice(programs),
                "shares": rng.choice([0, 1, 1, 2, 3, 5]),
                "budgets": budgets,
            }
        )
        for user in [*members, f"x{i}"]:
            if rng.random() < 0.5:
                usage[(f"p{i}", user)] = float(rng.choice([0, 1, 2, 4, 5, 10, 20]))
            if rng.random() < 0.4:
                rows.append(TaskRow(f"t{len(rows)}", "qpu", f"p{i}", user, None, T0))
    if not rows:
        rows.append(TaskRow("t0", "qpu", "p0", proposals[0]["pi"], None, T0))
    policy = Policy.model_validate(
        {
            "apiVersion": "qcbroker/v1",
            "kind": "Policy",
            "metadata": {"name": "ref"},
            "backends": {"qpu": {"units": ["qpu_seconds"]}},
            "fairshare": {"programs": {g: rng.choice([0, 1, 1, 2, 4]) for g in programs}},
            "proposals": proposals,
        }
    )
    return policy, usage, rows


def policy_tree(
    policy: Policy, usage: dict[tuple[str, str], float], rows: list[TaskRow]
) -> dict[str, Any]:
    """The tree the module doc of policies.fairshare describes, as the reference's dicts."""
    users: dict[str, dict[str, float]] = {}
    for p in policy.proposals:
        if "qpu" in p.backends():
            users[p.id] = {u: 0.0 for u in {p.pi, *p.members} if u != "*"}
    for (pid, user), w in usage.items():
        users.setdefault(pid, {})[user] = w
    for r in rows:
        users.setdefault(r.proposal, {}).setdefault(r.user, 0.0)
    programs: dict[str, list[dict[str, Any]]] = {}
    for p in policy.proposals:
        if p.id in users:
            kids = [{"name": u, "shares": 1, "usage": w} for u, w in sorted(users[p.id].items())]
            programs.setdefault(p.program, []).append(
                {"name": p.id, "shares": p.shares, "kids": kids}
            )
    shares = policy.fairshare.programs
    kids = [
        {"name": g, "shares": shares.get(g, 1.0), "kids": k} for g, k in sorted(programs.items())
    ]
    return {"name": "root", "shares": None, "kids": kids}


def live_factors(
    policy: Policy, usage: dict[tuple[str, str], float], rows: list[TaskRow]
) -> dict[str, float]:
    engine = Engine(policy)
    live = LiveTree(engine.tree)
    index = engine.tree.index
    for pid, user in engine.tree.members_on("qpu"):
        live.insert(live.leaf(index[pid], user))
    for (pid, user), w in usage.items():
        live.update(live.leaf(index[pid], user), w)
    for r in rows:
        live.insert(live.leaf(index[r.proposal], r.user))
    return {
        f"{policy.proposal(r.proposal).program}/{r.proposal}/{r.user}": live.factor_list(  # type: ignore[union-attr]
            [live.leaf(index[r.proposal], r.user)]
        )[0]
        for r in rows
    }


@pytest.mark.parametrize("block", range(10))
def test_engine_and_simulator_give_the_reference_factors_on_random_policies(block: int) -> None:
    for seed in range(block * 100, block * 100 + 100):
        rng = random.Random(seed)
        policy, usage, rows = random_policy(rng)
        decayed = DecayedUsage(86400.0)
        for (pid, user), w in usage.items():
            decayed.add("qpu", pid, user, w, T0)
        want = reference(policy_tree(policy, usage, rows))
        scored = Engine(policy).score(PendingTasks.from_rows(rows), decayed, T0)
        got = {}
        for i, r in enumerate(rows):
            got[f"{policy.proposal(r.proposal).program}/{r.proposal}/{r.user}"] = float(  # type: ignore[union-attr]
                scored.fairshare[i]
            )
        mine = {k: want[k] for k in got}
        assert_same(got, mine)
        assert_same(live_factors(policy, usage, rows), mine)

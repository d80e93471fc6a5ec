"""``qcb fairshare`` and ``qcb priority``: the Fair Tree of each backend as ``sshare -l``
shows Slurm's, and each pending task's factors as ``sprio -l`` shows a job's, both from one
reading of the store."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, Field

from broker.core.orchestrator import Broker
from broker.core.snapshot import AllocationState, Snapshot, snapshot
from broker.errors import NotFound
from policies import sshare
from policies.engine import Engine
from policies.priority import FACTORS

Visible = Callable[[str], bool]
"""Whether the caller may see a proposal's rows."""


class ShareRow(BaseModel):
    """One node of a backend's Fair Tree, with the columns of ``sshare -l``."""

    backend: str
    level: Literal["root", "program", "proposal", "user"]
    name: str
    program: str | None = None
    proposal: str | None = None
    raw_shares: float | None = Field(description="Shares as the policy gives them.")
    norm_shares: float = Field(description="S: shares over the siblings' shares.")
    raw_usage: float = Field(description="Decayed backend-seconds (sum of the subtree).")
    norm_usage: float = Field(description="Raw usage over the whole tree's.")
    effective_usage: float = Field(description="U: raw usage over the parent's.")
    level_fs: float | None = Field(
        description="S / U among siblings; null for the root and when U is 0 (infinite)."
    )
    fairshare: float | None = Field(
        description="A user's Fair Tree factor (rank / N); null for the other levels."
    )


class PriorityRow(BaseModel):
    """One pending task's priority, factor by factor, as ``sprio -l`` shows a job's."""

    task_id: str
    backend: str
    proposal: str
    user: str
    priority: float
    factors: dict[str, float] = Field(description="Each factor, in [0, 1].")
    weighted: dict[str, float] = Field(description="Each factor times its policy weight.")


def _read(broker: Broker) -> tuple[Engine, Snapshot, float]:
    loaded = broker.policy
    engine = Engine(loaded.policy, loaded.revision, broker.dispatch.backend_size)
    now = time.time()
    with broker.db.read() as conn:
        snap = snapshot(conn, loaded.policy, AllocationState(), broker.capacity, now=now)
    return engine, snap, now


def fairshare(broker: Broker, visible: Visible, backend: str | None = None) -> list[ShareRow]:
    """The Fair Tree of each backend (or of ``backend``): root, programs, then the proposals
    and users ``visible`` allows, in the walk's order of the tree as built."""
    engine, snap, now = _read(broker)
    if backend is not None and backend not in engine.policy.backends:
        known = ", ".join(sorted(engine.policy.backends)) or "none"
        raise NotFound(
            f"no backend {backend[:100]!r} in the policy in force",
            hint=f"the policy's backends: {known}",
        )
    pending = snap.pending
    names = [backend] if backend is not None else sorted(engine.policy.backends)
    out: list[ShareRow] = []
    for name in names:
        b = pending.backends.index(name) if name in pending.backends else -1
        leaves = [
            (pending.proposals[p], pending.users[u])
            for p, u, on in zip(
                pending.proposal.tolist(),
                pending.user.tolist(),
                (pending.backend == b).tolist(),
                strict=True,
            )
            if on
        ]
        root, _ = engine.tree.build(name, snap.usage.leaves(name, now), leaves)
        if not root.children:
            continue
        out += _rows(name, root, visible)
    return out


Level = Literal["root", "program", "proposal", "user"]


def _places(root: sshare.Node) -> dict[int, tuple[Level, str | None, str | None, str]]:
    """Where each node of a tree of :meth:`FairTree.build` stands, by ``id()``."""
    places: dict[int, tuple[Level, str | None, str | None, str]] = {
        id(root): ("root", None, None, "root")
    }
    for program in root.children:
        places[id(program)] = ("program", program.name, None, program.name)
        for proposal in program.children:
            places[id(proposal)] = ("proposal", program.name, proposal.name, proposal.name)
            for user in proposal.children:
                places[id(user)] = ("user", program.name, proposal.name, user.name)
    return places


def _rows(backend: str, root: sshare.Node, visible: Visible) -> list[ShareRow]:
    places = _places(root)
    out = []
    for node, row in zip(root.walk(), sshare.sshare(root), strict=True):
        level, program, proposal, name = places[id(node)]
        if proposal is not None and not visible(proposal):
            continue
        lf = row.level_fs
        out.append(
            ShareRow(
                backend=backend,
                level=level,
                name=name,
                program=program,
                proposal=proposal,
                raw_shares=row.raw_shares,
                norm_shares=row.norm_shares,
                raw_usage=row.raw_usage,
                norm_usage=row.norm_usage,
                effective_usage=row.effective_usage,
                level_fs=None if lf is None or lf == float("inf") else lf,
                fairshare=row.fairshare,
            )
        )
    return out


def priorities(broker: Broker, visible: Callable[[str, str], bool]) -> list[PriorityRow]:
    """Every pending task that ``visible(proposal, user)`` allows, highest priority first
    (then oldest, as the engine releases them), with its factors."""
    engine, snap, now = _read(broker)
    pending = snap.pending
    if len(pending) == 0:
        return []
    scored = engine.score(pending, snap.usage, now, penalties=snap.penalties)
    weights = engine.weights
    out = []
    for i in range(len(pending)):
        proposal = pending.proposals[pending.proposal[i]]
        user = pending.users[pending.user[i]]
        if not visible(proposal, user):
            continue
        factors = {name: float(getattr(scored, name)[i]) for name in FACTORS}
        out.append(
            PriorityRow(
                task_id=str(pending.ids[i]),
                backend=pending.backends[pending.backend[i]],
                proposal=proposal,
                user=user,
                priority=float(scored.priority[i]),
                factors=factors,
                weighted={n: v * getattr(weights, n) for n, v in factors.items()},
            )
        )
    created = {str(pending.ids[i]): float(pending.created[i]) for i in range(len(pending))}
    out.sort(key=lambda r: (-r.priority, created[r.task_id], r.task_id))
    return out

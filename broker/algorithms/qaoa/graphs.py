"""Graphs for graph problems (QAOA's MaxCut): the inline model, files, and cut values.

A graph is given inline in a job as ``{edges: [[u, v], [u, v, weight], ...], num_nodes:
optional}`` with nodes numbered from 0 (node ``i`` is qubit ``i``), or in a job file as
``graph_file: PATH``, which the job-file loader (:mod:`broker.jobfile`) replaces by the
inline graph, so that a job sent to a broker is self-contained. Two file formats:

- an edge list: one edge ``u v [weight]`` per line, ``#`` starts a comment;
- networkx node-link JSON (``networkx.node_link_data``; links under ``links`` or
  ``edges``, weights under ``weight``).

Nodes that are non-negative integers keep their numbers; otherwise (names such as ``a``)
they are numbered in order of appearance and the names kept as ``labels``.

This module imports no quantum SDK: the job-file loader uses it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "Graph",
    "GraphFileError",
    "cut_value",
    "load_graph_file",
    "parse_edge_list",
    "parse_node_link",
    "sides_of",
]


class GraphFileError(ValueError):
    """A graph file cannot be read; the message names the file and the line (or entry)."""


def _check_edge(edge: list[int | float]) -> list[int | float]:
    if len(edge) not in (2, 3):
        raise ValueError(f"an edge is [u, v] or [u, v, weight], not {len(edge)} numbers")
    for node in edge[:2]:
        if isinstance(node, float | bool) or node < 0:
            raise ValueError(f"node {node!r} is not a node number (integers from 0)")
    if edge[0] == edge[1]:
        raise ValueError(f"self-loop on node {edge[0]}: an edge joins two different nodes")
    if len(edge) == 3 and not math.isfinite(edge[2]):
        raise ValueError(f"weight {edge[2]!r} is not a finite number")
    return edge


Edge = Annotated[list[int | float], AfterValidator(_check_edge)]


class Graph(BaseModel):
    """An undirected weighted graph on nodes ``0 .. num_nodes-1`` (weight 1 by default)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    edges: list[Edge] = Field(min_length=1, description="[u, v] or [u, v, weight] each.")
    num_nodes: int | None = Field(
        default=None, ge=2, description="Default: the largest node number + 1."
    )
    labels: list[str] | None = Field(
        default=None, description="A name per node, when the file named its nodes."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Graph:
        seen: dict[tuple[int, int], int] = {}
        for index, (u, v) in enumerate((int(e[0]), int(e[1])) for e in self.edges):
            key = (min(u, v), max(u, v))
            if key in seen:
                raise ValueError(
                    f"edges[{index}] joins nodes {u} and {v} again (as edges[{seen[key]}] "
                    "does); give each edge once, with its total weight"
                )
            seen[key] = index
        highest = max(max(int(e[0]), int(e[1])) for e in self.edges)
        if self.num_nodes is not None and highest >= self.num_nodes:
            raise ValueError(
                f"num_nodes is {self.num_nodes} but an edge names node {highest} "
                f"(nodes are numbered 0 to {self.num_nodes - 1})"
            )
        if self.labels is not None and len(self.labels) != self.size:
            raise ValueError(f"labels has {len(self.labels)} names for {self.size} nodes")
        return self

    @property
    def size(self) -> int:
        """The number of nodes (and of qubits in a QAOA circuit)."""
        highest = max(max(int(e[0]), int(e[1])) for e in self.edges)
        return self.num_nodes if self.num_nodes is not None else highest + 1

    def weighted_edges(self) -> list[tuple[int, int, float]]:
        """``(u, v, weight)`` per edge, in the order given."""
        return [(int(e[0]), int(e[1]), float(e[2]) if len(e) == 3 else 1.0) for e in self.edges]

    @property
    def total_weight(self) -> float:
        """The sum of the edge weights."""
        return sum(w for _, _, w in self.weighted_edges())


def cut_value(graph: Graph, sides: Sequence[int]) -> float:
    """Total weight of the edges whose ends are on different sides (``sides[i]`` is 0 or 1)."""
    return sum(w for u, v, w in graph.weighted_edges() if sides[u] != sides[v])


EXACT_MAX_NODES = 20
"""The largest graph whose maximum cut :func:`max_cut` finds by enumeration (2**19 cuts)."""


def max_cut(graph: Graph) -> float | None:
    """The maximum cut value by enumerating every cut (node 0 fixed on side 0), vectorized;
    ``None`` beyond :data:`EXACT_MAX_NODES` nodes."""
    nodes = graph.size
    if nodes > EXACT_MAX_NODES:
        return None
    import numpy as np

    cuts = np.arange(2 ** (nodes - 1), dtype=np.int64) << 1  # node 0 on side 0
    total = np.zeros(len(cuts))
    for u, v, w in graph.weighted_edges():
        total += w * (((cuts >> u) ^ (cuts >> v)) & 1)
    return float(total.max())


def sides_of(bitstring: str) -> list[int]:
    """Node sides from a Qiskit-order bitstring (qubit 0 is the rightmost character)."""
    return [int(bit) for bit in reversed(bitstring)]


# --- files -------------------------------------------------------------------------------


class _Numbering:
    """Node names to numbers: integers as themselves, names in order of appearance."""

    def __init__(self, names: list[Any]) -> None:
        self.integral = all(_as_index(n) is not None for n in names)
        self.order: dict[str, int] = {}
        for name in names:
            self.order.setdefault(str(name), len(self.order))

    def number(self, name: Any) -> int:
        index = _as_index(name) if self.integral else self.order[str(name)]
        assert index is not None
        return index

    def graph(self, edges: list[list[int | float]], num_nodes: int | None) -> dict[str, Any]:
        data: dict[str, Any] = {"edges": edges}
        if self.integral:
            if num_nodes is not None:
                data["num_nodes"] = num_nodes
        else:
            data["num_nodes"] = len(self.order)
            data["labels"] = list(self.order)
        return data


def _as_index(name: Any) -> int | None:
    if isinstance(name, bool):
        return None
    if isinstance(name, int):
        return name if name >= 0 else None
    if isinstance(name, str) and name.isdigit():
        return int(name)
    return None


def _number(token: str) -> float | None:
    try:
        value = float(token)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_edge_list(text: str, source: str = "<graph>") -> dict[str, Any]:
    """An inline graph (``{edges, num_nodes?, labels?}``) from edge-list text.

    Raises:
        GraphFileError: naming ``source`` and the line of the first malformed edge.
    """
    rows: list[tuple[int, str, str, float | None]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        tokens = raw.split("#", 1)[0].split()
        if not tokens:
            continue
        where = f"{source} line {lineno}"
        if len(tokens) not in (2, 3):
            raise GraphFileError(f"{where}: expected 'u v' or 'u v weight', got {raw.strip()!r}")
        weight = None
        if len(tokens) == 3:
            weight = _number(tokens[2])
            if weight is None:
                raise GraphFileError(f"{where}: weight {tokens[2]!r} is not a finite number")
        if tokens[0] == tokens[1]:
            raise GraphFileError(f"{where}: self-loop on node {tokens[0]}")
        rows.append((lineno, tokens[0], tokens[1], weight))
    if not rows:
        raise GraphFileError(f"{source}: no edges (one 'u v [weight]' per line)")
    numbering = _Numbering([name for _, u, v, _ in rows for name in (u, v)])
    edges: list[list[int | float]] = []
    seen: dict[tuple[int, int], int] = {}
    for lineno, u_name, v_name, weight in rows:
        u, v = numbering.number(u_name), numbering.number(v_name)
        key = (min(u, v), max(u, v))
        if key in seen:
            raise GraphFileError(
                f"{source} line {lineno}: edge {u_name} {v_name} repeats line {seen[key]}"
            )
        seen[key] = lineno
        edges.append([u, v] if weight is None else [u, v, weight])
    return numbering.graph(edges, None)


def parse_node_link(text: str, source: str = "<graph>") -> dict[str, Any]:
    """An inline graph from networkx node-link JSON.

    Raises:
        GraphFileError: naming ``source`` and the line (JSON syntax) or entry at fault.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GraphFileError(
            f"{source} line {exc.lineno}: not valid JSON ({exc.msg}, column {exc.colno})"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        raise GraphFileError(f"{source}: node-link JSON is an object with 'nodes' and 'links'")
    if data.get("directed"):
        raise GraphFileError(f"{source}: the graph is directed; MaxCut needs an undirected one")
    key = "links" if "links" in data else "edges"
    links = data.get(key)
    if not isinstance(links, list) or not links:
        raise GraphFileError(f"{source}: no edges under 'links' (or 'edges')")
    ids: list[Any] = []
    for index, node in enumerate(data["nodes"]):
        if not isinstance(node, dict) or "id" not in node:
            raise GraphFileError(f"{source}: nodes[{index}] has no 'id'")
        ids.append(node["id"])
    known = {json.dumps(i) for i in ids}
    numbering = _Numbering(ids)
    edges: list[list[int | float]] = []
    seen: dict[tuple[int, int], int] = {}
    for index, link in enumerate(links):
        where = f"{source}: {key}[{index}]"
        if not isinstance(link, dict) or "source" not in link or "target" not in link:
            raise GraphFileError(f"{where} needs 'source' and 'target'")
        ends = (link["source"], link["target"])
        for end in ends:
            if json.dumps(end) not in known:
                raise GraphFileError(f"{where} names node {end!r}, which is not in 'nodes'")
        if ends[0] == ends[1]:
            raise GraphFileError(f"{where} is a self-loop on node {ends[0]!r}")
        u, v = numbering.number(ends[0]), numbering.number(ends[1])
        pair = (min(u, v), max(u, v))
        if pair in seen:
            raise GraphFileError(f"{where} repeats {key}[{seen[pair]}]")
        seen[pair] = index
        weight = link.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise GraphFileError(f"{where} has weight {weight!r}, not a number")
        if not math.isfinite(weight):
            raise GraphFileError(f"{where} has weight {weight!r}, not a finite number")
        edges.append([u, v, float(weight)])
    num_nodes = max(numbering.number(i) for i in ids) + 1 if numbering.integral else None
    return numbering.graph(edges, num_nodes)


def load_graph_file(path: Path, name: str | None = None) -> dict[str, Any]:
    """Read a graph file (node-link JSON when it ends in ``.json`` or starts with ``{``,
    else an edge list) as an inline graph; ``name`` is how errors call the file.

    Raises:
        GraphFileError: the file cannot be read or is malformed (with its line).
    """
    source = name or str(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise GraphFileError(f"cannot read {source}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise GraphFileError(f"{source} is not a text file") from None
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        return parse_node_link(text, source)
    return parse_edge_list(text, source)

"""Graphs for MaxCut: the inline model, edge-list and node-link files, cut values."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import networkx as nx
import pytest
from pydantic import ValidationError

from broker.algorithms.qaoa.graphs import (
    Graph,
    GraphFileError,
    cut_value,
    load_graph_file,
    parse_edge_list,
    parse_node_link,
    sides_of,
)

EDGE_LIST = """\
# a weighted square with a diagonal
0 1 2.5
1 2        # weight 1 by default
2 3 -1
3 0 4
0 2 0.5    # the diagonal

"""


def test_an_edge_list_keeps_integer_nodes_and_weights() -> None:
    data = parse_edge_list(EDGE_LIST)
    graph = Graph.model_validate(data)
    assert graph.size == 4
    assert graph.labels is None
    assert graph.weighted_edges() == [
        (0, 1, 2.5),
        (1, 2, 1.0),
        (2, 3, -1.0),
        (3, 0, 4.0),
        (0, 2, 0.5),
    ]


def test_named_nodes_are_numbered_in_order_of_appearance() -> None:
    graph = Graph.model_validate(parse_edge_list("b a 2\na c\n"))
    assert graph.labels == ["b", "a", "c"]
    assert graph.weighted_edges() == [(0, 1, 2.0), (1, 2, 1.0)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 1\n1 2 3 4\n", r"g.txt line 2: expected 'u v' or 'u v weight', got '1 2 3 4'"),
        ("0 1\n\n# note\n1 2 heavy\n", r"g.txt line 4: weight 'heavy' is not a finite number"),
        ("0 1\n2 2\n", r"g.txt line 2: self-loop on node 2"),
        ("0 1\n1 2\n1 0 3\n", r"g.txt line 3: edge 1 0 repeats line 1"),
        ("0 1 nan\n", r"g.txt line 1: weight 'nan' is not a finite number"),
        ("# nothing\n\n", r"g.txt: no edges"),
    ],
)
def test_a_malformed_edge_list_names_its_line(text: str, message: str) -> None:
    with pytest.raises(GraphFileError, match=message):
        parse_edge_list(text, "g.txt")


def _weighted(seed: int) -> nx.Graph:
    graph = nx.gnp_random_graph(7, 0.5, seed=seed)
    for index, (u, v) in enumerate(graph.edges):
        graph.edges[u, v]["weight"] = 0.5 + index % 3
    return graph


def _brute_cuts(graph: nx.Graph, nodes: list[object]) -> dict[tuple[int, ...], float]:
    """networkx's cut size of every assignment of ``nodes`` (in that order) to two sides."""
    out = {}
    for sides in itertools.product((0, 1), repeat=len(nodes)):
        one = [n for n, s in zip(nodes, sides, strict=True) if s]
        out[sides] = float(nx.cut_size(graph, one, weight="weight"))
    return out


def test_node_link_json_gives_the_same_cuts_as_networkx() -> None:
    nxg = _weighted(seed=4)
    text = json.dumps(nx.node_link_data(nxg, edges="links"))
    graph = Graph.model_validate(parse_node_link(text))
    assert graph.size == nxg.number_of_nodes()
    for sides, expected in _brute_cuts(nxg, sorted(nxg.nodes)).items():
        assert cut_value(graph, sides) == pytest.approx(expected)


def test_node_link_with_named_nodes_and_an_edges_key() -> None:
    nxg = nx.relabel_nodes(_weighted(seed=5), {i: f"n{i}" for i in range(7)})
    data = nx.node_link_data(nxg, edges="edges")
    graph = Graph.model_validate(parse_node_link(json.dumps(data)))
    assert graph.labels == [node["id"] for node in data["nodes"]]
    for sides, expected in _brute_cuts(nxg, graph.labels).items():
        assert cut_value(graph, sides) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"nodes": [{"id": 0},\n {"id": 1}],\n "links": [{"source": 0 "target": 1}]}', "line 3"),
        ('{"nodes": [{"id": 0}, {"id": 1}], "links": [{"source": 0, "target": 2}]}', r"links\[0\]"),
        ('{"nodes": [{"id": 0}, {"id": 1}], "links": [{"source": 0}]}', r"links\[0\] needs"),
        (
            '{"directed": true, "nodes": [{"id": 0}], "links": [{"source": 0, "target": 0}]}',
            "directed",
        ),
        (
            '{"nodes": [{"id": 0}, {"id": 1}],'
            ' "links": [{"source": 0, "target": 1, "weight": "x"}]}',
            r"links\[0\] has weight 'x'",
        ),
    ],
)
def test_malformed_node_link_json_names_the_line_or_entry(text: str, message: str) -> None:
    with pytest.raises(GraphFileError, match=message):
        parse_node_link(text, "g.json")


def test_files_are_read_by_format(tmp_path: Path) -> None:
    (tmp_path / "g.txt").write_text("0 1\n1 2 2\n")
    (tmp_path / "g.json").write_text(json.dumps(nx.node_link_data(nx.path_graph(3), edges="links")))
    assert load_graph_file(tmp_path / "g.txt") == {"edges": [[0, 1], [1, 2, 2.0]]}
    assert load_graph_file(tmp_path / "g.json")["edges"] == [[0, 1, 1.0], [1, 2, 1.0]]
    with pytest.raises(GraphFileError, match=r"cannot read nope\.txt"):
        load_graph_file(tmp_path / "nope.txt", "nope.txt")


@pytest.mark.parametrize(
    ("data", "loc", "message"),
    [
        ({"edges": [[0, 1], [1]]}, ("edges", 1), "an edge is"),
        ({"edges": [[0, 1], [2, 2]]}, ("edges", 1), "self-loop"),
        ({"edges": [[0, -1]]}, ("edges", 0), "not a node number"),
        ({"edges": [[0, 1.5]]}, ("edges", 0), "not a node number"),
        ({"edges": [[0, 1], [1, 0, 2]]}, (), r"edges\[1\] joins nodes 1 and 0 again"),
        ({"edges": [[0, 3]], "num_nodes": 3}, (), "num_nodes is 3 but an edge names node 3"),
        ({"edges": []}, ("edges",), "at least 1"),
        ({"edges": [[0, 1]], "labels": ["a"]}, (), "labels has 1 names for 2 nodes"),
    ],
)
def test_inline_graph_errors_name_the_edge(
    data: dict[str, object], loc: tuple[object, ...], message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        Graph.model_validate(data)
    error = info.value.errors()[0]
    assert error["loc"] == loc
    assert re.search(message, error["msg"]), error["msg"]


def test_isolated_nodes_count_when_num_nodes_says_so() -> None:
    assert Graph.model_validate({"edges": [[0, 1]], "num_nodes": 4}).size == 4
    assert Graph.model_validate({"edges": [[2, 5]]}).size == 6


def test_sides_read_qiskit_order_bitstrings() -> None:
    assert sides_of("0011") == [1, 1, 0, 0]  # node 0 is the rightmost character
    square = Graph.model_validate({"edges": [[0, 1], [1, 2], [2, 3], [3, 0, 2]]})
    assert cut_value(square, sides_of("0101")) == 5.0
    assert cut_value(square, sides_of("0011")) == 3.0


def test_the_maximum_cut_of_a_small_graph_is_found_by_enumeration() -> None:
    from broker.algorithms.qaoa.graphs import Graph, cut_value, load_graph_file, max_cut
    from tests.conftest import EXAMPLES

    graph = Graph.model_validate(load_graph_file(EXAMPLES / "graphs" / "weighted_10.txt"))
    every = max(cut_value(graph, s) for s in itertools.product((0, 1), repeat=graph.size))
    assert max_cut(graph) == every
    assert max_cut(Graph(edges=[[0, 1], [1, 2], [0, 2]])) == 2.0
    assert max_cut(Graph(edges=[[0, 21]])) is None  # 22 nodes: beyond enumeration

"""QAOA MaxCut jobs through the embedded broker (a real scheduler and Celery worker, Aer):
the best sampled cut equals the maximum cut found by brute force here, in the test."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest

from broker import Client
from tests.conftest import EXAMPLES

pytestmark = pytest.mark.integration


def brute_force_max_cut(graph: nx.Graph) -> float:
    """The largest cut over every assignment of the nodes to two sides (node 0 fixed)."""
    nodes = sorted(graph.nodes)
    best = 0.0
    for sides in itertools.product((0, 1), repeat=len(nodes) - 1):
        one = [n for n, s in zip(nodes[1:], sides, strict=True) if s]
        best = max(best, float(nx.cut_size(graph, one, weight="weight")))
    return best


def weighted_petersen() -> nx.Graph:
    graph = nx.petersen_graph()
    rng = np.random.default_rng(4)
    for u, v in graph.edges:
        graph.edges[u, v]["weight"] = float(rng.integers(1, 6))
    return graph


def job(graph: nx.Graph, p: int) -> dict[str, Any]:
    edges = [[u, v, float(d.get("weight", 1.0))] for u, v, d in graph.edges(data=True)]
    inputs = {"graph": {"edges": edges}, "p": p}
    return {
        "proposal": "local",
        "backend": "aer",
        "seed": 5,
        "algorithm": {"name": "qaoa", "inputs": inputs},
    }


def check_cut(result: dict[str, Any], graph: nx.Graph) -> None:
    assert result["cut_value"] == brute_force_max_cut(graph)
    one = [n for n in graph.nodes if result["cut"][n] == 1]
    assert nx.cut_size(graph, one, weight="weight") == result["cut_value"]
    assert 0 < result["probability"] <= 1
    assert result["expectation"] < result["cut_value"]
    assert len(result["history"]) == result["iterations"] > 0


def test_qaoa_finds_the_max_cut_of_known_graphs_and_of_the_example(qcb_home: Path) -> None:
    client = Client()
    graphs = {
        "3-regular-12": (nx.random_regular_graph(3, 12, seed=1), 1),
        "weighted-petersen": (weighted_petersen(), 2),
    }
    jobs = {name: client.submit(job(graph, p)) for name, (graph, p) in graphs.items()}
    example_id = client.submit(EXAMPLES / "qaoa_maxcut.yaml")
    for name, job_id in jobs.items():
        status = client.wait(job_id, timeout=300)
        assert status.state == "COMPLETED", f"{name}: {status.message}"
        finished = client.result(job_id)
        assert finished.result is not None
        check_cut(finished.result, graphs[name][0])
        quantum = [t for t in finished.lineage.tasks if t.kind == "quantum"]
        assert {t.backend for t in quantum} == {"aer"}
        # the grid, one batch per iteration, and the final sampling
        assert len(quantum) == finished.result["iterations"] + 2
    status = client.wait(example_id, timeout=300)
    assert status.state == "COMPLETED", status.message
    finished = client.result(example_id)
    assert finished.result is not None
    graph = nx.read_weighted_edgelist(EXAMPLES / "graphs" / "weighted_10.txt", nodetype=int)
    check_cut(finished.result, graph)
    assert len(finished.result["top"]) == 5
    client.shutdown()

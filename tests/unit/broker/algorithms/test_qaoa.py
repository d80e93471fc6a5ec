"""QAOA for MaxCut: inputs, the cost Hamiltonian, the circuit, and the steps (quantum tasks
evaluated in this process with Qiskit's Statevector)."""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np
import pytest
from qiskit.quantum_info import Statevector
from scipy.linalg import expm

from backends.base import ItemResult, QuantumResult
from broker.algorithms import optimizers
from broker.algorithms.base import StepOutcome
from broker.algorithms.qaoa.algorithm import QAOA, QAOAInputs, grid_points
from broker.algorithms.qaoa.circuit import cost_hamiltonian, qaoa_circuit, to_circuit_order
from broker.algorithms.qaoa.graphs import Graph
from broker.config import Settings
from broker.core.models import JobSpec, TaskRequest
from broker.core.orchestrator import Broker
from broker.errors import InvalidJob
from broker.jobfile import validate_job
from broker.store import jsoncodec
from circuits.canonical import Circuit

JOB = JobSpec(proposal="local", algorithm={"name": "qaoa"})


def _graphs() -> list[nx.Graph]:
    triangle = nx.Graph()
    triangle.add_weighted_edges_from([(0, 1, 2.0), (1, 2, 0.5), (0, 2, -1.0)])
    weighted = nx.gnp_random_graph(6, 0.6, seed=2)
    for index, (u, v) in enumerate(weighted.edges):
        weighted.edges[u, v]["weight"] = 0.25 * (1 + index % 5)
    with_isolated = nx.Graph()
    with_isolated.add_nodes_from(range(5))
    with_isolated.add_weighted_edges_from([(0, 3, 1.0), (3, 4, 2.0)])
    return [triangle, weighted, with_isolated, nx.cycle_graph(5)]


def _graph(nxg: nx.Graph) -> Graph:
    edges = [[u, v, float(d.get("weight", 1.0))] for u, v, d in nxg.edges(data=True)]
    return Graph(edges=edges, num_nodes=nxg.number_of_nodes())


def _cut(nxg: nx.Graph, index: int) -> float:
    """networkx's cut of basis state ``index`` (bit i of the index is node i's side)."""
    side = [n for n in nxg.nodes if index >> n & 1]
    return float(nx.cut_size(nxg, side, weight="weight"))


@pytest.mark.parametrize("nxg", _graphs())
def test_the_cost_hamiltonian_is_minus_the_cut_value(nxg: nx.Graph) -> None:
    matrix = cost_hamiltonian(_graph(nxg)).to_matrix()
    n = nxg.number_of_nodes()
    cuts = np.array([_cut(nxg, index) for index in range(2**n)])
    assert np.allclose(matrix, np.diag(-cuts))


def test_the_circuit_applies_the_cost_and_mixer_layers() -> None:
    nxg = _graphs()[0]
    graph, n, p = _graph(nxg), 3, 2
    x = [0.3, -0.7, 0.45, 0.2]  # gamma_0, gamma_1, beta_0, beta_1
    circuit = qaoa_circuit(graph, p)
    assert set(circuit.parameters) == {"gamma_0", "gamma_1", "beta_0", "beta_1"}
    state = Statevector(circuit.bind(to_circuit_order(circuit, p, x))).data
    h = cost_hamiltonian(graph).to_matrix()
    mixer = sum(
        np.kron(np.kron(np.eye(2 ** (n - 1 - q)), [[0, 1], [1, 0]]), np.eye(2**q)) for q in range(n)
    )
    expected = np.full(2**n, 2 ** (-n / 2), dtype=complex)
    for gamma, beta in zip(x[:p], x[p:], strict=True):
        expected = expm(-1j * beta * mixer) @ expm(-1j * gamma * h) @ expected
    assert abs(np.vdot(expected, state)) == pytest.approx(1.0, abs=1e-9)  # up to a phase
    assert qaoa_circuit(graph, p, measure=True).has_measurements


# --- inputs ------------------------------------------------------------------------------


@pytest.fixture
def broker(settings: Settings) -> Broker:
    return Broker(settings)


def _submit_inputs(broker: Broker, inputs: dict[str, Any]) -> None:
    job = {"proposal": "local", "algorithm": {"name": "qaoa", "inputs": inputs}}
    broker.parse_inputs(validate_job(job))


TRIANGLE = {"edges": [[0, 1], [1, 2], [0, 2]]}


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"graph": {"edges": [[0, 1], [1]]}}, "algorithm.inputs.graph.edges[1]: an"),
        ({"graph": {"edges": [[0, 1], [1, 0]]}}, "algorithm.inputs.graph: edges[1]"),
        ({"graph": {"edges": [[0, 5]], "num_nodes": 3}}, "algorithm.inputs.graph: "),
        ({"graph": TRIANGLE, "p": 0}, "algorithm.inputs.p: should be greater"),
        (
            {"graph": TRIANGLE, "optimizer": {"name": "adam"}},
            "algorithm.inputs.optimizer.name: 'adam' is not one of 'nelder-mead', 'spsa'",
        ),
        ({"graph": TRIANGLE, "shots": 0}, "algorithm.inputs.shots: "),
        ({"graph": TRIANGLE, "colour": 1}, "algorithm.inputs.colour: unknown field"),
        ({}, "algorithm.inputs.graph: required field is missing"),
        ({"graph_file": "g.txt"}, "give the graph inline"),
        ({"graph": TRIANGLE, "p": 2, "initial_point": [0.1, 0.2, 0.3]}, "needs 4 (gamma_0"),
    ],
)
def test_bad_inputs_name_their_field(broker: Broker, inputs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidJob) as info:
        _submit_inputs(broker, inputs)
    assert message in str(info.value)


def test_good_inputs_pass(broker: Broker) -> None:
    _submit_inputs(broker, {"graph": TRIANGLE, "p": 2, "initial_point": [0.1, 0.2, 0.3, 0.4]})


# --- the steps, run here -----------------------------------------------------------------


def _points(task: TaskRequest) -> list[list[float]]:
    assert task.quantum is not None
    return task.quantum.items[0].parameter_values


def _run(task: TaskRequest) -> QuantumResult:
    """A quantum task evaluated exactly (expectation values) or sampled (counts)."""
    assert task.quantum is not None
    batch = task.quantum
    item = batch.items[0]
    circuit = Circuit(qasm=item.circuit)
    if item.observables:
        rows = []
        for values in item.parameter_values:
            state = Statevector(circuit.bind(values))
            ops = [obs.to_sparse_pauli_op() for obs in item.observables]
            rows.append([float(np.real(state.expectation_value(op))) for op in ops])
        result = ItemResult(expectation_values=rows)
    else:
        bound = circuit.bind(item.parameter_values[0])
        bound.remove_final_measurements()
        state = Statevector(bound)
        state.seed(batch.seed)
        assert batch.shots is not None
        result = ItemResult(counts=[dict(state.sample_counts(batch.shots))])
    return QuantumResult(
        items=[result],
        backend="test",
        backend_version="0",
        method="statevector",
        shots=batch.shots,
        seed=batch.seed,
        circuit_evaluations=len(item.parameter_values),
        run_seconds=0.0,
    )


def drive(inputs: QAOAInputs, *, through_json: bool) -> tuple[StepOutcome, int, list[Any]]:
    """Run QAOA to its result; (final outcome, points evaluated, progress of each step)."""
    algorithm = QAOA()
    outcome = algorithm.start(inputs, JOB, seed=11)
    evaluated, progress = 0, []
    while outcome.result is None:
        assert len(outcome.tasks) == 1
        state = outcome.state
        if through_json:  # as the store keeps it between steps
            state = jsoncodec.loads(jsoncodec.dumps(state))
        evaluated += len(_points(outcome.tasks[0]))
        outcome = algorithm.step(inputs, JOB, state, {t.key: _run(t) for t in outcome.tasks})
        progress.append(outcome.progress)
    return outcome, evaluated, progress


def _brute_force(nxg: nx.Graph) -> float:
    return max(_cut(nxg, index) for index in range(2 ** nxg.number_of_nodes()))


def test_qaoa_finds_the_max_cut_and_resumes_from_json_state() -> None:
    nxg = _graphs()[1]
    inputs = QAOAInputs(graph=_graph(nxg), p=1, shots=512)
    outcome, evaluated, progress = drive(inputs, through_json=True)
    result = outcome.result
    assert result is not None
    assert result["cut_value"] == pytest.approx(_brute_force(nxg))
    side = [n for n, s in enumerate(result["cut"]) if s]
    assert nx.cut_size(nxg, side, weight="weight") == pytest.approx(result["cut_value"])
    assert result["bitstring"][::-1] == "".join(map(str, result["cut"]))
    assert 0 < result["probability"] <= 1
    assert result["top"][0]["cut_value"] == result["cut_value"]
    assert [r["cut_value"] for r in result["top"]] == sorted(
        (r["cut_value"] for r in result["top"]), reverse=True
    )
    assert len(result["history"]) == result["iterations"]
    assert result["expectation"] == pytest.approx(max(result["history"]))
    assert result["expectation"] <= result["cut_value"] + 1e-9
    steps = [p for p in progress if "expectation" in p]
    assert steps and {"step", "maxiter", "expectation", "best"} <= set(steps[-1])
    # needs() holds at least what ran
    evaluations = QAOA().needs(inputs, JOB)[0]
    assert evaluations.unit == "evaluations" and evaluations.amount >= evaluated
    # without a trip through JSON between steps, the same run
    direct, _, _ = drive(inputs, through_json=False)
    assert direct.result == result


def test_each_initial_point_starts_where_it_says() -> None:
    graph = Graph(edges=[[0, 1], [1, 2]])
    algorithm = QAOA()
    grid = algorithm.start(QAOAInputs(graph=graph, p=2), JOB, seed=1)
    assert grid.tasks[0].key == "grid"
    assert len(_points(grid.tasks[0])) == 48
    given = QAOAInputs(graph=graph, p=2, initial_point=[0.1, 0.2, 0.3, 0.4])
    first = algorithm.start(given, JOB, seed=1)
    circuit = given.circuit
    point = dict(zip(circuit.parameters, _points(first.tasks[0])[0], strict=True))
    assert point == {"gamma_0": 0.1, "gamma_1": 0.2, "beta_0": 0.3, "beta_1": 0.4}
    for choice in ("ramp", "random"):
        out = algorithm.start(QAOAInputs(graph=graph, initial_point=choice), JOB, seed=1)
        assert out.tasks[0].key == "energy"


def test_grid_gammas_scale_with_the_edge_weights() -> None:
    light = QAOAInputs(graph=Graph(edges=[[0, 1, 1.0], [1, 2, 1.0]]))
    heavy = QAOAInputs(graph=Graph(edges=[[0, 1, 4.0], [1, 2, 4.0]]))
    for a, b in zip(grid_points(light), grid_points(heavy), strict=True):
        assert b[0] == pytest.approx(a[0] / 4) and b[1] == pytest.approx(a[1])


def test_needs_count_shots_of_the_sampling_and_of_sampled_optimization() -> None:
    graph = Graph(edges=[[0, 1], [1, 2], [2, 0]])
    exact = QAOAInputs(graph=graph, shots=100, optimizer=optimizers.NelderMeadOptions(maxiter=10))
    needs = {n.unit: n.amount for n in QAOA().needs(exact, JOB)}
    assert needs == {"evaluations": 48 + 10 * 4 + 1, "shots": 100}
    sampled = exact.model_copy(update={"optimization_shots": 50})
    shots = {n.unit: n.amount for n in QAOA().needs(sampled, JOB)}["shots"]
    assert shots == 100 + (48 + 40) * 50  # one commuting group: every term is diagonal


def test_sampled_optimization_sends_shots_with_each_energy_batch() -> None:
    graph = Graph(edges=[[0, 1], [1, 2]])
    inputs = QAOAInputs(graph=graph, optimization_shots=256, initial_point="ramp")
    out = QAOA().start(inputs, JOB, seed=1)
    assert out.tasks[0].quantum is not None and out.tasks[0].quantum.shots == 256


def test_labels_of_a_named_graph_come_back_with_the_cut() -> None:
    graph = Graph(edges=[[0, 1], [1, 2]], labels=["a", "b", "c"])
    inputs = QAOAInputs(graph=graph, shots=64, optimizer={"name": "nelder-mead", "maxiter": 5})
    result = drive(inputs, through_json=False)[0].result
    assert result is not None
    assert result["labels"] == ["a", "b", "c"]
    assert result["cut_value"] == 2.0


def test_every_sampled_bitstring_gets_its_brute_force_cut_value() -> None:
    nxg = nx.cycle_graph(5)
    inputs = QAOAInputs(graph=_graph(nxg), shots=2000, top=1000)
    result = drive(inputs, through_json=False)[0].result
    assert result is not None
    for row in result["top"]:
        assert row["cut_value"] == _cut(nxg, int(row["bitstring"], 2))
    assert sum(r["probability"] for r in result["top"]) == pytest.approx(1.0)
    assert len({r["bitstring"] for r in result["top"]}) == len(result["top"])
    assert all(len(r["bitstring"]) == 5 for r in result["top"])
    assert not any(set(r) - {"bitstring", "cut_value", "probability"} for r in result["top"])
    assert result["top"][0]["cut_value"] == 4.0 == result["cut_value"]

"""Task graphs: what is refused at submission (naming the step), how waves form, how
references resolve, and what a graph holds at admission."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sqlalchemy import func, select

from backends.base import ClassicalResult, ItemResult, QuantumResult
from broker import Client
from broker.algorithms.taskgraph.algorithm import TaskGraph, lookup, resolve
from broker.algorithms.taskgraph.model import GraphInputs
from broker.core.models import JobSpec
from broker.errors import InvalidJob
from broker.store.schema import jobs
from tests.conftest import BELL

ROTATION = """OPENQASM 3.0;
include "stdgates.inc";
input float[64] theta;
qubit[1] q;
ry(theta) q[0];
"""


def graph_job(steps: list[dict[str, Any]], **top: Any) -> dict[str, Any]:
    """A graph job under the local proposal."""
    return {
        "proposal": "local",
        "algorithm": {"name": "graph", "inputs": {"steps": steps}},
        **top,
    }


def good_steps() -> list[dict[str, Any]]:
    """prepare -> (sample, angle) -> report."""
    return [
        {"name": "prepare", "entrypoint": "json:dumps", "payload": [0.5]},
        {"name": "sample", "kind": "quantum", "circuit": BELL, "shots": 100},
        {
            "name": "angle",
            "kind": "quantum",
            "circuit": ROTATION,
            "parameter_values": [[{"ref": "prepare.0"}]],
            "observables": ["Z"],
        },
        {
            "name": "report",
            "entrypoint": "json:dumps",
            "payload": {"z": {"ref": "angle.expectation_values.0.0"}},
            "after": ["sample"],
        },
    ]


def refusal(client: Client, job: dict[str, Any]) -> str:
    """The message of submitting ``job``, which must be refused with nothing stored."""
    with pytest.raises(InvalidJob) as caught:
        client.submit(job)
    with client._broker.db.read() as conn:
        assert conn.execute(select(func.count()).select_from(jobs)).scalar_one() == 0
    return str(caught.value)


@pytest.fixture
def client(qcb_home: Any) -> Client:
    """An embedded client that never starts the runtime (submission only)."""
    return Client(autostart=False)


def test_a_cycle_is_refused_naming_its_steps(client: Client) -> None:
    steps = good_steps()
    steps[0]["after"] = ["report"]  # prepare waits for report, which waits for prepare
    message = refusal(client, graph_job(steps))
    assert "cycle" in message
    assert "'prepare'" in message and "'report'" in message and "'angle'" in message
    assert message.startswith("algorithm.inputs.steps[")


def test_a_dangling_reference_is_refused_with_the_steps_name(client: Client) -> None:
    steps = good_steps()
    steps[3]["payload"] = {"z": {"ref": "angel.expectation_values"}}
    message = refusal(client, graph_job(steps))
    assert "steps[3] (step 'report')" in message
    assert "refers to 'angel'" in message and "not a step" in message


def test_an_after_to_no_step_is_refused_with_the_steps_name(client: Client) -> None:
    steps = good_steps()
    steps[1]["after"] = ["warmup"]
    message = refusal(client, graph_job(steps))
    assert "(step 'sample')" in message and "runs after 'warmup'" in message


@pytest.mark.parametrize(
    ("index", "backend", "expected"),
    [
        (1, "aerx", "unknown backend 'aerx' (did you mean 'aer'?); registered backends: aer"),
        (0, "slurmx", "unknown backend 'slurmx'"),
        (1, "local", "'local' is a classical backend, not a quantum one"),
        (0, "aer", "'aer' is a quantum backend, not a classical one"),
    ],
)
def test_an_unknown_or_wrong_backend_is_refused_with_the_steps_name(
    client: Client, index: int, backend: str, expected: str
) -> None:
    steps = good_steps()
    steps[index]["backend"] = backend
    message = refusal(client, graph_job(steps))
    assert f"(step '{steps[index]['name']}')" in message
    assert expected in message


def test_a_driver_allowance_on_an_unknown_backend_is_refused(client: Client) -> None:
    steps = good_steps()
    steps.append(
        {
            "name": "drive",
            "kind": "driver",
            "entrypoint": "json:dumps",
            "quantum": {"aer": {"evaluations": 5}, "qpu9": {"evaluations": 5}},
        }
    )
    message = refusal(client, graph_job(steps))
    assert "(step 'drive').quantum" in message and "qpu9" in message


def test_a_malformed_circuit_names_the_step_and_the_line(client: Client) -> None:
    steps = good_steps()
    steps[1]["circuit"] = BELL.replace("cx q[0], q[1];", "cx q[0], q[7];")
    message = refusal(client, graph_job(steps))
    assert "(step 'sample').circuit" in message and "line 6" in message


def test_duplicate_names_and_missing_programs_are_refused(client: Client) -> None:
    steps = good_steps()
    steps[2]["name"] = "sample"
    assert "also used by steps[1]" in refusal(client, graph_job(steps))
    steps = good_steps()
    del steps[0]["entrypoint"]
    assert "steps[0]" in refusal(client, graph_job(steps))


def test_a_counts_step_whose_circuit_measures_nothing_is_refused(client: Client) -> None:
    steps = good_steps()
    steps[1]["circuit"] = BELL.replace("c = measure q;\n", "")
    assert "measures nothing" in refusal(client, graph_job(steps))


def _inputs(steps: list[dict[str, Any]]) -> tuple[TaskGraph, GraphInputs, JobSpec]:
    spec = JobSpec.model_validate(graph_job(steps))
    algorithm = TaskGraph()
    inputs = GraphInputs.model_validate(spec.algorithm.inputs)
    algorithm.check(inputs, spec)
    return algorithm, inputs, spec


def _quantum(values: list[list[float]] | None = None) -> QuantumResult:
    item = ItemResult(expectation_values=values, counts=None if values else [{"00": 100}])
    return QuantumResult(
        items=[item],
        backend="aer",
        backend_version="x",
        method="statevector",
        shots=None,
        seed=1,
        circuit_evaluations=1,
        run_seconds=0.0,
    )


def test_waves_follow_dependencies_and_references_resolve() -> None:
    algorithm, inputs, spec = _inputs(good_steps())
    first = algorithm.start(inputs, spec, seed=3)
    assert [t.key for t in first.tasks] == ["prepare", "sample"]
    sample = first.tasks[1]
    assert sample.quantum is not None and sample.quantum.shots == 100
    state = copy.deepcopy(first.state)  # the store keeps it as JSON
    second = algorithm.step(
        inputs,
        spec,
        state,
        {"prepare": ClassicalResult(exit_code=0, output=[0.25]), "sample": _quantum()},
    )
    assert [t.key for t in second.tasks] == ["angle"]
    angle = second.tasks[0].quantum
    assert angle is not None and angle.items[0].parameter_values == [[0.25]]
    third = algorithm.step(inputs, spec, second.state, {"angle": _quantum([[0.75]])})
    assert [t.key for t in third.tasks] == ["report"]
    report = third.tasks[0].classical
    assert report is not None and report.payload == {"z": 0.75}
    last = algorithm.step(
        inputs, spec, third.state, {"report": ClassicalResult(exit_code=0, output="done")}
    )
    assert last.result is not None
    assert last.result["waves"] == [["prepare", "sample"], ["angle"], ["report"]]
    assert last.result["outputs"]["report"] == "done"
    assert last.result["outputs"]["sample"]["counts"] == [{"00": 100}]


def test_a_reference_that_finds_nothing_names_both_steps() -> None:
    outputs = {"prepare": {"theta": [0.1, 0.2]}}
    assert lookup("prepare.theta.1", outputs, "angle") == 0.2
    assert resolve({"a": [{"ref": "prepare.theta"}]}, outputs, "x") == {"a": [[0.1, 0.2]]}
    with pytest.raises(InvalidJob, match=r"step 'angle': reference 'prepare.thetas'.*theta"):
        lookup("prepare.thetas", outputs, "angle")
    with pytest.raises(InvalidJob, match=r"list of 2"):
        lookup("prepare.theta.5", outputs, "angle")


def test_a_graph_holds_each_steps_most_and_each_drivers_allowance() -> None:
    steps = good_steps()
    steps.append(
        {
            "name": "drive",
            "kind": "driver",
            "entrypoint": "json:dumps",
            "time_limit_s": 1800,
            "quantum": {"aer": {"evaluations": 40, "shots": 4000}, "cirq": {"evaluations": 7}},
        }
    )
    algorithm, inputs, spec = _inputs(steps)
    needs = {(n.backend, n.unit): n.amount for n in algorithm.needs(inputs, spec)}
    # sample (1 evaluation, 100 shots) + angle (1) + driver (40, 4000 shots)
    assert needs[("aer", "evaluations")] == 42
    assert needs[("aer", "shots")] == 4100
    assert needs[("cirq", "evaluations")] == 7
    # prepare, report (600 s each) and the driver (1800 s) on one core each
    assert needs[("local", "core_hours")] == pytest.approx((600 + 600 + 1800) / 3600)
    assert algorithm.backend_widths(inputs, spec) == {"aer": 2}


def test_a_driver_step_is_marked_and_its_program_path_comes_first() -> None:
    steps = [
        {
            "name": "drive",
            "kind": "driver",
            "entrypoint": "prog:main",
            "python_path": ["/opt/prog"],
            "env": {"PYTHONPATH": "/opt/lib"},
            "quantum": {"aer": {"evaluations": 3}},
        }
    ]
    algorithm, inputs, spec = _inputs(steps)
    task = algorithm.start(inputs, spec, seed=0).tasks[0]
    assert task.classical is not None
    assert task.classical.env["QCB_DRIVER"] == "1"
    assert task.classical.env["PYTHONPATH"] == "/opt/prog:/opt/lib"

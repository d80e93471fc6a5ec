"""The limits every input meets (broker.limits): job files, job data, a driver's tasks."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from backends.base import QuantumBatch, QuantumItem
from broker.config import Settings
from broker.core.orchestrator import Broker
from broker.errors import InvalidJob
from broker.jobfile import parse_job, validate_job
from broker.limits import Limits, batch_problems, document_problems
from circuits.observables import PauliSum
from tests.conftest import EXAMPLES

GOOD = """\
proposal: local
backend: aer
algorithm:
  name: vqe
  inputs: {hamiltonian: "1.0 * ZZ"}
"""


def _sweep(points: int, observables: int) -> dict[str, Any]:
    job: dict[str, Any] = yaml.safe_load((EXAMPLES / "sweep_rabi.yaml").read_text())
    inputs = job["algorithm"]["inputs"]
    inputs["parameters"]["theta"]["num"] = points
    inputs["observables"] = ["Z"] * observables
    inputs["batch_size"] = 1000
    return job


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"a": [1.0, float("inf")]}, "a[1]: inf is not a number"),
        ({"a": {"b": float("nan")}}, "a.b: nan is not a number"),
        ({"name": "x\x00y"}, "name: contains the control character NUL"),
        ({"name": "x\x1by"}, "name: contains the control character U+001B"),
        ({"k\x00": 1}, "(the document): a key contains the control character NUL"),
        ({"seed": 2**64}, "seed: the integer is out of range"),
    ],
)
def test_each_problem_names_its_field(value: Any, problem: str) -> None:
    (found,) = document_problems(value)
    assert str(found).startswith(problem)


def test_text_with_tabs_and_newlines_and_any_script_is_fine() -> None:
    assert document_problems({"text": "a\tb\r\nc — ψ 量子", "n": -(2**63), "x": 1e308}) == []


def test_nesting_and_size_are_bounded() -> None:
    deep: list[Any] = []
    node = deep
    for _ in range(100):
        node.append([])
        node = node[0]
    (problem,) = document_problems({"deep": deep}, Limits(depth=10))
    assert "nested deeper than 10 levels" in str(problem)
    (problem,) = document_problems(list(range(1000)), Limits(values=100))
    assert "more than 100 values" in str(problem)


def test_problems_are_capped() -> None:
    assert len(document_problems([float("nan")] * 100)) == 20


def test_a_job_file_with_inf_or_nul_names_the_line() -> None:
    text = GOOD.replace("proposal: local", 'proposal: local\nname: "a\\0b"\nseed: .inf')
    with pytest.raises(InvalidJob) as info:
        parse_job(text, "job.yaml")
    message = str(info.value)
    assert message.startswith("job.yaml is not a valid job (2 problems)")
    assert "line 2, name: contains the control character NUL" in message
    assert "line 3, seed: inf is not a number" in message


def test_job_data_with_nan_is_refused() -> None:
    job = yaml.safe_load(GOOD)
    job["algorithm"]["inputs"]["energy_offset"] = float("nan")
    with pytest.raises(InvalidJob, match=r"algorithm.inputs.energy_offset: nan is not a number"):
        validate_job(job)


@pytest.mark.parametrize("seed", [2**31, 2**40])
def test_a_seed_must_fit_32_bits(seed: int) -> None:
    job = yaml.safe_load(GOOD)
    job["seed"] = seed
    with pytest.raises(InvalidJob, match="seed: should be less than or equal to 2147483647"):
        validate_job(job)


def test_a_batch_beyond_the_limits_names_both() -> None:
    item = QuantumItem(
        circuit="OPENQASM 3.0;\nqubit[1] q;\n",
        parameter_values=[[]] * 30,
        observables=[PauliSum.from_text("1.0 * Z")] * 20,
    )
    found = batch_problems(QuantumBatch(items=[item]), Limits(observables=10, evaluations=500))
    assert found[0].startswith("20 observables in one task; at most 10 (QCB_MAX_OBSERVABLES)")
    assert found[1].startswith("600 results (parameter sets x observables) in one task")


def test_parameter_values_must_be_finite() -> None:
    with pytest.raises(ValueError, match="finite"):
        QuantumItem(circuit="OPENQASM 3.0;", parameter_values=[[float("inf")]])


def test_a_job_asking_too_many_results_is_refused_at_admission(settings: Settings) -> None:
    broker = Broker(settings.model_copy(update={"max_evaluations": 1000}))
    spec = validate_job(_sweep(points=100, observables=20))  # 2,000 results
    with pytest.raises(InvalidJob, match=r"2000 results .* at most 1000 \(QCB_MAX_EVALUATIONS\)"):
        broker.submit(spec, "alice")
    assert broker.submit(validate_job(_sweep(points=50, observables=20)), "alice")


def test_a_task_with_too_many_observables_is_refused(settings: Settings) -> None:
    broker = Broker(settings.model_copy(update={"max_observables": 5}))
    spec = validate_job(_sweep(points=2, observables=6))
    with pytest.raises(InvalidJob, match="6 observables in one task; at most 5"):
        broker.submit(spec, "alice")

"""The SQD algorithm: its inputs (errors naming the field), its needs, and its steps run in
this process (classical entry points called directly, the circuit sampled by Aer), with the
state passed through JSON between steps as the store keeps it."""

from __future__ import annotations

from typing import Any

import pytest
from pyscf import gto, mcscf, scf

from backends.aer import AerBackend
from backends.base import ClassicalResult, QuantumResult
from broker.algorithms.base import StepOutcome, TaskResult
from broker.algorithms.sqd import algorithm as sqd
from broker.algorithms.sqd import tasks as sqd_tasks
from broker.algorithms.sqd.algorithm import SQD
from broker.algorithms.sqd.inputs import SQDInputs
from broker.config import Settings
from broker.core.models import JobSpec, TaskRequest
from broker.core.orchestrator import Broker
from broker.errors import InvalidJob
from broker.jobfile import load_job, validate_job
from broker.store import jsoncodec
from tests.conftest import EXAMPLES

WATER = {"atom": "O 0 0 0; H 0 0.757 0.587; H 0 -0.757 0.587", "frozen_core": 1}
H2 = {"atom": [["H", 0, 0, 0], ["H", 0, 0, 0.735]]}
H2_INTEGRALS = {
    "norb": 2,
    "nelec": [1, 1],
    "one_body": [[-1.25, 0.0], [0.0, -0.47]],
    "two_body": [0.67, 0.0, 0.18, 0.66, 0.0, 0.70],
    "constant": 0.72,
}
QASM_4 = """OPENQASM 3.0;
include "stdgates.inc";
qubit[4] q;
bit[4] c;
x q[0];
x q[2];
c = measure q;
"""
JOB = JobSpec(
    proposal="local",
    algorithm={"name": "sqd"},
    classical_resources={"nodes": 1, "cpus_per_task": 2, "time_limit_s": 600},
)


@pytest.fixture
def broker(settings: Settings) -> Broker:
    return Broker(settings)


def _check(broker: Broker, inputs: dict[str, Any]) -> None:
    job = {"proposal": "local", "algorithm": {"name": "sqd", "inputs": inputs}}
    broker.parse_inputs(validate_job(job))


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"molecule": H2, "integrals": H2_INTEGRALS}, "inputs.molecule: give either"),
        ({}, "inputs.molecule: give the molecule"),
        ({"molecule": H2, "shot": 10}, "inputs.shot: unknown field"),
        ({"molecule": {**H2, "basis": "nonsense"}}, "inputs.molecule: Unknown basis"),
        ({"molecule": {**H2, "spin": 1}}, "inputs.molecule: Electron number 2 and spin 1"),
        ({"molecule": {**H2, "active_orbitals": 3}}, "inputs.molecule: 0 frozen and 3 active"),
        ({"molecule": {**H2, "frozen_core": 2}}, "inputs.molecule: 2 frozen orbitals leave none"),
        ({"molecule": {"atom": "Li 0 0 0; H 0 0 1.6", "frozen_core": 3}}, "hold more than the 4"),
        ({"molecule": {**H2, "frozen_core": -1}}, "inputs.molecule.frozen_core: must be true"),
        ({"molecule": {**H2, "charge": -4}}, "3+3 electrons do not fit 2 active orbitals"),
        ({"molecule": H2, "num_batches": 0}, "inputs.num_batches: should be greater"),
        ({"molecule": H2, "ansatz": {"kind": "uccsd"}}, "inputs.ansatz.kind: 'uccsd' is not"),
        ({"molecule": H2, "ansatz": {"kind": "lucj", "n_reps": 0}}, "ansatz.n_reps: should be"),
        (
            {"integrals": {**H2_INTEGRALS, "one_body": [[1.0]]}},
            "inputs.integrals: one_body: must be 2 x 2",
        ),
        ({"integrals": {**H2_INTEGRALS, "two_body": [1.0]}}, "two_body: must be 2x2x2x2"),
        ({"integrals": {**H2_INTEGRALS, "nelec": [3, 1]}}, "nelec: each count must be between"),
        (
            {"molecule": {**H2, "charge": 1, "spin": 1}},
            "inputs.solver.symmetrize_spin: needs as many alpha as beta",
        ),
        (
            {"molecule": {**H2, "charge": 1, "spin": 1}, "solver": {"symmetrize_spin": False}},
            "inputs.ansatz: the LUCJ ansatz needs a closed-shell system",
        ),
        ({"molecule": H2, "ansatz": {"kind": "qasm", "qasm": "qubit q; frob q;"}}, "ansatz.qasm"),
        (
            {"molecule": WATER, "ansatz": {"kind": "qasm", "qasm": QASM_4}},
            "inputs.ansatz.qasm: the problem has 6 spatial orbitals, so the circuit must "
            "measure 12 qubits",
        ),
        (
            {
                "molecule": H2,
                "ansatz": {
                    "kind": "qasm",
                    "qasm": QASM_4.replace("x q[0]", "input float[64] t;\nrx(t) q[0]"),
                },
            },
            "inputs.ansatz.qasm: SQD samples one fixed circuit",
        ),
    ],
)
def test_bad_inputs_are_refused_naming_the_field(
    broker: Broker, inputs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidJob) as info:
        _check(broker, inputs)
    assert message in str(info.value)


def test_good_inputs_pass(broker: Broker) -> None:
    _check(broker, {"molecule": H2})
    _check(broker, {"integrals": H2_INTEGRALS, "ansatz": {"kind": "qasm", "qasm": QASM_4}})
    open_shell = {**H2, "charge": 1, "spin": 1}
    qasm = {"kind": "qasm", "qasm": QASM_4}
    _check(broker, {"molecule": open_shell, "solver": {"symmetrize_spin": False}, "ansatz": qasm})


def test_the_lucj_ansatz_without_ffsim_says_what_to_install(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqd, "_ffsim_missing", lambda: True)
    with pytest.raises(InvalidJob, match=r"inputs.ansatz: .*pip install ffsim"):
        _check(broker, {"molecule": H2})


def test_the_example_is_valid_and_sixteen_qubits_wide(broker: Broker) -> None:
    spec = load_job(EXAMPLES / "sqd_h2o_slurm.yaml")
    algorithm, inputs = broker.parse_inputs(spec)
    assert isinstance(inputs, SQDInputs)
    assert algorithm.backend_widths(inputs, spec) == {"aer": 16}
    assert inputs.num_batches >= 2 and spec.classical_resources.nodes == 1


def test_needs_cover_the_shots_and_every_classical_task() -> None:
    inputs = SQDInputs(molecule=H2, shots=5000, iterations=4, num_batches=3)
    needs = {(n.backend, n.unit): n.amount for n in SQD().needs(inputs, JOB)}
    # 1 problem + 4 rounds x 3 batches, each 2 CPUs for at most 600 s, on "local"
    assert needs == {
        ("aer", "evaluations"): 1.0,
        ("aer", "shots"): 5000.0,
        ("local", "core_hours"): pytest.approx(13 * 2 * 600 / 3600),
    }


# --- the steps, run here -----------------------------------------------------------------


def _run(task: TaskRequest) -> TaskResult:
    """A task run in this process: entry points called directly, circuits sampled by Aer."""
    if task.quantum is not None:
        backend = AerBackend()
        return backend.result(backend.submit(task.quantum, task_id=task.key))
    assert task.classical is not None and task.classical.entrypoint is not None
    function = getattr(sqd_tasks, task.classical.entrypoint.split(":")[1])
    output = function(jsoncodec.loads(jsoncodec.dumps(task.classical.payload)))
    return ClassicalResult(exit_code=0, output=output, nodes=[f"n{task.key[-1]}"])


def drive(inputs: SQDInputs, *, through_json: bool) -> tuple[StepOutcome, list[StepOutcome]]:
    """Run SQD to its result; (final outcome, every outcome before it)."""
    algorithm = SQD()
    outcome = algorithm.start(inputs, JOB, seed=3)
    steps = []
    while outcome.result is None:
        steps.append(outcome)
        state = outcome.state
        if through_json:  # as the store keeps it between steps
            state = jsoncodec.loads(jsoncodec.dumps(state))
        outcome = algorithm.step(inputs, JOB, state, {t.key: _run(t) for t in outcome.tasks})
    return outcome, steps


@pytest.fixture(scope="module")
def water_fci() -> float:
    mol = gto.M(atom=WATER["atom"], basis="sto-3g", verbose=0)
    return float(mcscf.CASCI(scf.RHF(mol).run(), 6, (4, 4)).run().e_tot)


WATER_INPUTS = {
    "molecule": WATER,
    "ansatz": {"kind": "lucj", "n_reps": 2},
    "shots": 20000,
    "iterations": 4,
    "num_batches": 2,
    "samples_per_batch": 3,
}


def test_sqd_runs_its_rounds_and_resumes_from_json_state(water_fci: float) -> None:
    inputs = SQDInputs.model_validate(WATER_INPUTS)
    final, steps = drive(inputs, through_json=True)
    kinds = [[(t.key, t.kind) for t in s.tasks] for s in steps]
    assert kinds[0] == [("problem", "classical")] and kinds[1] == [("sample", "quantum")]
    for i, round_tasks in enumerate(kinds[2:]):  # each round's batches in ONE step
        assert round_tasks == [(f"iter{i}-batch0", "classical"), (f"iter{i}-batch1", "classical")]
    seeds = {t.classical.payload["seed"] for s in steps[2:] for t in s.tasks if t.classical}
    assert len(seeds) == 2 * len(steps[2:])  # every batch its own subsample
    result = final.result
    assert result is not None
    assert result["reference_energy"] == pytest.approx(water_fci, abs=1e-8)
    assert result["error"] == pytest.approx(result["energy"] - water_fci)
    assert result["error"] >= -1e-10  # variational
    rows = result["iterations"]
    assert [r["iteration"] for r in rows] == list(range(1, len(rows) + 1))
    for row in rows:
        assert row["energy"] == min(row["batch_energies"]) and len(row["batch_energies"]) == 2
        assert row["batch_nodes"] == [["n0"], ["n1"]]
    assert result["energy"] == min(r["energy"] for r in rows)
    assert result["energy"] < rows[0]["energy"] - 1e-3  # later rounds gain carried strings
    assert rows[-1]["batch_dimensions"][0] > rows[0]["batch_dimensions"][0]
    assert result["fci_dimension"] == 225 and result["num_qubits"] == 12
    assert final.progress["best_energy"] == result["energy"]
    assert final.progress["subspace_dimension"] == result["subspace_dimension"]
    again, _ = drive(inputs, through_json=False)  # JSON between steps changes nothing
    assert again.result is not None
    assert again.result["energy"] == pytest.approx(result["energy"], abs=1e-9)
    assert [r["subspace_dimension"] for r in again.result["iterations"]] == [
        r["subspace_dimension"] for r in rows
    ]


def test_rounds_stop_once_energy_and_occupancies_settle(water_fci: float) -> None:
    # Subsamples larger than what was measured: every round sees the same subspace.
    inputs = SQDInputs.model_validate({**WATER_INPUTS, "samples_per_batch": 10**6})
    final, _ = drive(inputs, through_json=True)
    assert final.result is not None
    rows = final.result["iterations"]
    assert len(rows) == 2 < inputs.iterations and final.result["converged"] is True
    assert rows[0]["energy"] == pytest.approx(rows[1]["energy"], abs=1e-8)


def test_a_batch_without_an_energy_fails_the_step() -> None:
    inputs = SQDInputs.model_validate({**WATER_INPUTS, "num_batches": 1})
    algorithm = SQD()
    outcome = algorithm.start(inputs, JOB, seed=3)
    for _ in range(2):  # problem, then sampling
        outcome = algorithm.step(
            inputs, JOB, outcome.state, {t.key: _run(t) for t in outcome.tasks}
        )
    broken: dict[str, TaskResult] = {"iter0-batch0": ClassicalResult(exit_code=0, output={})}
    with pytest.raises(InvalidJob, match="batch 0 of round 1 returned no energy"):
        algorithm.step(inputs, JOB, outcome.state, broken)


def test_counts_are_taken_from_the_sampling_task() -> None:
    inputs = SQDInputs.model_validate({**WATER_INPUTS, "num_batches": 1})
    algorithm = SQD()
    outcome = algorithm.start(inputs, JOB, seed=3)
    outcome = algorithm.step(inputs, JOB, outcome.state, {"problem": _run(outcome.tasks[0])})
    sample = _run(outcome.tasks[0])
    assert isinstance(sample, QuantumResult) and sample.items[0].counts
    outcome = algorithm.step(inputs, JOB, outcome.state, {"sample": sample})
    payload = outcome.tasks[0].classical.payload if outcome.tasks[0].classical else {}
    assert payload["counts"] == sample.items[0].counts[0]
    assert outcome.state["sampling"]["shots"] == 20000
    empty = sample.model_copy(update={"items": []})
    outcome = algorithm.start(inputs, JOB, seed=3)
    outcome = algorithm.step(inputs, JOB, outcome.state, {"problem": _run(outcome.tasks[0])})
    with pytest.raises(InvalidJob, match="gave no counts"):
        algorithm.step(inputs, JOB, outcome.state, {"sample": empty})


def test_merge_strings_keeps_first_seen_order_and_limit() -> None:
    assert sqd.merge_strings([[5, 3], [3, 9, 5], [1]], None) == [5, 3, 9, 1]
    assert sqd.merge_strings([[5, 3], [3, 9, 5], [1]], 2) == [5, 3]


def test_without_the_hybrid_extra_sqd_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util
    import sys

    from broker import algorithms

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyscf" else real(name, *a)
    )
    monkeypatch.delitem(sys.modules, "broker.algorithms.sqd.algorithm")
    with pytest.raises(InvalidJob, match=r"missing \(pyscf\).*qcbroker\[hybrid\]"):
        algorithms.get("sqd")

"""Thirty-odd mistakes in real job files (the examples), at every depth: each is reported
with the file, the line and the field path as the file writes it, in words (no class names,
no union tags, no pydantic phrasing), with a did-you-mean where a valid name is close."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.errors import InvalidJob
from broker.jobfile import load_job
from tests.conftest import EXAMPLES

VQE = (EXAMPLES / "vqe_h2.yaml").read_text()
QAOA = (EXAMPLES / "qaoa_maxcut.yaml").read_text()
SWEEP = (EXAMPLES / "sweep_rabi.yaml").read_text()

INTERNAL_WORDS = (
    "LibraryAnsatz", "QasmAnsatz", "LUCJAnsatz", "Linspace", "list[", "literal[",
    "function-", "Input should be", "Extra inputs", "Field required", "Value error",
    "model_type", ".adam.", ".range.",
)  # fmt: skip

# (name, source, old, new, line, path, words in the message, did-you-mean)
MISTAKES = [
    ("top typo", VQE, "backend: aer", "bakend: aer", 11, "bakend", "unknown field", "backend"),
    ("proposal twice", VQE, "proposal: local", "proposal: local\nproposal: other", 11,
     "proposal", "written twice (lines 10 and 11)", None),
    ("nested twice", VQE, "    reference: true", "    reference: true\n    reference: false", 26,
     "algorithm.inputs.reference", "written twice", None),
    ("seed negative", VQE, "seed: 42", "seed: -1", 12, "seed", "greater than or equal to 0",
     None),
    ("seed text", VQE, "seed: 42", "seed: many", 12, "seed", "valid integer", None),
    ("seed too large", VQE, "seed: 42", "seed: 4294967296", 12, "seed", "less than or equal",
     None),
    ("kind", VQE, "kind: Job", "kind: Jobb", 8, "kind", "'Job'", "Job"),
    ("api version", VQE, "apiVersion: qcbroker/v1", "apiVersion: qcbroker/v2", 7, "apiVersion",
     "qcbroker/v1", "qcbroker/v1"),
    ("algorithm typo", VQE, "  name: vqe", "  nmae: vqe", 14, "algorithm.nmae", "unknown field",
     "name"),
    ("algorithm unknown", VQE, "  name: vqe", "  name: vqee", 14, "algorithm.name",
     "unknown algorithm 'vqee'", "vqe"),
    ("inputs typo", VQE, "    reference: true", "    refrence: true", 25,
     "algorithm.inputs.refrence", "valid fields:", "reference"),
    ("inputs bool", VQE, "    reference: true", "    reference: maybe", 25,
     "algorithm.inputs.reference", "boolean", None),
    ("offset text", VQE, "energy_offset: 0.7199689944489797", "energy_offset: lots", 22,
     "algorithm.inputs.energy_offset", "number", None),
    ("ansatz typo", VQE, "{library: real_amplitudes", "{librry: real_amplitudes", 23,
     "algorithm.inputs.ansatz.librry", "unknown field", "library"),
    ("ansatz reps", VQE, "reps: 1}", "reps: x}", 23, "algorithm.inputs.ansatz.reps",
     "valid integer", None),
    ("ansatz scalar", VQE, "ansatz: {library: real_amplitudes, reps: 1}",
     "ansatz: real_amplitudes", 23, "algorithm.inputs.ansatz", "should be a mapping", None),
    ("qasm number", VQE, "ansatz: {library: real_amplitudes, reps: 1}", "ansatz: {qasm: 5}", 23,
     "algorithm.inputs.ansatz.qasm", "should be text", None),
    ("optimizer name", VQE, "name: adam", "name: adma", 24, "algorithm.inputs.optimizer.name",
     "is not one of 'adam', 'spsa'", "adam"),
    ("optimizer scipy", VQE, "name: adam", "name: cobyla", 24,
     "algorithm.inputs.optimizer.name", "'cobyla' is not one of", None),
    ("optimizer field", VQE, "maxiter: 300", "maxitr: 300", 24,
     "algorithm.inputs.optimizer.maxitr", "unknown field", "maxiter"),
    ("optimizer value", VQE, "maxiter: 300", "maxiter: -3", 24,
     "algorithm.inputs.optimizer.maxiter", "greater than", None),
    ("optimizer scalar", VQE, "optimizer: {name: adam, learning_rate: 0.1, maxiter: 300, "
     "gtol: 1.0e-3}", "optimizer: adam", 24, "algorithm.inputs.optimizer",
     "such as {name: adam}", None),
    ("optimizer no name", VQE, "{name: adam, learning_rate", "{learning_rate", 24,
     "algorithm.inputs.optimizer.name", "one of 'adam', 'spsa'", None),
    ("initial point", VQE, "    reference: true", "    reference: true\n    initial_point: rand",
     26, "algorithm.inputs.initial_point", "'random', 'zeros'", "random"),
    ("initial point item", VQE, "    reference: true",
     "    reference: true\n    initial_point: [0.1, x, 0.3, 0.4]", 26,
     "algorithm.inputs.initial_point[1]", "number", None),
    ("shots zero", VQE, "    reference: true", "    reference: true\n    shots: 0", 26,
     "algorithm.inputs.shots", "greater than or equal to 1", None),
    ("no hamiltonian", VQE, "    hamiltonian: >-", "    hamiltonain: >-", 16,
     "algorithm.inputs.hamiltonain", "unknown field", "hamiltonian"),
    ("qaoa p", QAOA, "    p: 2", "    p: 0", 23, "algorithm.inputs.p", "greater than", None),
    ("qaoa optimizer", QAOA, "name: nelder-mead", "name: nelder_mead", 24,
     "algorithm.inputs.optimizer.name", "'nelder-mead', 'spsa'", "nelder-mead"),
    ("qaoa top", QAOA, "    top: 5", "    tpo: 5", 26, "algorithm.inputs.tpo", "unknown field",
     "top"),
    ("sweep axis", SWEEP, "num: 49}", "nun: 49}", 25, "algorithm.inputs.parameters.theta.nun",
     "unknown field", "num"),
    ("sweep batch", SWEEP, "batch_size: 16", "batch_size: 0", 27, "algorithm.inputs.batch_size",
     "greater than or equal to 1", None),
    ("sweep observables", SWEEP, 'observables: ["Z", "X"]', 'observables: ["Z", "QQ"]',
     26, "algorithm.inputs.observables", "not a Pauli string", None),
    ("resources", VQE, "seed: 42", "seed: 42\nclassical_resources: {nodes: 0}", 13,
     "classical_resources.nodes", "greater than or equal to 1", None),
    ("resources typo", VQE, "seed: 42", "seed: 42\nclassical_resources: {node: 2}", 13,
     "classical_resources.node", "unknown field", "nodes"),
]  # fmt: skip


def test_there_are_at_least_thirty_mistakes() -> None:
    assert len(MISTAKES) >= 30
    assert len({m[0] for m in MISTAKES}) == len(MISTAKES)


@pytest.mark.parametrize(
    ("source", "old", "new", "line", "path", "words", "suggestion"),
    [pytest.param(*m[1:], id=m[0]) for m in MISTAKES],
)
def test_a_mistake_names_file_line_and_path(
    tmp_path: Path,
    source: str,
    old: str,
    new: str,
    line: int,
    path: str,
    words: str,
    suggestion: str | None,
) -> None:
    assert old in source
    job = tmp_path / "job.yaml"
    job.write_text(source.replace(old, new, 1))
    (tmp_path / "graphs").symlink_to(EXAMPLES / "graphs")
    with pytest.raises(InvalidJob) as info:
        load_job(job)
    error = info.value
    message = str(error)
    assert message.startswith(f"{job} ") or message.startswith(f"{job}:"), message
    for word in INTERNAL_WORDS:
        assert word not in message, message
    found = [p for p in error.problems if p.path == path]
    assert found, message
    assert found[0].line == line, message
    assert words in found[0].message, message
    assert f"line {line}, {path}: " in message
    assert found[0].suggestion == suggestion, message
    assert error.source == str(job)

from __future__ import annotations

from pathlib import Path

import pytest

from broker.errors import InvalidJob
from broker.jobfile import load_job, parse_job

GOOD = """\
proposal: local
backend: aer
algorithm:
  name: vqe
  inputs: {hamiltonian: "1.0 * ZZ"}
"""


def test_a_minimal_job_parses_with_defaults() -> None:
    spec = parse_job(GOOD)
    assert spec.proposal == "local"
    assert spec.classical_backend == "local"
    assert spec.api_version == "qcbroker/v1"


def test_yaml_error_names_line_and_column() -> None:
    with pytest.raises(InvalidJob, match=r"job.yaml is not valid YAML at line 2, column \d+"):
        parse_job("proposal: local\nbackend: aer: x\n", "job.yaml")


def test_unknown_and_missing_fields_name_their_line_and_path() -> None:
    text = "proposal: local\nbackend: aer\nbackedn: aer\nalgorithm:\n  nmae: vqe\n"
    with pytest.raises(InvalidJob) as info:
        parse_job(text, "job.yaml")
    message = str(info.value)
    assert "line 3, backedn: unknown field (did you mean backend?)" in message
    assert "line 5, algorithm.nmae: unknown field (did you mean name?)" in message
    assert "algorithm.name: required field is missing" in message
    assert message.startswith("job.yaml is not a valid job (3 problems)")


def test_a_job_must_be_a_mapping() -> None:
    with pytest.raises(InvalidJob, match="mapping"):
        parse_job("- just\n- a list\n")


def test_overrides_replace_top_level_fields() -> None:
    assert parse_job(GOOD, overrides={"backend": "other", "seed": None}).backend == "other"


# --- files a job names -------------------------------------------------------------------

QAOA_JOB = """\
proposal: local
algorithm:
  name: qaoa
  inputs:
    p: 1
    graph_file: {path}
"""


def _job_dir(tmp_path: Path, graph: str, name: str = "g.txt") -> Path:
    folder = tmp_path / "jobs"
    (folder / "graphs").mkdir(parents=True)
    (folder / "graphs" / name).write_text(graph)
    (folder / "job.yaml").write_text(QAOA_JOB.format(path=f"graphs/{name}"))
    return folder


def test_a_graph_file_is_read_relative_to_the_job_file_and_inlined(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _job_dir(tmp_path, "# square\n0 1\n1 2 2.5\n2 3\n3 0\n")
    monkeypatch.chdir(tmp_path)  # not the job's folder
    spec = load_job(folder / "job.yaml")
    assert "graph_file" not in spec.algorithm.inputs
    assert spec.algorithm.inputs["graph"] == {"edges": [[0, 1], [1, 2, 2.5], [2, 3], [3, 0]]}
    assert spec.algorithm.inputs["p"] == 1


def test_a_graph_file_in_job_text_is_read_relative_to_base_dir(tmp_path: Path) -> None:
    folder = _job_dir(tmp_path, "a b\nb c\n")
    spec = parse_job(QAOA_JOB.format(path="graphs/g.txt"), base_dir=folder)
    assert spec.algorithm.inputs["graph"]["labels"] == ["a", "b", "c"]


def test_a_bad_graph_file_names_the_job_line_and_the_file_line(tmp_path: Path) -> None:
    folder = _job_dir(tmp_path, "0 1\n# two\n1 x 2 3\n")
    with pytest.raises(InvalidJob) as info:
        load_job(folder / "job.yaml")
    assert str(info.value) == (
        f"{folder / 'job.yaml'}: line 6, algorithm.inputs.graph_file: graphs/g.txt line 3: "
        "expected 'u v' or 'u v weight', got '1 x 2 3'"
    )


def test_a_missing_graph_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "job.yaml").write_text(QAOA_JOB.format(path="nowhere.txt"))
    with pytest.raises(InvalidJob, match=r"graph_file: cannot read nowhere\.txt"):
        load_job(tmp_path / "job.yaml")


def test_graph_and_graph_file_together_are_refused(tmp_path: Path) -> None:
    text = QAOA_JOB.format(path="g.txt") + "    graph: {edges: [[0, 1]]}\n"
    with pytest.raises(InvalidJob, match=r"give either graph \(inline\) or graph_file, not both"):
        parse_job(text, "job.yaml", base_dir=tmp_path)


def test_a_graphs_program_folders_become_absolute_relative_to_the_job_file(
    tmp_path: Path,
) -> None:
    job = tmp_path / "jobs" / "graph.yaml"
    job.parent.mkdir()
    job.write_text(
        "proposal: local\n"
        "algorithm:\n"
        "  name: graph\n"
        "  inputs:\n"
        "    steps:\n"
        "      - {name: a, entrypoint: 'prog:main', python_path: [programs, /opt/lib]}\n"
    )
    spec = load_job(job)
    assert spec.algorithm.inputs["steps"][0]["python_path"] == [
        str((tmp_path / "jobs" / "programs").resolve()),
        "/opt/lib",
    ]

from __future__ import annotations

import pytest

from broker.errors import InvalidJob
from broker.jobfile import parse_job

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
    assert "line 3, backedn: Extra inputs are not permitted" in message
    assert "line 5, algorithm.nmae" in message
    assert "algorithm.name: Field required" in message
    assert message.startswith("job.yaml is not a valid job (3 problem(s))")


def test_a_job_must_be_a_mapping() -> None:
    with pytest.raises(InvalidJob, match="mapping"):
        parse_job("- just\n- a list\n")


def test_overrides_replace_top_level_fields() -> None:
    assert parse_job(GOOD, overrides={"backend": "other", "seed": None}).backend == "other"

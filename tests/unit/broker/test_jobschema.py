"""``docs/jobs.md`` and ``docs/job.schema.json``: generated from the job models and up to
date; the schema takes every example job file and refuses a mistyped one; every example in
the reference is run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema_rs
import numpy as np
import pytest
import yaml

from broker import jobschema
from broker.config import Settings
from broker.core.orchestrator import Broker
from broker.core.queries import job_result
from broker.errors import InvalidJob
from broker.jobfile import load_job, parse_job
from circuits import PauliSum
from tests.conftest import EXAMPLES, ROOT
from tests.unit.broker.core.test_orchestrator import drive

REFERENCE = (ROOT / "docs" / "jobs.md").read_text()
SCHEMA = json.loads((ROOT / "docs" / "job.schema.json").read_text())
JOBS = sorted(p for p in EXAMPLES.glob("*.yaml") if "kind: Job" in p.read_text())


def test_the_reference_and_the_schema_are_up_to_date() -> None:
    schema, text = jobschema._render()
    assert json.loads(schema) == SCHEMA, "run python -m broker.jobschema"
    assert text == REFERENCE, "run python -m broker.jobschema"


def test_every_field_of_every_algorithm_has_a_row_and_words() -> None:
    titles = jobschema._titles()
    for model, title in titles.items():
        assert f"### {title}\n" in REFERENCE
        for name, info in model.model_fields.items():
            assert f"| `{info.alias or name}` |" in REFERENCE, f"{title}.{name}"
            assert info.description, f"{title}.{name} has no description"


@pytest.mark.parametrize("path", JOBS, ids=[p.name for p in JOBS])
def test_the_schema_takes_every_example_job(path: Path) -> None:
    assert len(JOBS) >= 7
    validator = jsonschema_rs.validator_for(SCHEMA)
    data = yaml.safe_load(path.read_text())
    assert validator.is_valid(data), list(validator.iter_errors(data))[:3]
    data["algorithm"]["inputs"]["optimiser"] = {}
    assert not validator.is_valid(data)


def test_the_yaml_examples_of_the_reference_are_valid_jobs() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", REFERENCE, re.S)
    assert blocks
    for block in blocks:
        assert parse_job(block, "docs/jobs.md").algorithm.name


def test_the_error_shown_in_the_reference_is_what_the_broker_says(tmp_path: Path) -> None:
    shown = re.search(r"```text\n(job\.yaml is not a valid job.*?)```", REFERENCE, re.S)
    assert shown is not None
    job = tmp_path / "job.yaml"
    text = (EXAMPLES / "vqe_h2.yaml").read_text()
    job.write_text(text.replace("{library:", "{librry:").replace("name: adam", "name: cobyla"))
    with pytest.raises(InvalidJob) as info:
        load_job(job)
    said = str(info.value).replace(str(job), "job.yaml")
    for line in shown.group(1).strip().splitlines():
        assert line in said, said


def test_the_reference_names_the_editor_line_that_finds_the_schema() -> None:
    line = "# yaml-language-server: $schema=../docs/job.schema.json"
    assert line in REFERENCE
    assert (EXAMPLES / line.split("=")[1]).resolve() == (ROOT / "docs" / "job.schema.json")


def test_the_smallest_job_of_the_reference_runs_to_its_ground_energy(qcb_home: Path) -> None:
    block = re.findall(r"```yaml\n(.*?)```", REFERENCE, re.S)[0]
    spec = parse_job(block, "docs/jobs.md")
    broker = Broker(Settings())
    job_id = broker.submit(spec, "alice")
    drive(broker, job_id)
    found = job_result(broker.db, job_id)
    hamiltonian = PauliSum.from_text(spec.algorithm.inputs["hamiltonian"])
    exact = min(np.linalg.eigvalsh(hamiltonian.to_matrix()))
    assert found.state == "COMPLETED" and found.result is not None
    assert abs(found.result["energy"] - exact) < 1.6e-3  # chemical accuracy

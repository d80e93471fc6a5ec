"""``qcb download``: a job's artifacts in one folder, from the embedded client (the remote
client runs the same code over the API: tests/integration/service)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
import yaml

from broker.cli.main import run_cli
from broker.client import Client
from broker.core.models import JobResult, JobSpec
from broker.errors import NotFound
from broker.jobfile import parse_job
from tests.unit.broker.core.test_orchestrator import drive

CLASSICAL = """\
apiVersion: qcbroker/v1
kind: Job
name: two-steps
proposal: local
classical_backend: local
algorithm:
  name: graph
  inputs:
    steps:
      - name: problem
        entrypoint: broker.algorithms.chemistry:h2
        payload: {bond_length: 0.735}
      - name: exact
        entrypoint: broker.algorithms.reference:ground_energy
        payload: {hamiltonian: {ref: problem.hamiltonian}}
"""


@pytest.fixture
def client(qcb_home: Path, monkeypatch: pytest.MonkeyPatch) -> Client:
    made = Client(autostart=False)
    main = importlib.import_module("broker.cli.main")  # broker.cli.main is also a function
    monkeypatch.setattr(main, "_client", lambda: made)
    return made


def test_an_ended_job_downloads_whole(client: Client, tmp_path: Path) -> None:
    job_id = client.submit(CLASSICAL)
    drive(client._broker, job_id)
    written = client.download(job_id, tmp_path)
    where = tmp_path / job_id
    names = sorted(str(p.relative_to(where)) for p in written)
    logs = [n for n in names if n.startswith("logs/")]
    assert {"job.yaml", "status.json", "result.json", "result.png"} <= set(names)
    assert len(logs) == 6  # two classical tasks: .out, .err and .json each
    assert all(p.exists() for p in written)
    again = parse_job((where / "job.yaml").read_text())
    assert again == client.job_file(job_id) == parse_job(CLASSICAL)
    result = JobResult.model_validate_json((where / "result.json").read_text())
    assert result == client.result(job_id)
    meta = [json.loads((where / n).read_text()) for n in logs if n.endswith(".json")]
    assert sorted(m["key"] for m in meta) == ["exact", "problem"]
    assert all(m["exit_code"] == 0 and m["state"] == "COMPLETED" for m in meta)
    assert (where / "result.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_pending_job_downloads_what_it_has(
    client: Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = client.submit(CLASSICAL)
    code = run_cli(["download", job_id, "-o", str(tmp_path / "runs"), "--no-plot"])
    out, err = capsys.readouterr()
    where = tmp_path / "runs" / job_id
    assert code == 0 and f"2 files in {where}" in out, err
    assert yaml.safe_load((where / "job.yaml").read_text())["name"] == "two-steps"
    assert JobSpec.model_validate(yaml.safe_load((where / "job.yaml").read_text()))
    assert not (where / "result.json").exists()
    with pytest.raises(NotFound):
        client.download("j-000000000000", tmp_path)
    assert not (tmp_path / "j-000000000000").exists()

"""``qcb`` as a user runs it: a real subprocess, real exit codes, no tracebacks."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from circuits.observables import PauliSum
from tests.conftest import EXAMPLES, H2_TERMS, ROOT

pytestmark = pytest.mark.e2e

QCB = [sys.executable, "-m", "broker.cli.main"]


def qcb(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "qcb"), *args],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def write_job(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text((EXAMPLES / "vqe_h2.yaml").read_text().replace(old, new))
    return path


def assert_user_error(proc: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.startswith("error:")
    for word in words:
        assert word in proc.stderr, proc.stderr


def test_run_json_prints_the_finished_job(qcb_home: Path) -> None:
    proc = qcb("run", str(EXAMPLES / "vqe_h2.yaml"), "--json")
    assert proc.returncode == 0, proc.stderr
    job = json.loads(proc.stdout)
    assert set(job) == {"id", "state", "result", "message", "charges", "lineage"}
    assert job["state"] == "COMPLETED"
    exact = PauliSum.from_list(H2_TERMS).ground_energy() + 0.7199689944489797
    assert abs(job["result"]["energy"] - exact) < 1.6e-3
    assert {"energy", "parameters", "iterations"} <= set(job["result"])
    assert {c["kind"] for c in job["charges"]} == {"hold", "charge", "release"}
    assert job["lineage"]["circuits"] and job["lineage"]["seed"] == 42
    listed = qcb("jobs", "--json")
    assert [j["id"] for j in json.loads(listed.stdout)] == [job["id"]]
    shown = qcb("result", job["id"])
    assert shown.returncode == 0 and "energy" in shown.stdout and "mHa" in shown.stdout
    printed = qcb("logs", job["id"])
    assert printed.returncode == 0 and "== reference (t-" in printed.stdout, printed.stderr
    assert ": COMPLETED, exit 0" in printed.stdout
    status = qcb("status", job["id"], "--json")
    assert json.loads(status.stdout)["state"] == "COMPLETED"
    picture = qcb_home / "run.png"
    drawn = qcb("result", job["id"], "--plot", str(picture))
    assert drawn.returncode == 0, drawn.stderr
    assert f"drawn in {picture}" in drawn.stdout
    assert picture.read_bytes().startswith(b"\x89PNG")


def test_unknown_proposal_is_refused_without_traceback(qcb_home: Path, tmp_path: Path) -> None:
    job = write_job(tmp_path, "proposal: local", "proposal: quantum-chem-2027")
    assert_user_error(qcb("run", str(job)), 3, "unknown proposal 'quantum-chem-2027'", "local")


def test_malformed_job_file_names_the_line(qcb_home: Path, tmp_path: Path) -> None:
    job = write_job(tmp_path, "seed: 42", "seed: 42\nsede: 43")
    assert_user_error(qcb("run", str(job)), 2, "line 13, sede: unknown field (did you mean seed?)")
    broken = tmp_path / "broken.yaml"
    broken.write_text("proposal: local\nalgorithm: {name: vqe\n")
    assert_user_error(qcb("submit", str(broken)), 2, "not valid YAML at line")


def test_observable_ansatz_mismatch_names_the_field(qcb_home: Path, tmp_path: Path) -> None:
    job = write_job(tmp_path, "reps: 1}", "reps: 1, num_qubits: 4}")
    assert_user_error(
        qcb("run", str(job)), 2, "algorithm.inputs.hamiltonian", "2 qubits but the ansatz has 4"
    )


def test_unknown_backend_override_lists_the_choices(qcb_home: Path) -> None:
    proc = qcb("run", str(EXAMPLES / "vqe_h2.yaml"), "--backend", "nowhere")
    assert_user_error(proc, 2, "unknown backend 'nowhere'", "aer")


def test_unknown_job_id(qcb_home: Path) -> None:
    assert_user_error(qcb("status", "j-000000000000"), 4, "no job 'j-000000000000'", "qcb jobs")


def test_missing_file(qcb_home: Path) -> None:
    proc = qcb("run", "no/such/job.yaml")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "Error: Invalid value for 'FILE': no job file no/such/job.yaml" in proc.stderr


def test_ctrl_c_stops_following_and_says_how_to_cancel(qcb_home: Path) -> None:
    run = subprocess.Popen(
        [str(Path(sys.executable).parent / "qcb"), "run", str(EXAMPLES / "vqe_h2.yaml")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    assert run.stderr is not None
    first = run.stderr.readline()  # printed once the job is submitted, before following it
    assert first.startswith("submitted job "), first
    job_id = first.split()[2]
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130, err
    assert f"qcb cancel {job_id}" in err and "Traceback" not in err and "Aborted" not in err
    still = json.loads(qcb("status", job_id, "--json").stdout)
    assert still["state"] != "CANCELLED"  # following stopped; the job did not
    assert qcb("cancel", job_id).returncode == 0


def test_help_teaches_the_first_steps() -> None:
    proc = qcb("--help")
    assert proc.returncode == 0
    assert "qcb run examples/vqe_h2.yaml" in proc.stdout
    for command in ("run", "submit", "status", "result", "cancel", "jobs"):
        assert command in proc.stdout

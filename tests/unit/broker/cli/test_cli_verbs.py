"""``qcb`` and the embedded SDK, in this process with no runtime (the client does not start
one): the verbs a Slurm user reaches for, and the mended rough edges of issue 21."""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backends import registry
from backends.errors import BackendError, BackendNotFound
from backends.states import TaskState
from broker import config
from broker.catalog import BackendInfo
from broker.cli import allocation_cmds, control_cmds, policy_admin
from broker.cli.allocation_cmds import amount
from broker.cli.main import run_cli
from broker.cli.render import backends_table, summary
from broker.client import Client
from broker.core.models import JobResult
from broker.errors import InvalidJob, InvalidRequest, JobRefused, WaitTimeout
from broker.jobfile import load_job
from policies.diff import _relative
from tests.conftest import EXAMPLES

TWO_PROPOSALS = """\
apiVersion: qcbroker/v1
kind: Policy
metadata: {{name: verbs, revision: "1"}}
backends:
  aer: {{units: [evaluations, shots]}}
  aer-mps: {{units: [evaluations, shots]}}
  local: {{units: [core_hours]}}
proposals:
  - id: chem
    pi: {user}
    members: [{user}]
    budgets:
      - {{backend: aer, unit: evaluations, amount: 10000000}}
      - {{backend: aer-mps, unit: evaluations, amount: 10000000}}
      - {{backend: local, unit: core_hours, amount: 1000}}
  - id: tiny
    pi: {user}
    members: [{user}]
    budgets:
      - {{backend: aer, unit: evaluations, amount: 2}}
      - {{backend: local, unit: core_hours, amount: 1000}}
"""


@pytest.fixture
def client(qcb_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Client:
    """An embedded client that never starts the runtime (jobs stay PENDING), and ``qcb``
    using the same."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(TWO_PROPOSALS.format(user=config.Settings().user))
    monkeypatch.setenv("QCB_POLICY_FILE", str(policy))
    made = Client(autostart=False)
    main = importlib.import_module("broker.cli.main")  # broker.cli.main is also a function
    for module in (main, allocation_cmds, policy_admin, control_cmds):
        monkeypatch.setattr(module, "_client", lambda: made)
    return made


def small(proposal: str = "chem", name: str | None = None) -> Any:
    spec = load_job(EXAMPLES / "vqe_h2.yaml", {"proposal": proposal, "name": name})
    spec.algorithm.inputs["optimizer"]["maxiter"] = 3
    spec.algorithm.inputs["reference"] = False
    return spec


def qcb(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run_cli(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


@pytest.mark.parametrize(
    ("value", "shown"),
    [(1564, "1564"), (10_000, "10k"), (48_436, "48.4k"), (50_000, "50k"), (999_999, "1M"),
     (1_234_567, "1.23M"), (-25_000, "-25k"), (3.5e12, "3.5T")],
)  # fmt: skip
def test_usage_amounts_keep_their_magnitude(value: float, shown: str) -> None:
    assert amount(value) == shown


def test_policy_diff_shows_the_digits_a_change_needs() -> None:
    assert _relative(10_000_000, 50_000) == " (-99.5%)"
    assert _relative(100, 0) == " (-100%)"
    assert _relative(100, 125) == " (+25%)"
    assert _relative(100, 30_000) == " (x300)"
    assert _relative(5, 5) == ""


def test_one_default_store_and_root_gets_one_others_can_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("QCB_HOME", raising=False)
    monkeypatch.setattr(config.os, "geteuid", lambda: 0)
    assert config.Settings().home == Path("/var/lib/qcbroker")
    monkeypatch.setattr(config.os, "geteuid", lambda: 1000)
    assert config.Settings().home == config.platformdirs.user_data_path("qcbroker")


def test_jobs_filter_by_state_proposal_and_since(
    client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    first = client.submit(small("chem", "one"))
    second = client.submit(small("chem", "two"))
    client.cancel(second)
    assert [j.id for j in client.jobs(states=["pending"])] == [first]
    assert [j.id for j in client.jobs(states=["CA"])] == [second]
    assert {j.id for j in client.jobs(states=["PD,CA"])} == {first, second}
    assert client.jobs(proposal="tiny") == []
    later = datetime.now(UTC) + timedelta(hours=1)
    assert client.jobs(since=later) == []
    assert len(client.jobs(since=later - timedelta(days=1))) == 2
    code, out, _ = qcb(capsys, "jobs", "-t", "cancelled", "-A", "chem", "--json")
    assert code == 0 and [j["id"] for j in json.loads(out)] == [second]
    code, _, err = qcb(capsys, "jobs", "-t", "bogus")
    assert code == 2 and "unknown job state 'BOGUS'" in err and "PD" in err
    with pytest.raises(InvalidRequest):
        client.jobs(states=["done"])


def test_the_jobs_table_never_cuts_ids_or_states(
    client: Client, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = client.submit(small("chem", "a-rather-long-name-for-a-job"))
    monkeypatch.setenv("COLUMNS", "60")
    code, out, _ = qcb(capsys, "jobs")
    assert code == 0 and job_id in out and "PENDING" in out


def test_status_in_words_and_cancel_of_an_ended_job(
    client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = client.submit(small(name="words"))
    code, out, _ = qcb(capsys, "status", job_id)
    assert code == 0 and out.startswith(f"{job_id}  PENDING  step 0/3")
    assert "tasks: 1 pending" in out and "words on aer, proposal chem" in out
    assert "{" not in out  # no Python dict
    code, out, _ = qcb(capsys, "cancel", job_id)
    assert code == 0 and out.strip() == f"{job_id}  CANCELLED"
    code, out, _ = qcb(capsys, "cancel", job_id)
    assert code == 0 and "already ended: nothing to cancel" in out
    partial = client.result(job_id)
    assert partial.state == TaskState.CANCELLED
    assert partial.result == {"step": 0, "maxiter": 3, "partial": True}
    assert "partial result" in summary(partial)


def test_logs_of_a_job_whose_classical_task_has_not_run(
    client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = small()
    spec.algorithm.inputs["reference"] = True  # a classical task beside the first batch
    job_id = client.submit(spec)
    [log] = client.logs(job_id)
    assert (log.key, log.kind, log.state) == ("reference", "classical", TaskState.PENDING)
    code, out, _ = qcb(capsys, "logs", job_id)
    assert code == 0 and f"== reference ({log.task_id}) on local: PENDING" in out
    assert "(its output comes when it ends)" in out
    code, out, _ = qcb(capsys, "logs", log.task_id, "--json")
    assert code == 0 and json.loads(out)[0]["task_id"] == log.task_id
    code, _, err = qcb(capsys, "logs", "t-000000000000")
    assert code == 4 and "no job or task" in err


def test_requeue_submits_a_job_again_as_a_new_one(
    client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    old = client.submit(small(name="again"))
    client.cancel(old)
    new = client.requeue(old)
    assert new != old and client.status(old).state == TaskState.CANCELLED
    twin = client.status(new)
    assert (twin.name, twin.proposal, twin.backend, twin.state) == (
        "again", "chem", "aer", TaskState.PENDING,
    )  # fmt: skip
    code, out, _ = qcb(capsys, "requeue", old, "-b", "aer-mps")
    assert code == 0 and client.status(out.strip()).backend == "aer-mps"
    code, _, err = qcb(capsys, "requeue", "j-000000000000")
    assert code == 4 and "no job" in err


def test_a_held_job_waits_until_it_is_released(
    client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = client.submit(small())
    code, out, _ = qcb(capsys, "hold", job_id)
    assert code == 0 and out.split() == [job_id, "PENDING", "held"]
    status = client.status(job_id)
    assert status.held_by == config.Settings().user
    code, out, _ = qcb(capsys, "status", job_id)
    assert f"PENDING (held by {status.held_by})" in out
    code, _, err = qcb(capsys, "explain", job_id)
    assert code == 1 and f"is held by {status.held_by}" in err and "qcb release" in err
    dispatch = client._broker.dispatch
    with client._broker.db.write(exclusive=False) as conn:
        assert dispatch.release_in(conn, dispatch.engine()) == []  # held: nothing goes
    code, out, _ = qcb(capsys, "release", job_id)
    assert code == 0 and client.status(job_id).held_by is None
    with client._broker.db.write(exclusive=False) as conn:
        released = dispatch.release_in(conn, dispatch.engine())
    assert len(released) == 1 and client.status(job_id).tasks == {"QUEUED": 1}
    client.cancel(job_id)
    code, out, _ = qcb(capsys, "hold", job_id)
    assert code == 0 and "(ended)" in out and client.status(job_id).held_by is None


def test_submit_overrides_and_result_of_a_running_job(
    client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = qcb(
        capsys, "submit", str(EXAMPLES / "vqe_h2.yaml"), "-A", "chem", "-J", "renamed"
    )
    assert code == 0
    job = client.status(out.strip())
    assert (job.name, job.proposal) == ("renamed", "chem")
    code, _, err = qcb(capsys, "result", job.id)
    assert code == 5 and "error:" in err


def test_wait_times_out_loudly_and_wait_all(
    client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two = client.submit(small()), client.submit(small())
    with pytest.raises(WaitTimeout) as info:
        client.wait(one, timeout=0.05)
    assert info.value.status.state == TaskState.PENDING
    assert "qcb cancel" in str(info.value)
    code, _, err = qcb(capsys, "wait", one, two, "--timeout", "0.05")
    assert code == 8 and f"job {one} is still PENDING" in err and "0 of 2 jobs" in err
    client.cancel(one)
    client.cancel(two)
    assert [s.state for s in client.wait_all([one, two]).values()] == [TaskState.CANCELLED] * 2
    code, out, _ = qcb(capsys, "wait", one, two)
    assert code == 1 and out.split() == [one, "CANCELLED", two, "CANCELLED"]


def test_the_sdk_takes_a_path_as_a_string(client: Client, tmp_path: Path) -> None:
    with pytest.raises(InvalidJob, match=r"no job file missing\.yaml"):
        client.submit("missing.yaml")
    job = tmp_path / "h2.yaml"
    job.write_text(
        (EXAMPLES / "vqe_h2.yaml").read_text().replace("proposal: local", "proposal: chem")
    )
    assert client.status(client.submit(str(job))).proposal == "chem"


def test_errors_carry_paths_lines_and_amounts(client: Client, tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text((EXAMPLES / "vqe_h2.yaml").read_text().replace("reps: 1", "repz: 1"))
    with pytest.raises(InvalidJob) as bad:
        client.submit(job)
    [problem] = bad.value.problems
    assert (problem.path, problem.line, problem.suggestion) == (
        "algorithm.inputs.ansatz.repz",
        23,
        "reps",
    )
    with pytest.raises(JobRefused) as refused:
        client.submit(small("tiny"))
    details = refused.value.details
    assert details["check"] == "membership-and-budget"
    assert {"backend": "aer", "unit": "evaluations", "amount": 2.0} in details["remaining"]
    assert any(n["unit"] == "evaluations" and n["amount"] > 2 for n in details["needs"])


def test_an_unforeseen_error_is_a_crash_report_not_a_traceback(
    client: Client, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("something nobody foresaw")

    monkeypatch.setattr(client, "jobs", broken)
    code, _, err = qcb(capsys, "jobs")
    assert code == 70 and "something nobody foresaw" in err
    report = Path(err.split("the details are in ")[1].split(";")[0])
    assert "RuntimeError" in report.read_text() and "Traceback" in report.read_text()


def test_backends_keep_their_brackets_and_say_why() -> None:
    reason = "needs the 'cirq' package (pip install 'qcbroker[cirq]')"
    table = backends_table([BackendInfo(name="cirq", available=False, reason=reason)])
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(table)
    assert "qcbroker[cirq]" in console.export_text()


def test_gpu_backends_and_typos_are_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QCB_GPU", "0")
    registry.gpu_present.cache_clear()
    registry._entry_points.cache_clear()
    try:
        with pytest.raises(BackendNotFound, match="only on a machine with an NVIDIA GPU"):
            registry.declared_kind("aer-gpu")
        with pytest.raises(BackendNotFound, match="did you mean 'aer'"):
            registry.declared_kind("aerr")
    finally:
        registry.gpu_present.cache_clear()
        registry._entry_points.cache_clear()


def test_ionq_is_not_usable_without_its_key() -> None:
    with pytest.raises(BackendError, match="IonQ needs an API key"):
        registry.quantum("ionq")


def test_a_shotless_job_on_a_sampling_backend_is_refused_at_submission(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backends = tmp_path / "backends.yaml"
    backends.write_text("ionq: {api_key_file: /nonexistent/key, url: 'http://127.0.0.1:9'}\n")
    backends.chmod(0o600)
    monkeypatch.setenv("QCB_BACKENDS_FILE", str(backends))
    sampling = Client(autostart=False)
    spec = small()
    spec.backend = "ionq"
    with pytest.raises(InvalidJob, match=r"algorithm\.inputs\.shots: backend 'ionq' samples"):
        sampling.submit(spec)


def test_a_result_that_did_not_converge_says_so() -> None:
    result = JobResult.model_validate(
        {
            "id": "j-1",
            "state": "COMPLETED",
            "result": {"energy": -1.125, "converged": False, "error": 0.012},
            "charges": [],
            "lineage": {
                "job_id": "j-1", "job_sha256": "", "inputs_sha256": "", "circuits": [],
                "backend": "aer", "backend_version": None, "seed": 1,
                "policy_revision": "r", "packages": {}, "tasks": [],
            },
        }
    )  # fmt: skip
    text = summary(result)
    assert "stopped at its maxiter without converging" in text
    assert "12.0 mHa from the exact value" in text


def test_a_job_submitted_with_a_dependency_says_what_it_waits_for(
    client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    first = client.submit(small())
    job = EXAMPLES / "vqe_h2.yaml"
    code, out, _ = qcb(capsys, "submit", str(job), "-A", "chem", "-d", f"afterok:{first}")
    waiting = out.strip()
    assert code == 0 and client.status(waiting).waits_for == [f"afterok:{first}"]
    code, out, _ = qcb(capsys, "status", waiting)
    assert f"waits for afterok:{first}" in out
    code, out, _ = qcb(capsys, "jobs", "--json")
    assert {j["id"]: j["waits_for"] for j in json.loads(out)}[waiting] == [f"afterok:{first}"]
    code, _, err = qcb(capsys, "submit", str(job), "-A", "chem", "-d", "aftrok:j-1")
    assert code == 2 and "dependency" in err and "did you mean 'afterok'" in err
    client.cancel(first)
    after = client.status(waiting)
    assert after.state == TaskState.CANCELLED and "can never be met" in after.message


def test_retry_resumes_a_stopped_job_and_refuses_one_that_runs(
    client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = client.submit(small(name="resumable"))
    code, _, err = qcb(capsys, "retry", job_id)
    assert code == 1 and "has not stopped" in err and f"qcb cancel {job_id}" in err
    client.cancel(job_id)
    code, out, _ = qcb(capsys, "retry", job_id, "-b", "aer-mps")
    again = client.status(out.strip())
    assert code == 0 and (again.name, again.backend, again.state) == (
        "resumable", "aer-mps", TaskState.PENDING,
    )  # fmt: skip
    code, _, err = qcb(capsys, "retry", "j-000000000000")
    assert code == 4 and "no job" in err

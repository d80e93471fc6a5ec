"""The parsers against what real Slurm releases wrote (tests/data/slurm/: 22.05, 24.11 and
26.05, on the command line and over every REST version each serves), one job per state."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from backends.base import ClassicalSpec
from backends.slurm.accounting import AccountedJob, parse_accounting
from backends.slurm.partitions import parse_partition, parse_scontrol_partition
from backends.slurm.records import SlurmJob, parse_job, task_state
from backends.slurm.requests import limit_broken, rest_job
from backends.slurm.rest import choose_version, ping_release, served_versions
from backends.states import TaskState

DATA = Path(__file__).parents[3] / "data" / "slurm"
RELEASES = ("22.05", "24.11", "26.05")
NEWEST_VERSION = {"22.05": "v0.0.38", "24.11": "v0.0.42", "26.05": "v0.0.45"}

# state name -> (broker state, checks on the controller's record)
EXPECTED: dict[str, tuple[TaskState, dict[str, Any]]] = {
    "pending_held": (TaskState.QUEUED, {"reason": "JobHeldUser"}),
    "pending_begin": (TaskState.QUEUED, {"reason": "BeginTime"}),
    "running": (TaskState.RUNNING, {"node_count": 1}),
    "completed": (TaskState.COMPLETED, {"exit_code": 0, "node_count": 1}),
    "completed_2_nodes": (TaskState.COMPLETED, {"exit_code": 0, "node_count": 2}),
    "failed": (TaskState.FAILED, {"exit_code": 3, "reason": "NonZeroExitCode"}),
    "cancelled": (TaskState.CANCELLED, {"signal": 15}),
    "timeout": (TaskState.TIMEOUT, {"reason": "TimeLimit"}),
    "signalled_kill": (TaskState.FAILED, {"signal": 9}),
    "signalled_segv": (TaskState.FAILED, {"signal": 11}),
    "node_fail": (TaskState.FAILED, {"reason": "NodeDown"}),
}
ENDED = {"completed", "completed_2_nodes", "failed", "cancelled", "timeout"} | {
    "signalled_kill",
    "signalled_segv",
    "node_fail",
}


def load(release: str, name: str) -> Any:
    """A captured file of ``release`` (JSON, gzip'd or not)."""
    path = DATA / release / name
    if path.suffix == ".gz":
        return json.loads(gzip.decompress(path.read_bytes()))
    return json.loads(path.read_text())


def manifest(release: str) -> dict[str, Any]:
    """What was captured from ``release``: jobs by state name, REST versions."""
    data: dict[str, Any] = load(release, "manifest.json")
    return data


def captured_states(release: str) -> list[tuple[str, str, str]]:
    """(release, state name, job id) for every captured state."""
    cases = []
    for name, job in manifest(release)["jobs"].items():
        if name in EXPECTED or name.startswith("rest_submit_"):
            cases.append((release, name, str(job["job_id"])))
    return cases


CASES = [case for release in RELEASES for case in captured_states(release)]
REST = [(r, v) for r in RELEASES for v in manifest(r)["rest_versions"]]


def expectation(name: str) -> tuple[TaskState, dict[str, Any]]:
    """The broker state and record fields a captured state must give."""
    if name.startswith("rest_submit_"):
        return TaskState.COMPLETED, {"exit_code": 0}
    return EXPECTED[name]


def check_job(job: SlurmJob, name: str) -> None:
    """``job`` (parsed from a release's record of state ``name``) is what it must be."""
    state, fields = expectation(name)
    assert task_state(job)[0] is state, (name, job)
    for field, value in fields.items():
        assert getattr(job, field) == value, (name, field, job)


def check_accounted(job: AccountedJob, release: str, name: str) -> None:
    """slurmdbd's record of state ``name`` is what it must be."""
    state, fields = expectation(name)
    assert job.ended is (name in ENDED or name.startswith("rest_submit_")), (name, job)
    if job.ended:
        assert task_state(job.as_job())[0] is state, (name, job)
    if name in ENDED:  # 22.05 records no directory for a job submitted over REST
        assert job.workdir.startswith("/tmp/qcb-golden-"), job
    if name == "failed":
        # slurmdbd of 22.05 records exit code 0 for a batch script that exits 3 (the
        # controller's record and the runner's have 3): the runner's record wins.
        assert job.exit_code == (0 if release == "22.05" else 3)
    elif "signal" in fields and name != "cancelled":
        assert job.signal == fields["signal"]
    if name == "completed_2_nodes":
        assert job.node_count == 2 and len(job.nodes) == 2
        assert job.node_hours == pytest.approx(job.elapsed_s * 2 / 3600)


@pytest.mark.parametrize(("release", "name", "job_id"), CASES)
def test_squeue_records_of_every_state(release: str, name: str, job_id: str) -> None:
    records = {str(r["job_id"]): r for r in load(release, "squeue-states-all.json")["jobs"]}
    check_job(parse_job(records[job_id]), name)


@pytest.mark.parametrize(("release", "name", "job_id"), CASES)
def test_sacct_records_of_every_state(release: str, name: str, job_id: str) -> None:
    check_accounted(parse_accounting(load(release, "sacct.json"))[job_id], release, name)


@pytest.mark.parametrize(("release", "version"), REST)
def test_rest_job_records_of_every_state_and_version(release: str, version: str) -> None:
    seen = 0
    for name, job in manifest(release)["jobs"].items():
        path = f"rest/{version}/job-{name}.json"
        if not (DATA / release / path).exists():
            continue
        records = load(release, path)["jobs"]
        assert [str(r["job_id"]) for r in records] == [str(job["job_id"])]
        check_job(parse_job(records[0]), name)
        accounted = parse_accounting(load(release, f"rest/{version}/slurmdb-job-{name}.json"))
        check_accounted(accounted[str(job["job_id"])], release, name)
        seen += 1
    assert seen == len(EXPECTED)


@pytest.mark.parametrize(("release", "version"), REST)
def test_rest_jobs_listing_parses_whole(release: str, version: str) -> None:
    jobs = [parse_job(r) for r in load(release, f"rest/{version}/jobs.json")["jobs"]]
    ids = {job.job_id for job in jobs}
    assert {str(j["job_id"]) for j in manifest(release)["jobs"].values()} <= ids | {
        str(j["job_id"]) for n, j in manifest(release)["jobs"].items() if "rest" in n
    }
    assert all(job.state for job in jobs)


@pytest.mark.parametrize("release", RELEASES)
def test_openapi_document_gives_the_newest_version_we_speak(release: str) -> None:
    name = "rest/openapi-v3.json.gz"
    if not (DATA / release / name).exists():
        name = "rest/openapi-v3.json"
    served = served_versions(load(release, name))
    assert served == manifest(release)["rest_versions"]
    assert choose_version(served) == NEWEST_VERSION[release]


@pytest.mark.parametrize(("release", "version"), REST)
def test_ping_names_the_release(release: str, version: str) -> None:
    assert ping_release(load(release, f"rest/{version}/ping.json")).startswith(release)


@pytest.mark.parametrize(("release", "version"), REST)
def test_submit_answer_holds_the_job_id(release: str, version: str) -> None:
    answer = load(release, f"rest/{version}/submit-response.json")
    submitted = manifest(release)["jobs"][f"rest_submit_{version}"]
    assert str(answer["job_id"]) == str(submitted["job_id"])


@pytest.mark.parametrize(("release", "version"), REST)
def test_our_submit_body_has_the_shape_slurm_took(release: str, version: str) -> None:
    """The request that Slurm accepted and ours agree on where the environment goes."""
    sent = load(release, f"rest/{version}/submit-request.json")
    ours = rest_job(
        ClassicalSpec(argv=["true"]),
        "/w",
        comment="c",
        account=None,
        environment={"PATH": "/usr/bin"},
        api_version=version,
    )
    assert type(ours["environment"]) is type(sent["job"]["environment"])
    assert ("script" in sent) == (version == "v0.0.38")


@pytest.mark.parametrize("release", RELEASES)
def test_partitions_from_scontrol(release: str) -> None:
    text = (DATA / release / "scontrol-show-partition.txt").read_text()
    parts = [parse_scontrol_partition(line) for line in text.splitlines() if line.strip()]
    assert [p.name for p in parts if p.default] == ["debug"]
    assert {p.name: p.total_nodes for p in parts}["debug"] == 3
    assert all(p.max_time_s == 1800 for p in parts)


@pytest.mark.parametrize(("release", "version"), REST)
def test_partitions_over_rest(release: str, version: str) -> None:
    """Only v0.0.38 and v0.0.45 say which partition is the default; elsewhere it is
    unknown (None), and no limit is judged against an unknown default."""
    parts = [
        parse_partition(p) for p in load(release, f"rest/{version}/partitions.json")["partitions"]
    ]
    assert {p.name: p.total_nodes for p in parts} == {
        "debug": 3,
        "first-1": 1,
        "first-2": 2,
        "first-3": 3,
    }
    defaults = {p.name: p.default for p in parts}
    if version in ("v0.0.38", "v0.0.45"):
        assert [n for n, d in defaults.items() if d] == ["debug"]
    else:
        assert set(defaults.values()) == {None}
        assert limit_broken(ClassicalSpec(argv=["true"], nodes=2), parts) is None
    # too large for every partition: refused whichever is the default
    refusal = limit_broken(ClassicalSpec(argv=["true"], nodes=99), parts)
    assert refusal is not None and "99 nodes" in refusal and "at most 3" in refusal

"""Which slurmrestd OpenAPI version the ``slurmrest`` backend speaks, and the parts of the
protocol that differ between versions (the ping's release, the job's environment), plus the
``chroot`` form of the CLI backend's tool calls."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from backends.base import ClassicalSpec
from backends.errors import BackendError
from backends.identity import TaskAccount
from backends.slurm.cli import SlurmBackend, chroot_argv
from backends.slurm.requests import rest_job
from backends.slurm.rest import (
    API_VERSIONS,
    SlurmRestBackend,
    choose_version,
    ping_release,
    served_versions,
)


def _document(*paths: str) -> dict[str, object]:
    return {"openapi": "3.0.3", "paths": {p: {"get": {}} for p in paths}}


def test_served_versions_lists_each_slurmctld_version_once_in_order() -> None:
    document = _document(
        "/slurm/v0.0.42/ping/",
        "/slurm/v0.0.40/jobs/",
        "/slurm/v0.0.41/job/{job_id}",
        "/slurm/v0.0.40/ping/",
        "/slurmdb/v0.0.42/jobs/",
        "/openapi/v3",
    )
    assert served_versions(document) == ["v0.0.40", "v0.0.41", "v0.0.42"]


@pytest.mark.parametrize(
    ("served", "chosen"),
    [
        (["v0.0.36", "v0.0.37", "v0.0.38"], "v0.0.38"),  # Slurm 22.05
        (["v0.0.40", "v0.0.41", "v0.0.42"], "v0.0.42"),  # Slurm 24.11
        (["v0.0.42", "v0.0.43", "v0.0.44", "v0.0.45"], "v0.0.45"),  # Slurm 26.05
        (["v0.0.44", "v0.0.45", "v0.0.46"], "v0.0.45"),  # a release newer than the broker
    ],
)
def test_the_newest_version_both_sides_speak_is_chosen(served: list[str], chosen: str) -> None:
    assert choose_version(served) == chosen


def test_no_common_version_is_refused_naming_both_lists() -> None:
    with pytest.raises(BackendError) as caught:
        choose_version(["v0.0.36", "v0.0.37"])
    text = str(caught.value)
    assert "v0.0.36, v0.0.37" in text
    assert ", ".join(API_VERSIONS) in text


def test_a_pinned_version_the_broker_does_not_speak_is_refused() -> None:
    with pytest.raises(BackendError, match=r"v0\.0\.39"):
        SlurmRestBackend(url="http://127.0.0.1:1", token="t", api_version="v0.0.39")
    pinned = SlurmRestBackend(url="http://127.0.0.1:1", token="t", api_version="v0.0.41")
    assert pinned.api == "/slurm/v0.0.41"  # asks nothing of slurmrestd


def test_ping_release_reads_both_spellings_of_meta() -> None:
    assert ping_release({"meta": {"Slurm": {"release": "22.05.8"}}}) == "22.05.8"
    assert ping_release({"meta": {"slurm": {"release": "24.11.5"}}}) == "24.11.5"
    assert ping_release({}) == "unknown"


def test_the_environment_is_an_object_for_v0038_and_a_list_after() -> None:
    spec = ClassicalSpec(name="t", argv=["true"])
    env = {"PATH": "/usr/bin", "QCB_TASK_ID": "t1"}
    old = rest_job(spec, "/w", comment="c", account=None, environment=env)
    assert old["environment"] == env
    new = rest_job(spec, "/w", comment="c", account=None, environment=env, api_version="v0.0.42")
    assert new["environment"] == ["PATH=/usr/bin", "QCB_TASK_ID=t1"]


def test_chroot_argv_drops_to_the_account_inside_the_tree() -> None:
    account = TaskAccount(name="qcb-alice", uid=1001, gid=1001, groups=(2001,), home="/")
    argv = chroot_argv("/srv/slurm-24.11", ["sbatch", "--parsable", "x"], account)
    assert argv[0].endswith("chroot")
    assert argv[1:] == [
        "--userspec=1001:1001",
        "--groups=1001,2001",
        "/srv/slurm-24.11",
        "sbatch",
        "--parsable",
        "x",
    ]
    assert chroot_argv("/srv/s", ["squeue"], None)[1:] == ["/srv/s", "squeue"]


def test_a_tasks_loader_variables_never_reach_the_root_chroot_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``chroot`` starts as root: a job's LD_PRELOAD would load the job's code into it."""
    seen: dict[str, Any] = {}

    def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        seen.update(argv=argv, env=kwargs["env"])
        return subprocess.CompletedProcess(argv, 0, "7;\n", "")

    monkeypatch.setattr(subprocess, "run", run)
    backend = SlurmBackend(chroot="/srv/slurm-26.05")
    account = TaskAccount(name="qcb-alice", uid=1001, gid=1001, groups=(), home="/")
    env = {
        "PATH": "/usr/bin",
        "QCB_X": "kept",
        "LD_PRELOAD": "/tmp/evil.so",
        "LD_LIBRARY_PATH": "/tmp",
        "GCONV_PATH": "/tmp",
        "MALLOC_TRACE": "/tmp/t",
    }
    assert backend.run_tool(["sbatch", "x"], env=env, account=account) == "7;\n"
    assert seen["argv"][0].endswith("chroot")
    assert seen["env"] == {"PATH": "/usr/bin", "QCB_X": "kept"}

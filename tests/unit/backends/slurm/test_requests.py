"""What the broker sends to Slurm: the batch script, the ``sbatch`` argv, the slurmrestd job
body, time limits, ``srun`` launchers and partition-limit checks.

The batch script, the ``sbatch`` argv and the REST job body for one task with hostile values
are pinned by golden files in ``golden/`` next to this module, compared exactly. After an
intended change, regenerate them and review the diff::

    QCB_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/backends/slurm/test_requests.py
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from backends.base import ClassicalSpec
from backends.slurm.partitions import Partition
from backends.slurm.requests import (
    SCRIPT_NAME,
    SLURM_OUT,
    batch_script,
    launcher,
    limit_broken,
    rest_job,
    sbatch_argv,
    time_limit_minutes,
)

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE_GOLDEN = os.environ.get("QCB_UPDATE_GOLDEN") == "1"

PYTHON = "/opt/qcb/venv/bin/python3"
WORKDIR = '/scratch/qcb jobs/it\'s "quoted"/t-1-abcd1234'
COMMENT = "qcbroker task t-1-abcd1234 account prop-17; rm -rf /"
HOSTILE_NAME = "vqe \"step\" 'one'\n; rm -rf / $(touch x) `touch y`"
HOSTILE_ACCOUNT = "prop-17; rm -rf /"
ENVIRONMENT = {"PATH": "/usr/bin:/bin", "QCB_X": "a b"}


def hostile_spec() -> ClassicalSpec:
    return ClassicalSpec(
        name=HOSTILE_NAME,
        argv=["/bin/sh", "-c", "echo pwned; rm -rf / $(touch x)"],
        env={"EVIL": "$(touch x)", "ALSO": "`touch y`"},
        nodes=2,
        ntasks=4,
        cpus_per_task=2,
        mem_mb=1024,
        time_limit_s=90,
        partition="debug",
        account=HOSTILE_ACCOUNT,
    )


def check_golden(name: str, text: str) -> None:
    """``text`` equals the golden file ``name`` (rewritten first with QCB_UPDATE_GOLDEN=1)."""
    path = GOLDEN / name
    if UPDATE_GOLDEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"{path} is missing: run with QCB_UPDATE_GOLDEN=1 to write it"
    assert text == path.read_text(), f"{name} changed: if intended, run with QCB_UPDATE_GOLDEN=1"


def as_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=isinstance(value, dict)) + "\n"


def exec_line(script: str) -> str:
    lines = [line for line in script.splitlines() if line.startswith("exec ")]
    assert len(lines) == 1
    return lines[0]


# --- golden files -------------------------------------------------------------------------


def test_batch_script_matches_its_golden_file() -> None:
    check_golden("batch_script.sh", batch_script(PYTHON, WORKDIR))


def test_sbatch_argv_matches_its_golden_file() -> None:
    argv = sbatch_argv(
        hostile_spec(),
        WORKDIR,
        comment=COMMENT,
        account=HOSTILE_ACCOUNT,
    )
    check_golden("sbatch_argv.json", as_json(argv))


def test_sbatch_hands_over_its_own_environment_whole() -> None:
    """The job's variables come from sbatch's own environment (prepared by the caller), never
    from the command line, which every account can read in /proc; no list or NONE, which
    makes slurmd load a login environment that a nologin account does not have."""
    argv = sbatch_argv(hostile_spec(), WORKDIR, comment=COMMENT, account=None)
    exports = [a for a in argv if a.startswith("--export")]
    assert exports == ["--export=ALL"]


def test_rest_job_matches_its_golden_file() -> None:
    job = rest_job(
        hostile_spec(),
        WORKDIR,
        comment=COMMENT,
        account=HOSTILE_ACCOUNT,
        environment=ENVIRONMENT,
    )
    check_golden("rest_job.json", as_json(job))


# --- the batch script ---------------------------------------------------------------------


def test_the_batch_script_only_execs_the_runner_on_the_workdir() -> None:
    script = batch_script(PYTHON, WORKDIR)
    assert script.startswith("#!/bin/bash\n")
    assert shlex.split(exec_line(script)) == [
        "exec",
        PYTHON,
        "-m",
        "backends.local_runner",
        WORKDIR,
    ]
    commands = [line for line in script.splitlines() if line and not line.startswith("#")]
    assert commands == [exec_line(script)]


def test_nothing_from_the_task_spec_appears_in_the_batch_script() -> None:
    spec = hostile_spec()
    script = batch_script(PYTHON, WORKDIR)
    assert spec.argv is not None and spec.account is not None
    fragments = [spec.name, *spec.argv, *spec.env, *spec.env.values(), spec.account]
    fragments += ["rm -rf", "touch", "pwned", "$(", "`", "vqe", "step"]
    for fragment in fragments:
        assert fragment not in script, fragment


def test_the_batch_script_is_valid_bash() -> None:
    script = batch_script(PYTHON, WORKDIR)
    proc = subprocess.run(
        ["bash", "-n"], input=script, capture_output=True, text=True, check=False, timeout=30
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize(
    "workdir",
    [WORKDIR, "/scratch/$(touch w) `touch v` ; rm -rf nothing/t-2", "/tmp/a b\\c'$HOME'"],
)
def test_running_the_batch_script_passes_the_workdir_as_one_untouched_argument(
    tmp_path: Path, workdir: str
) -> None:
    """The script, run by bash with a stand-in for Python, hands it exactly the runner's
    arguments and runs nothing else (no file appears from a command substitution)."""
    record = tmp_path / "argv.json"
    fake_python = tmp_path / "python"
    fake_python.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "open(os.environ['ARGV_OUT'], 'w').write(json.dumps(sys.argv[1:]))\n"
    )
    fake_python.chmod(0o755)
    script = tmp_path / SCRIPT_NAME
    script.write_text(batch_script(str(fake_python), workdir))
    env = {"PATH": "/usr/bin:/bin", "ARGV_OUT": str(record), "HOME": "/nonexistent"}
    proc = subprocess.run(
        ["bash", str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(record.read_text()) == ["-m", "backends.local_runner", workdir]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["argv.json", "python", SCRIPT_NAME]
    )


# --- sbatch argv --------------------------------------------------------------------------


def test_sbatch_argv_keeps_the_name_as_one_element() -> None:
    argv = sbatch_argv(hostile_spec(), WORKDIR, comment=COMMENT, account=HOSTILE_ACCOUNT)
    assert argv.count(f"--job-name={HOSTILE_NAME}") == 1
    assert [a for a in argv if "rm -rf" in a] == [
        f"--job-name={HOSTILE_NAME}",
        f"--comment={COMMENT}",
        f"--account={HOSTILE_ACCOUNT}",
    ]
    assert argv[:2] == ["sbatch", "--parsable"]
    assert f"--chdir={WORKDIR}" in argv
    assert f"--output={WORKDIR}/{SLURM_OUT}" in argv
    assert argv[-1] == f"{WORKDIR}/{SCRIPT_NAME}"


def test_sbatch_argv_asks_for_the_task_size_and_limits() -> None:
    argv = sbatch_argv(hostile_spec(), WORKDIR, comment=COMMENT, account=None)
    for arg in (
        "--nodes=2",
        "--ntasks=4",
        "--cpus-per-task=2",
        "--mem=1024",
        "--time=3",  # 90 s + 60 s grace -> 3 min
        "--partition=debug",
        "--no-requeue",
    ):
        assert arg in argv
    assert not any(a.startswith("--account") for a in argv)


def test_sbatch_argv_leaves_out_what_the_spec_does_not_ask_for() -> None:
    argv = sbatch_argv(ClassicalSpec(argv=["true"]), "/w", comment="c", account=None)
    assert argv == [
        "sbatch",
        "--parsable",
        "--job-name=qcb-task",
        "--chdir=/w",
        "--output=/w/slurm.out",
        "--nodes=1",
        "--ntasks=1",
        "--cpus-per-task=1",
        "--comment=c",
        "--no-requeue",
        "--export=ALL",
        "/w/job.sh",
    ]


def test_sbatch_argv_caps_the_time_at_the_partition_limit() -> None:
    spec = ClassicalSpec(argv=["true"], time_limit_s=3600)
    argv = sbatch_argv(spec, "/w", comment="c", account=None, time_cap_s=1800)
    assert "--time=30" in argv


# --- time limits --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "cap_s", "minutes"),
    [
        (2, None, 2),  # 2 s + 60 s grace = 62 s -> 2 min
        (60, None, 2),
        (61, None, 3),
        (3600, None, 61),
        (3600, 1800, 30),  # capped by the partition's MaxTime
        (2, 1800, 2),  # under the cap: unchanged
        (1800, 1800, 30),
    ],
)
def test_time_limit_minutes(seconds: int, cap_s: int | None, minutes: int) -> None:
    spec = ClassicalSpec(argv=["true"], time_limit_s=seconds)
    assert time_limit_minutes(spec, cap_s) == minutes


def test_time_limit_minutes_without_grace_is_at_least_one_minute() -> None:
    spec = ClassicalSpec(argv=["true"], time_limit_s=2)
    assert time_limit_minutes(spec, grace_s=0) == 1


@pytest.mark.parametrize("cap_s", [None, 1800])
def test_no_time_limit_stays_none(cap_s: int | None) -> None:
    assert time_limit_minutes(ClassicalSpec(argv=["true"]), cap_s) is None


# --- launcher -----------------------------------------------------------------------------


def test_a_one_node_one_task_command_needs_no_launcher() -> None:
    spec = ClassicalSpec(argv=["true"])
    assert launcher(spec) == []
    assert launcher(spec, explicit=True) == []


@pytest.mark.parametrize("explicit", [False, True])
def test_an_entrypoint_task_needs_no_launcher(explicit: bool) -> None:
    spec = ClassicalSpec(entrypoint="pkg.mod:main", nodes=2, ntasks=4)
    assert launcher(spec, explicit=explicit) == []


@pytest.mark.parametrize(("nodes", "ntasks"), [(2, 1), (2, 2), (1, 4)])
def test_a_parallel_command_runs_under_srun(nodes: int, ntasks: int) -> None:
    assert launcher(ClassicalSpec(argv=["true"], nodes=nodes, ntasks=ntasks)) == ["srun"]


def test_an_explicit_launcher_spells_out_the_sizes_and_overlaps() -> None:
    spec = ClassicalSpec(argv=["true"], nodes=2, ntasks=4, cpus_per_task=3)
    assert launcher(spec, explicit=True) == [
        "srun",
        "--nodes=2",
        "--ntasks=4",
        "--cpus-per-task=3",
        "--overlap",
    ]


# --- limit_broken -------------------------------------------------------------------------

DEBUG = Partition(
    name="debug",
    default=True,
    total_nodes=3,
    max_nodes=3,
    max_time_s=1800,
    max_mem_per_node_mb=2048,
)
WIDE = Partition(name="wide", total_nodes=4, max_nodes=None)
LOOSE_CAP = Partition(name="loose", total_nodes=3, max_nodes=8)
DOWN = Partition(name="maint", total_nodes=3, state="DOWN")
PARTITIONS = [DEBUG, WIDE, LOOSE_CAP, DOWN]


def names_number(message: str, number: int) -> bool:
    return re.search(rf"(?<![\d.]){number}(?![\d.])", message) is not None


def spec_for(**fields: Any) -> ClassicalSpec:
    return ClassicalSpec(argv=["true"], **fields)


@pytest.mark.parametrize(
    "spec",
    [
        spec_for(),
        spec_for(nodes=3, time_limit_s=1800, mem_mb=2048),  # exactly at every limit
        spec_for(partition="debug", nodes=2, time_limit_s=60, mem_mb=512),
        spec_for(partition="wide", nodes=4, time_limit_s=10**6, mem_mb=10**6),
    ],
)
def test_a_task_that_fits_is_not_refused(spec: ClassicalSpec) -> None:
    assert limit_broken(spec, PARTITIONS) is None


def test_without_known_partitions_nothing_is_refused() -> None:
    assert limit_broken(spec_for(nodes=100, partition="nope"), []) is None


def test_too_many_nodes_for_max_nodes() -> None:
    message = limit_broken(spec_for(nodes=4), PARTITIONS)
    assert message is not None
    assert "'debug'" in message and "MaxNodes" in message
    assert names_number(message, 4) and names_number(message, 3)


@pytest.mark.parametrize(("partition", "total"), [("wide", 4), ("loose", 3)])
def test_too_many_nodes_for_the_partition_size(partition: str, total: int) -> None:
    message = limit_broken(spec_for(nodes=total + 1, partition=partition), PARTITIONS)
    assert message is not None
    assert f"'{partition}'" in message
    assert names_number(message, total + 1) and names_number(message, total)
    assert limit_broken(spec_for(nodes=total, partition=partition), PARTITIONS) is None


def test_too_much_time_for_max_time() -> None:
    message = limit_broken(spec_for(time_limit_s=1801), PARTITIONS)
    assert message is not None
    assert "MaxTime" in message and "'debug'" in message
    assert names_number(message, 1801) and names_number(message, 1800)
    assert "30 min" in message


def test_too_much_memory_for_max_mem_per_node() -> None:
    message = limit_broken(spec_for(mem_mb=4096), PARTITIONS)
    assert message is not None
    assert "MaxMemPerNode" in message and "'debug'" in message
    assert names_number(message, 4096) and names_number(message, 2048)


def test_an_unknown_partition_lists_the_partitions() -> None:
    message = limit_broken(spec_for(partition="gpu"), PARTITIONS)
    assert message is not None
    assert "'gpu'" in message and "does not exist" in message
    assert message.endswith("partitions: debug, wide, loose, maint")


def test_no_partition_and_no_default_lists_the_partitions() -> None:
    message = limit_broken(spec_for(), [WIDE, DOWN])
    assert message is not None
    assert "no default" in message
    assert message.endswith("partitions: wide, maint")


def test_a_down_partition_is_refused() -> None:
    message = limit_broken(spec_for(partition="maint"), PARTITIONS)
    assert message == "partition 'maint' is DOWN"


# --- rest_job -----------------------------------------------------------------------------


def test_rest_job_asks_for_nodes_as_a_min_max_string() -> None:
    job = rest_job(spec_for(nodes=2), "/w", comment="c", account=None, environment={"PATH": "/bin"})
    assert job["nodes"] == "2-2"
    assert isinstance(job["nodes"], str)


def test_rest_job_carries_the_task_and_passes_the_environment_through() -> None:
    spec = hostile_spec()
    job = rest_job(spec, WORKDIR, comment=COMMENT, account="prop-9", environment=ENVIRONMENT)
    assert job["environment"] == ENVIRONMENT
    assert "EVIL" not in job["environment"]  # the task's own env goes in spec.json, not here
    assert job["name"] == HOSTILE_NAME
    assert job["current_working_directory"] == WORKDIR
    assert job["standard_output"] == f"{WORKDIR}/{SLURM_OUT}"
    assert job["tasks"] == 4
    assert job["cpus_per_task"] == 2
    assert job["memory_per_node"] == 1024
    assert job["time_limit"] == 3  # minutes: 90 s + 60 s grace
    assert job["comment"] == COMMENT
    assert job["requeue"] is False
    assert job["partition"] == "debug"
    assert job["account"] == "prop-9"


def test_rest_job_time_limit_is_capped_in_minutes() -> None:
    spec = spec_for(time_limit_s=7200)
    job = rest_job(spec, "/w", comment="c", account=None, environment={}, time_cap_s=1800)
    assert job["time_limit"] == 30


def test_rest_job_leaves_out_what_is_not_given() -> None:
    job = rest_job(spec_for(), "/w", comment="c", account=None, environment={})
    assert job == {
        "name": "qcb-task",
        "current_working_directory": "/w",
        "standard_output": "/w/slurm.out",
        "nodes": "1-1",
        "tasks": 1,
        "cpus_per_task": 1,
        "comment": "c",
        "requeue": False,
        "environment": {},
    }

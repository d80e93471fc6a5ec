"""Slurm's records, parsed and mapped: job states and pending reasons to :class:`TaskState`,
compact host lists, OpenAPI v0.0.38 job and partition records, and ``scontrol`` partition
lines (the records are copied from a real cluster's ``squeue --json``, slurmrestd and
``scontrol show partition --oneliner``)."""

from __future__ import annotations

from typing import Any

import pytest

from backends.slurm.records import (
    _STATES,
    HOPELESS,
    REASONS,
    SlurmJob,
    expand_hostlist,
    parse_job,
    task_state,
)
from backends.states import TaskState

# Written out here, not derived from ``_STATES``, so that a changed mapping fails a test.
EXPECTED_STATES: dict[str, TaskState] = {
    "PENDING": TaskState.QUEUED,
    "CONFIGURING": TaskState.QUEUED,
    "REQUEUED": TaskState.QUEUED,
    "REQUEUE_FED": TaskState.QUEUED,
    "REQUEUE_HOLD": TaskState.QUEUED,
    "RESV_DEL_HOLD": TaskState.QUEUED,
    "SPECIAL_EXIT": TaskState.QUEUED,
    "RUNNING": TaskState.RUNNING,
    "COMPLETING": TaskState.RUNNING,
    "SIGNALING": TaskState.RUNNING,
    "STAGE_OUT": TaskState.RUNNING,
    "RESIZING": TaskState.RUNNING,
    "SUSPENDED": TaskState.RUNNING,
    "STOPPED": TaskState.RUNNING,
    "COMPLETED": TaskState.COMPLETED,
    "FAILED": TaskState.FAILED,
    "NODE_FAIL": TaskState.FAILED,
    "BOOT_FAIL": TaskState.FAILED,
    "OUT_OF_MEMORY": TaskState.FAILED,
    "DEADLINE": TaskState.TIMEOUT,
    "TIMEOUT": TaskState.TIMEOUT,
    "CANCELLED": TaskState.CANCELLED,
    "PREEMPTED": TaskState.CANCELLED,
    "REVOKED": TaskState.CANCELLED,
    "LAUNCH_FAILED": TaskState.FAILED,
    "RECONFIG_FAIL": TaskState.FAILED,
    "POWER_UP_NODE": TaskState.QUEUED,
    "UPDATE_DB": TaskState.RUNNING,
}


def job(state: str, **fields: Any) -> SlurmJob:
    return SlurmJob(job_id="42", state=state, **fields)


# --- task_state ---------------------------------------------------------------------------


def test_the_expected_table_covers_every_slurm_state_known_to_the_module() -> None:
    assert set(EXPECTED_STATES) == set(_STATES)


@pytest.mark.parametrize("slurm_state", sorted(EXPECTED_STATES))
def test_every_slurm_state_maps_to_its_task_state(slurm_state: str) -> None:
    state, message = task_state(job(slurm_state, exit_code=1))
    assert state is EXPECTED_STATES[slurm_state]
    if state in (TaskState.RUNNING, TaskState.COMPLETED):
        assert message == ""
    else:
        assert message  # every waiting or final-but-unsuccessful state says why


def test_pending_is_queued_with_the_reason_in_words() -> None:
    state, message = task_state(job("PENDING", reason="Resources"))
    assert state is TaskState.QUEUED
    assert message == f"pending: {REASONS['Resources']}"
    assert message == "pending: waiting for nodes to become free"


def test_pending_without_a_reason_is_just_pending() -> None:
    assert task_state(job("PENDING", reason="None")) == (TaskState.QUEUED, "pending")


def test_a_pending_reason_without_words_is_shown_as_slurm_says_it() -> None:
    state, message = task_state(job("PENDING", reason="QOSGrpCpuLimit"))
    assert state is TaskState.QUEUED
    assert message == "pending: QOSGrpCpuLimit"


@pytest.mark.parametrize("reason", sorted(REASONS))
def test_every_known_reason_that_can_clear_keeps_a_pending_job_queued(reason: str) -> None:
    state, message = task_state(job("PENDING", reason=reason))
    if reason in HOPELESS:
        assert state is TaskState.FAILED
    else:
        assert state is TaskState.QUEUED
        assert message.startswith("pending")
        assert REASONS[reason] in message


@pytest.mark.parametrize("reason", sorted(HOPELESS))
def test_a_hopeless_pending_reason_fails_the_task_naming_the_reason(reason: str) -> None:
    state, message = task_state(job("PENDING", reason=reason))
    assert state is TaskState.FAILED
    assert "never" in message
    assert f"({reason})" in message
    if reason in REASONS:
        assert REASONS[reason] in message


def test_running_and_completing_are_running() -> None:
    assert task_state(job("RUNNING")) == (TaskState.RUNNING, "")
    assert task_state(job("COMPLETING")) == (TaskState.RUNNING, "")


def test_completed_is_completed() -> None:
    assert task_state(job("COMPLETED", exit_code=0)) == (TaskState.COMPLETED, "")


@pytest.mark.parametrize("code", [1, 3, 255])
def test_failed_names_the_exit_code(code: int) -> None:
    assert task_state(job("FAILED", exit_code=code)) == (
        TaskState.FAILED,
        f"exited with code {code}",
    )


def test_failed_by_a_signal_names_the_signal() -> None:
    assert task_state(job("FAILED", exit_code=0, signal=9)) == (
        TaskState.FAILED,
        "killed by signal 9",
    )


def test_out_of_memory_is_a_failure_that_says_memory() -> None:
    state, message = task_state(job("OUT_OF_MEMORY", exit_code=0, signal=9))
    assert state is TaskState.FAILED
    assert "memory" in message


@pytest.mark.parametrize("slurm_state", ["NODE_FAIL", "BOOT_FAIL"])
def test_a_node_failure_is_a_failure_that_names_it(slurm_state: str) -> None:
    state, message = task_state(job(slurm_state))
    assert state is TaskState.FAILED
    assert "node failed" in message
    assert slurm_state in message


@pytest.mark.parametrize("slurm_state", ["TIMEOUT", "DEADLINE"])
def test_timeout_and_deadline_are_timeout_never_failed(slurm_state: str) -> None:
    # Even with a non-zero exit code or a signal, a time limit is not a failure.
    state, message = task_state(job(slurm_state, exit_code=0, signal=15))
    assert state is TaskState.TIMEOUT
    assert message == "killed at its time limit"


def test_cancelled_is_cancelled() -> None:
    assert task_state(job("CANCELLED")) == (TaskState.CANCELLED, "cancelled")


@pytest.mark.parametrize("slurm_state", ["PREEMPTED", "REVOKED"])
def test_preempted_and_revoked_are_cancelled_naming_why(slurm_state: str) -> None:
    assert task_state(job(slurm_state)) == (TaskState.CANCELLED, f"cancelled ({slurm_state})")


def test_cancelled_by_a_user_keeps_only_the_first_word_for_the_state() -> None:
    # sacct-style "CANCELLED by 1000": the state is the first word.
    state, _ = task_state(job("CANCELLED by 1000"))
    assert state is TaskState.CANCELLED


@pytest.mark.parametrize("slurm_state", ["UNKNOWN", "SOMETHING_NEW", "running"])
def test_an_unknown_state_is_a_failure(slurm_state: str) -> None:
    state, message = task_state(job(slurm_state, exit_code=2))
    assert state is TaskState.FAILED
    assert message == f"ended {(slurm_state.split() or ['UNKNOWN'])[0]} (exit code 2)"


def test_an_empty_state_is_a_failure_not_a_crash() -> None:
    assert task_state(job(""))[0] is TaskState.FAILED


# --- expand_hostlist ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "hosts"),
    [
        ("n1", ["n1"]),
        ("n[1-3]", ["n1", "n2", "n3"]),
        ("n[1-2,5]", ["n1", "n2", "n5"]),
        ("n[01-03]", ["n01", "n02", "n03"]),
        ("n[098-101]", ["n098", "n099", "n100", "n101"]),
        ("a1,b[2-3]", ["a1", "b2", "b3"]),
        ("n[1-3,5],m7", ["n1", "n2", "n3", "n5", "m7"]),
        ("gpu[1-2]-ib", ["gpu1-ib", "gpu2-ib"]),
        ("n[7]", ["n7"]),
        ("", []),
    ],
)
def test_expand_hostlist(text: str, hosts: list[str]) -> None:
    assert expand_hostlist(text) == hosts


# --- parse_job ----------------------------------------------------------------------------

# One job of ``squeue --json`` (Slurm 22.05, OpenAPI v0.0.38), trimmed of fields not read.
V0038_JOB: dict[str, Any] = {
    "account": "prop-17",
    "accrue_time": 1700000000,
    "admin_comment": "",
    "array_job_id": 0,
    "batch_flag": True,
    "batch_host": "n1",
    "comment": "qcbroker task t-1-abcd1234 account prop-17",
    "command": "/scratch/qcb/jobs/t-1-abcd1234/job.sh",
    "cpus": 2,
    "current_working_directory": "/scratch/qcb/jobs/t-1-abcd1234",
    "derived_exit_code": 0,
    "end_time": 1700000360,
    "exit_code": 768,
    "group_id": 1000,
    "job_id": 1234,
    "job_resources": {"nodes": "n[1-2]", "allocated_cores": 2},
    "job_state": "FAILED",
    "name": "vqe-step-3",
    "node_count": 2,
    "nodes": "n[1-2]",
    "partition": "debug",
    "priority": 4294901758,
    "requeue": False,
    "standard_output": "/scratch/qcb/jobs/t-1-abcd1234/slurm.out",
    "start_time": 1700000000,
    "state_description": "",
    "state_reason": "NonZeroExitCode",
    "submit_time": 1699999990,
    "tasks": 2,
    "time_limit": 2,
    "user_id": 1000,
    "user_name": "alice",
}


def test_parse_job_reads_a_v0038_record() -> None:
    parsed = parse_job(V0038_JOB)
    assert parsed.job_id == "1234"
    assert parsed.name == "vqe-step-3"
    assert parsed.state == "FAILED"
    assert parsed.reason == "NonZeroExitCode"
    assert parsed.partition == "debug"
    assert parsed.comment == "qcbroker task t-1-abcd1234 account prop-17"
    assert parsed.start_time == 1700000000
    assert parsed.end_time == 1700000360
    assert parsed.node_count == 2


def test_parse_job_splits_the_wait_status_into_exit_code_and_signal() -> None:
    parsed = parse_job(V0038_JOB)  # 768 == 3 << 8
    assert parsed.exit_code == 3
    assert parsed.signal is None
    assert task_state(parsed) == (TaskState.FAILED, "exited with code 3")


def test_parse_job_reads_a_signal_from_the_low_bits() -> None:
    parsed = parse_job({**V0038_JOB, "exit_code": 9})
    assert parsed.signal == 9
    assert parsed.exit_code == 0
    assert task_state(parsed) == (TaskState.FAILED, "killed by signal 9")


def test_parse_job_without_an_exit_code_has_none() -> None:
    record = {k: v for k, v in V0038_JOB.items() if k != "exit_code"}
    parsed = parse_job(record)
    assert parsed.exit_code is None
    assert parsed.signal is None


def test_parse_job_expands_the_node_list() -> None:
    assert parse_job(V0038_JOB).nodes == ["n1", "n2"]
    assert parse_job({**V0038_JOB, "nodes": ""}).nodes == []


def test_parse_job_node_hours_are_elapsed_times_nodes() -> None:
    parsed = parse_job(V0038_JOB)
    assert parsed.elapsed_s == 360.0
    assert parsed.node_hours == pytest.approx(360 * 2 / 3600)
    assert parsed.node_hours == pytest.approx(0.2)


def test_a_job_that_has_not_ended_has_no_elapsed_time_and_no_node_hours() -> None:
    parsed = parse_job({**V0038_JOB, "job_state": "RUNNING", "end_time": 0})
    assert parsed.elapsed_s is None
    assert parsed.node_hours == 0.0


def test_a_pending_job_defaults_its_reason_and_nodes() -> None:
    parsed = parse_job(
        {"job_id": 7, "job_state": "PENDING", "state_reason": "Priority", "nodes": None}
    )
    assert parsed.job_id == "7"
    assert parsed.nodes == []
    assert parsed.node_count == 0
    assert task_state(parsed) == (TaskState.QUEUED, "pending: " + REASONS["Priority"])
    assert parse_job({"job_id": 8, "job_state": "PENDING"}).reason == "None"


def _num(value: int, *, infinite: bool = False, is_set: bool = True) -> dict[str, Any]:
    return {"set": is_set, "infinite": infinite, "number": value}


def test_parse_job_reads_the_newer_set_infinite_number_form() -> None:
    record = {
        **V0038_JOB,
        "exit_code": _num(768),
        "node_count": _num(2),
        "start_time": _num(1700000000),
        "end_time": _num(1700000360),
    }
    parsed = parse_job(record)
    assert parsed.exit_code == 3
    assert parsed.signal is None
    assert parsed.node_count == 2
    assert parsed.start_time == 1700000000
    assert parsed.end_time == 1700000360
    assert parsed.node_hours == pytest.approx(0.2)


def test_an_unset_or_infinite_number_reads_as_missing() -> None:
    parsed = parse_job(
        {**V0038_JOB, "exit_code": _num(0, is_set=False), "end_time": _num(0, infinite=True)}
    )
    assert parsed.exit_code is None
    assert parsed.end_time == 0
    assert parsed.elapsed_s is None


# --- the list form of job_state and the object form of exit_code (v0.0.40 on) --------------


def _exit(code: int, signal: int = 0, status: str = "EXITED") -> dict[str, Any]:
    return {
        "status": [status],
        "return_code": _num(code),
        "signal": {"id": _num(signal, is_set=bool(signal)), "name": "KILL" if signal else ""},
    }


@pytest.mark.parametrize(
    ("job_state", "shown", "expected"),
    [
        (["COMPLETED"], "COMPLETED", TaskState.COMPLETED),
        (["RUNNING"], "RUNNING", TaskState.RUNNING),
        (["PENDING"], "PENDING", TaskState.QUEUED),
        (["CANCELLED", "COMPLETING"], "COMPLETING", TaskState.RUNNING),
        (["RUNNING", "CONFIGURING"], "CONFIGURING", TaskState.QUEUED),
        (["PENDING", "REQUEUED"], "REQUEUED", TaskState.QUEUED),
        (["PENDING", "POWER_UP_NODE"], "PENDING", TaskState.QUEUED),
        (["PENDING", "LAUNCH_FAILED"], "PENDING", TaskState.QUEUED),
        (["FAILED", "LAUNCH_FAILED"], "FAILED", TaskState.FAILED),
        (["TIMEOUT"], "TIMEOUT", TaskState.TIMEOUT),
        (["NODE_FAIL"], "NODE_FAIL", TaskState.FAILED),
        # Slurm checks COMPLETING before STAGE_OUT (job_state_string)
        (["COMPLETED", "STAGE_OUT", "COMPLETING"], "COMPLETING", TaskState.RUNNING),
    ],
)
def test_a_listed_job_state_shows_as_slurm_shows_it(
    job_state: list[str], shown: str, expected: TaskState
) -> None:
    parsed = parse_job({"job_id": 5, "job_state": job_state})
    assert parsed.state == shown
    assert parsed.base_state == job_state[0]
    assert parsed.flags == job_state[1:]
    assert task_state(parsed)[0] is expected


def test_the_exit_code_object_gives_code_and_signal() -> None:
    failed = parse_job({"job_id": 5, "job_state": ["FAILED"], "exit_code": _exit(3)})
    assert (failed.exit_code, failed.signal) == (3, None)
    assert task_state(failed) == (TaskState.FAILED, "exited with code 3")
    killed = parse_job({"job_id": 6, "job_state": ["FAILED"], "exit_code": _exit(0, 9, "SIGNALED")})
    assert (killed.exit_code, killed.signal) == (0, 9)
    assert task_state(killed) == (TaskState.FAILED, "killed by signal 9")


def test_an_exit_code_not_yet_known_reads_as_none() -> None:
    pending = {"status": ["PENDING"], "return_code": _num(0), "signal": {"id": _num(0)}}
    parsed = parse_job({"job_id": 5, "job_state": ["RUNNING"], "exit_code": pending})
    assert (parsed.exit_code, parsed.signal) == (None, None)


def test_raised_signal_reasons_read_in_words() -> None:
    parsed = parse_job(
        {"job_id": 5, "job_state": ["PENDING"], "state_reason": "RaisedSignal:9_Killed"}
    )
    assert task_state(parsed) == (TaskState.QUEUED, "pending: raised signal 9 Killed")

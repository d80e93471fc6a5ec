"""A job the controller has forgotten: slurmdbd's record answers, but only the record of a
job that ran in the task's own directory (a controller that lost its state numbers jobs
afresh, and slurmdbd still holds the earlier jobs of those numbers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backends.errors import NativeJobLost
from backends.slurm.accounting import AccountedJob, parse_accounting
from backends.slurm.common import PreparedJob, SlurmBackendBase
from backends.slurm.partitions import Partition
from backends.slurm.records import SlurmJob
from backends.states import TaskState

SACCT = Path(__file__).parents[3] / "data" / "slurm" / "24.11" / "sacct.json"


class ForgetfulSlurm(SlurmBackendBase):
    """A controller that knows no job, beside slurmdbd's records as 24.11 wrote them."""

    name = "forgetful"

    def __init__(self, records: dict[str, AccountedJob]) -> None:
        super().__init__(workdir="/tmp/qcb-unit-slurm")
        self.records = records

    def _submit_job(self, job: PreparedJob) -> str:
        raise AssertionError("not submitted in these tests")

    def _job(self, job_id: str) -> SlurmJob | None:
        return None

    def _cancel_job(self, job_id: str) -> None:
        raise AssertionError("not cancelled in these tests")

    def _read_partitions(self) -> list[Partition]:
        return []

    def _version(self) -> str:
        return "slurm 24.11.5"

    def _accounted(self, job_id: str) -> AccountedJob | None:
        return self.records.get(job_id)


@pytest.fixture
def records() -> dict[str, AccountedJob]:
    """24.11's accounting of the golden jobs, by id."""
    return parse_accounting(json.loads(SACCT.read_text()))


def job_of(records: dict[str, AccountedJob], name: str) -> AccountedJob:
    """The golden job whose name ends in ``name``."""
    return next(j for j in records.values() if j.name == f"qcb-golden-{name}")


def test_accounting_answers_for_a_job_that_ran_in_the_task_directory(
    records: dict[str, AccountedJob],
) -> None:
    failed = job_of(records, "failed")
    status = ForgetfulSlurm(records).status(f"{failed.job_id}@{failed.workdir}")
    assert status.state is TaskState.FAILED
    assert status.native_state == "FAILED"
    assert "exited with code 3" in status.message


def test_an_earlier_job_of_the_same_number_is_not_taken_for_the_task(
    records: dict[str, AccountedJob], tmp_path: Path
) -> None:
    """The task directory has no runner record either: the task is lost, not FAILED."""
    failed = job_of(records, "failed")
    with pytest.raises(NativeJobLost):
        ForgetfulSlurm(records).status(f"{failed.job_id}@{tmp_path}")


def test_the_result_charges_slurmdbd_node_hours_once(
    records: dict[str, AccountedJob],
) -> None:
    two = job_of(records, "completed_2_nodes")
    result = ForgetfulSlurm(records).result(f"{two.job_id}@{two.workdir}")
    assert result.nodes == two.nodes and len(result.nodes) == 2
    assert result.usage == {"node_hours": pytest.approx(two.elapsed_s * 2 / 3600)}


def test_of_two_records_of_one_number_the_later_submitted_counts() -> None:
    """slurmdbd lists both jobs of a number reused after the controller lost its state,
    in no promised order."""
    data = json.loads(SACCT.read_text())
    first, second = (dict(r) for r in data["jobs"][:2])
    second["job_id"] = first["job_id"]
    second["working_directory"] = "/tmp/qcb-slurm/jobs/later"
    second["time"] = {**first["time"], "submission": first["time"]["submission"] + 60}
    for records in ([first, second], [second, first]):
        (job,) = parse_accounting({"jobs": records}).values()
        assert job.workdir == second["working_directory"]
        assert job.submit_time == first["time"]["submission"] + 60

"""Dependencies between jobs (``dependency: afterok:ID``), run in this process: a job waits
for those it names, starts when they end as it asks, and is cancelled when they cannot."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from sqlalchemy import select

from backends.states import TaskState
from broker.accounting.explain import explain
from broker.config import Settings
from broker.core import dependencies
from broker.core.execution import Executor
from broker.core.orchestrator import Broker
from broker.core.queries import job_status
from broker.core.scheduler import Scheduler
from broker.errors import BrokerError, InvalidJob
from broker.jobfile import load_job
from broker.store.schema import ledger, tasks
from tests.conftest import EXAMPLES
from tests.unit.broker.core.test_orchestrator import drive


@pytest.fixture
def broker(settings: Settings) -> Broker:
    return Broker(settings)


def small(dependency: str | None = None) -> Any:
    spec = load_job(EXAMPLES / "vqe_h2.yaml", {"dependency": dependency})
    spec.algorithm.inputs["optimizer"]["maxiter"] = 2
    spec.algorithm.inputs["reference"] = False
    return spec


def released(broker: Broker) -> set[str]:
    """The jobs whose tasks one scheduler tick sends (which are then run here)."""
    sent: list[str] = []
    Scheduler(broker, lambda task_id, _queue: sent.append(task_id)).tick()
    with broker.db.read() as conn:
        jobs = set(conn.execute(select(tasks.c.job_id).where(tasks.c.id.in_(sent))).scalars())
    executor = Executor(broker, "test-worker")
    for task_id in sent:
        executor.execute(task_id)
    return jobs


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("aftrok:j-1", "did you mean 'afterok'"),
        ("after:j-1", "valid: afterany, afternotok, afterok"),
        ("afterok", "names no job"),
        ("afterok:", "names no job"),
        ("afterok:j-1?afterok:j-2", "'?' (any of several) is not offered"),
        ("afterok:j 1", "is not a job id"),
        ("afterok:" + ":".join(f"j-{i}" for i in range(101)), "at most 100"),
    ],
)
def test_a_malformed_dependency_says_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ValueError) as caught:
        dependencies.parse(text)
    assert says in str(caught.value)


@pytest.mark.parametrize("text", ["afterok:" + "x" * 5000, "a" * 5000 + ":j-1"])
def test_a_huge_refused_id_or_condition_is_clipped_in_the_message(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        dependencies.parse(text)
    assert len(str(caught.value)) < 200 and "…" in str(caught.value)


def test_a_dependency_parses_as_slurm_writes_it() -> None:
    found = dependencies.parse("afterok:j-1:j-2,afterany:j-3")
    assert [str(d) for d in found] == ["afterok:j-1", "afterok:j-2", "afterany:j-3"]


def test_a_job_file_with_a_bad_dependency_names_the_field(tmp_path: Any) -> None:
    job = tmp_path / "job.yaml"
    job.write_text((EXAMPLES / "vqe_h2.yaml").read_text() + "dependency: aftreok:j-1\n")
    with pytest.raises(InvalidJob) as caught:
        load_job(job)
    (problem,) = caught.value.problems
    assert problem.path == "dependency" and problem.line is not None
    assert "did you mean 'afterok'" in problem.message


def test_afterok_waits_then_starts_and_a_chain_follows(broker: Broker) -> None:
    first = broker.submit(small(), "alice")
    second = broker.submit(small(f"afterok:{first}"), "alice")
    third = broker.submit(small(f"afterok:{second}"), "alice")
    assert job_status(broker.db, second).waits_for == [f"afterok:{first}"]
    assert released(broker) == {first}  # the other two wait
    with pytest.raises(BrokerError, match=f"waits for afterok:{first}"):
        explain(broker, second, "alice")
    drive(broker, first)
    assert job_status(broker.db, second).waits_for == []
    drive(broker, second)
    drive(broker, third)
    for job_id in (first, second, third):
        assert job_status(broker.db, job_id).state == TaskState.COMPLETED


def test_a_dependency_that_can_never_be_met_cancels_the_chain(broker: Broker) -> None:
    first = broker.submit(small(), "alice")
    ok = broker.submit(small(f"afterok:{first}"), "alice")
    after_ok = broker.submit(small(f"afterany:{ok}"), "alice")
    not_ok = broker.submit(small(f"afternotok:{first}"), "alice")
    broker.cancel(first, "alice")
    gone = job_status(broker.db, ok)
    assert gone.state == TaskState.CANCELLED and set(gone.tasks) == {"CANCELLED"}
    assert f"dependency afterok:{first} can never be met: {first} ended CANCELLED" in (gone.message)
    with broker.db.read() as conn:
        kinds = [r.kind for r in conn.execute(select(ledger).where(ledger.c.job_id == ok))]
    assert kinds.count("release") == kinds.count("hold") >= 1  # its budget is free again
    # afterany is met by any end, cancelled included: the chain goes on from there
    assert job_status(broker.db, after_ok).waits_for == []
    assert job_status(broker.db, not_ok).waits_for == []
    drive(broker, not_ok)
    assert job_status(broker.db, not_ok).state == TaskState.COMPLETED


def test_only_your_own_jobs_that_can_still_meet_it_may_be_waited_for(broker: Broker) -> None:
    theirs = broker.submit(small(), "bob")
    with pytest.raises(InvalidJob, match=f"you have no job '{theirs}'") as caught:
        broker.submit(small(f"afterok:{theirs}"), "alice")
    assert caught.value.problems[0].path == "dependency"
    with pytest.raises(InvalidJob, match="you have no job 'j-000000000000'"):
        broker.submit(small("afterok:j-000000000000"), "alice")
    mine = broker.submit(small(), "alice")
    broker.cancel(mine, "alice")
    with pytest.raises(InvalidJob, match=f"can never be met: {mine} ended CANCELLED"):
        broker.submit(small(f"afterok:{mine}"), "alice")
    at_once = broker.submit(small(f"afternotok:{mine}"), "alice")  # met already
    assert job_status(broker.db, at_once).waits_for == []
    broker.cancel(theirs, "bob")  # older, and as well served: it would go first
    assert at_once in released(broker)


def test_a_chain_longer_than_the_recursion_limit_is_cancelled_whole(broker: Broker) -> None:
    chain = [broker.submit(small(), "alice")]
    for _ in range(150):
        chain.append(broker.submit(small(f"afterok:{chain[-1]}"), "alice"))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(120)  # below the chain's length: a recursive end would fail
    try:
        broker.cancel(chain[0], "alice")
    finally:
        sys.setrecursionlimit(limit)
    assert {job_status(broker.db, j).state for j in chain} == {TaskState.CANCELLED}

"""A researcher of proposal B, as hostile as can be, on every classical backend.

Bob's classical step prints its environment, reads the settings and backends files, walks
every folder it can, reads other processes' environments, tries the store and Redis with
every credential it found, lists and reads the task directory of a driver program of
alice's proposal A that runs at the same time, tries alice's driver token against the API,
writes outside its folder and removes a file of the broker's. The tests assert that nothing
secret or foreign came back (every planted secret is looked for in every result, log and
file the job left), that bob's job still completes, and that alice's job got exactly its
own tasks and charges.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from backends.states import TaskState
from broker.accounts import created_name
from broker.service.tokens import digest
from broker.store.db import Database
from broker.store.schema import audit, ledger, tasks
from broker.store.schema import tokens as tokens_table
from tests.conftest import SLURM_RUN
from tests.integration.security.conftest import PROGRAMS, Deployment
from tests.integration.service.conftest import logs

pytestmark = pytest.mark.integration

BACKENDS = ["local", "slurm", "slurmrest", "slurm-pilot"]
SLURM_RESOURCES = {"nodes": 1, "cpus_per_task": 1, "mem_mb": 512}
TOKEN = re.compile(r"qcb_[A-Za-z0-9_\-]{20,}")
TASK_VARIABLES = {"PATH", "HOME", "LANG", "USER", "LOGNAME", "QCB_TASK_ID", "QCB_TASK_DIR",
                  "PYTHONPATH"}  # fmt: skip


def job(proposal: str, backend: str, step: dict[str, Any]) -> dict[str, Any]:
    """A one-step graph job on ``backend``."""
    spec: dict[str, Any] = {
        "proposal": proposal,
        "backend": "aer",
        "classical_backend": backend,
        "seed": 7,
        "algorithm": {"name": "graph", "inputs": {"steps": [step]}},
    }
    if backend != "local":
        spec["classical_resources"] = SLURM_RESOURCES
    return spec


def driver_job(backend: str, release: Path) -> dict[str, Any]:
    """Alice's driver, which holds her job open until ``release`` exists."""
    return job("prop-a", backend, {
        "name": "run", "kind": "driver", "entrypoint": "patient_driver:run",
        "python_path": [str(PROGRAMS)], "payload": {"release": str(release)},
        "quantum": {"aer": {"evaluations": 10, "shots": 1000}}, "time_limit_s": 600,
    })  # fmt: skip


def hunter_job(proposal: str, backend: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Bob's hunt."""
    return job(proposal, backend, {
        "name": "hunt", "entrypoint": "hunter:hunt", "python_path": [str(PROGRAMS)],
        "payload": payload, "time_limit_s": 300,
    })  # fmt: skip


def rows(db: Database, job_id: str) -> list[Any]:
    with db.read() as conn:
        return list(conn.execute(select(tasks).where(tasks.c.job_id == job_id)).all())


def wait_until(what: str, check: Any, timeout: float = 180) -> Any:
    """Poll ``check`` until it returns something true; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def task_dir(native_id: str) -> Path:
    """A classical task's directory from its native id (``DIR`` or ``JOBID@DIR``)."""
    return Path(native_id.partition("@")[2] or native_id)


def hunt_payload(deployment: Deployment, victim_job: str, victim_dir: Path) -> dict[str, Any]:
    stack = deployment.stack
    port = int(str(stack.database_url).rsplit(":", 1)[1].split("/")[0])
    roots = [stack.settings.task_dir, SLURM_RUN / "jobs", SLURM_RUN / "pilots"]
    return {
        "read": [
            str(deployment.files["backends"]),
            str(deployment.files["settings"]),
            str(stack.workdir / "redis" / "redis.conf"),
            "/tmp/qcb-services/pg.url",
            "/tmp/qcb-services/env.sh",
            str(SLURM_RUN / "jwt.token"),
            str(SLURM_RUN / "jwt_hs256.key"),
            str(victim_dir / "spec.json"),
            str(victim_dir / "account.json"),
            str(victim_dir / "stdout"),
            "/etc/shadow",
        ],
        "list": [str(p) for p in (victim_dir, victim_dir / "work", *roots, stack.workdir)]
        + [str(SLURM_RUN / "state")],
        "scan": ["/tmp", "/var/tmp", "/dev/shm", "/run"],
        "postgres_port": port,
        "postgres_users": [str(stack.database_url).split("//", 1)[1].split(":", 1)[0]],
        "redis_port": stack.redis.port,
        "api": stack.url,
        "victim_job": victim_job,
        "write": [
            str(stack.settings.home / "planted"),
            str(stack.settings.task_dir / "planted"),
            str(victim_dir / "planted"),
            str(victim_dir / "work" / "planted"),
            str(deployment.canary),
            str(SLURM_RUN / "jobs" / "planted"),
        ],
        "remove": [str(deployment.canary)],
    }


def slurm_user(job_id: str) -> int:
    """The uid that Slurm ran a job as (``squeue --json`` keeps ended jobs an hour here)."""
    env = {**os.environ, "SLURM_CONF": str(SLURM_RUN / "slurm.conf")}
    out = subprocess.run(["squeue", "--json"], env=env, capture_output=True, text=True, check=True)
    record = next(j for j in json.loads(out.stdout)["jobs"] if str(j["job_id"]) == job_id)
    return int(record["user_id"])


def leaks(deployment: Deployment, texts: dict[str, str]) -> list[str]:
    """Every planted secret found in any of ``texts`` (where: which secret)."""
    return [
        f"{where}: {name}"
        for where, text in texts.items()
        for name, secret in deployment.secrets.items()
        if secret and secret in text
    ]


def left_behind(db: Database, job_id: str) -> dict[str, str]:
    """Everything a job left: its task rows, and every file of its task directories."""
    texts: dict[str, str] = {}
    for row in rows(db, job_id):
        texts[f"task {row.key}"] = json.dumps(
            {"payload": row.payload, "result": row.result, "message": row.message}, default=str
        )
        if row.kind == "classical" and row.native_id:
            for path in task_dir(row.native_id).rglob("*"):
                if path.is_file() and not path.is_symlink():
                    texts[str(path)] = path.read_text(errors="replace")
    return texts


def found_driver_tokens(db: Database, text: str) -> list[str]:
    """Tokens in ``text`` that the store knows (by their hash)."""
    with db.read() as conn:
        known = set(conn.execute(select(tokens_table.c.sha256)).scalars())
    return [t for t in set(TOKEN.findall(text)) if digest(t) in known]


@dataclass
class Hunt:
    """One round: alice's driver job, bob's hunting job, and what bob's step reported."""

    a_job: str
    b_job: str
    result: dict[str, Any]

    @property
    def report(self) -> dict[str, Any]:
        """The hunter's report (its step's output)."""
        found: dict[str, Any] = self.result["outputs"]["hunt"]
        return found


def hunt_beside_a_driver(deployment: Deployment, backend: str, db: Database) -> Hunt:
    """Start alice's driver, let bob hunt while it runs, then let it end; both complete."""
    stack = deployment.stack
    alice, bob = stack.client("alice"), stack.client("bob")
    release = deployment.release_dir / f"release-{backend}"
    a_job = alice.submit(driver_job(backend, release))

    def driver_running() -> Any:
        found = {r.key: r for r in rows(db, a_job)}
        state = alice.status(a_job)
        assert not TaskState(state.state).final, f"{state.state}: {state.message}{logs(stack)}"
        first = found.get("run/0001")
        return found["run"] if first is not None and first.state == TaskState.COMPLETED else None

    driver = wait_until("alice's driver to run its first task", driver_running)
    payload = hunt_payload(deployment, a_job, task_dir(driver.native_id))
    b_job = bob.submit(hunter_job("prop-b", backend, payload))
    b_status = bob.wait(b_job, timeout=300)
    release.touch()
    a_status = alice.wait(a_job, timeout=300)
    assert b_status.state == "COMPLETED", b_status.message
    assert a_status.state == "COMPLETED", a_status.message
    result = bob.result(b_job).result
    assert result is not None
    return Hunt(a_job, b_job, result)


def check_identity(report: dict[str, Any], backend: str, db: Database, b_job: str) -> None:
    """Bob's step ran as bob's account (Slurm says so too), from a clean environment."""
    bob_uid = pwd.getpwnam(created_name("bob", None)).pw_uid
    alice_uid = pwd.getpwnam(created_name("alice", None)).pw_uid
    assert report["uid"] == report["euid"] == bob_uid != alice_uid
    assert 0 not in (report["uid"], report["gid"], *report["groups"])
    assert {k for k in report["env"] if k.startswith("QCB_")} <= TASK_VARIABLES
    if backend in ("local", "slurm-pilot"):  # a pilot's tasks also see its allocation
        assert {k for k in report["env"] if not k.startswith("SLURM_")} <= TASK_VARIABLES
    if backend in ("slurm", "slurmrest"):  # Slurm's own record names the real user
        hunt_row = next(r for r in rows(db, b_job) if r.key == "hunt")
        assert slurm_user(hunt_row.native_id.partition("@")[0]) == bob_uid


def check_reached_nothing(report: dict[str, Any], deployment: Deployment) -> None:
    """No file, folder, environment, service or token of anyone else's was within reach."""
    assert report["read"] == {}, f"read: {sorted(report['read'])}"
    assert report["listed"] == {}, f"listed: {sorted(report['listed'])}"
    assert report["foreign_environ"] == []
    assert set(report["found"]) & set(deployment.secrets.values()) == set()
    assert report["postgres"] == []
    assert report["redis"] and all(a.startswith("-NOAUTH") for a in report["redis"])
    assert report["api"] == []
    assert report["wrote"] == [] and report["removed"] == []
    assert deployment.canary.read_text() == "the broker's file\n"


def check_nothing_left(deployment: Deployment, db: Database, hunt: Hunt) -> None:
    """No planted secret and no driver token in bob's result, tasks, files or any log."""
    stack = deployment.stack
    texts = left_behind(db, hunt.b_job)
    texts["bob's result"] = json.dumps(hunt.result)
    texts |= {f"log {name}": stack.log(name) for name in ("api", "scheduler", *stack.workers)}
    for log in (SLURM_RUN / "log").glob("*.log"):
        texts[str(log)] = log.read_text(errors="replace")
    assert leaks(deployment, texts) == []
    assert found_driver_tokens(db, json.dumps(texts)) == []


def check_alice_got_her_own(deployment: Deployment, db: Database, hunt: Hunt) -> None:
    """Alice's job: exactly her tasks, added by her driver, charged to her proposal."""
    a_rows = rows(db, hunt.a_job)
    assert sorted(r.key for r in a_rows) == ["run", "run/0001", "run/0002"]
    with db.read() as conn:
        added = conn.execute(select(audit).where(audit.c.action == "driver-submit")).all()
        charged = conn.execute(select(ledger).where(ledger.c.kind == "charge")).all()
    jobs = (hunt.a_job, hunt.b_job)
    assert sorted(a.detail["job"] for a in added if a.detail.get("job") in jobs) == [
        hunt.a_job,
        hunt.a_job,
    ]
    mine = {r.id for r in a_rows}
    assert {c.task_id for c in charged if c.job_id == hunt.a_job} == mine
    assert {c.proposal for c in charged if c.task_id in mine} == {"prop-a"}
    assert {c.proposal for c in charged if c.job_id == hunt.b_job} == {"prop-b"}
    outputs = deployment.stack.client("alice").result(hunt.a_job).result
    assert outputs is not None
    assert outputs["outputs"]["run"]["uid"] == pwd.getpwnam(created_name("alice", None)).pw_uid


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_hostile_tenant_gets_nothing_of_the_broker_or_of_others(
    deployment: Deployment, backend: str
) -> None:
    db = Database(deployment.stack.database_url)
    hunt = hunt_beside_a_driver(deployment, backend, db)
    check_identity(hunt.report, backend, db, hunt.b_job)
    check_reached_nothing(hunt.report, deployment)
    check_nothing_left(deployment, db, hunt)
    check_alice_got_her_own(deployment, db, hunt)
    db.dispose()


@pytest.mark.parametrize("backend", ["local", "slurm-pilot"])
def test_controlled_work_shares_no_account_or_pilot_with_open_work(
    deployment: Deployment, backend: str
) -> None:
    """Bob's export-controlled step cannot read what his open step left, runs as another
    account and, on pilots, in another pilot job."""
    bob = deployment.stack.client("bob")
    db = Database(deployment.stack.database_url)
    open_job = bob.submit(hunter_job("prop-b", backend, {}))
    assert bob.wait(open_job, timeout=300).state == "COMPLETED"
    open_report = bob.result(open_job).result["outputs"]["hunt"]
    open_dir = task_dir(rows(db, open_job)[0].native_id)
    probe = {"read": [str(open_dir / "work" / "output.json")], "list": [str(open_dir / "work")]}
    controlled_job = bob.submit(hunter_job("prop-x", backend, probe))
    status = bob.wait(controlled_job, timeout=300)
    assert status.state == "COMPLETED", status.message
    report = bob.result(controlled_job).result["outputs"]["hunt"]
    assert report["uid"] != open_report["uid"]
    assert pwd.getpwuid(report["uid"]).pw_name == created_name("bob", "export")
    assert report["read"] == {} and report["listed"] == {}
    if backend == "slurm-pilot":
        assert report["slurm_job"] and open_report["slurm_job"]
        assert report["slurm_job"] != open_report["slurm_job"]
        queues = {r.queue for r in rows(db, controlled_job)}
        assert queues == {"classical.slurm-pilot@export"}
    db.dispose()

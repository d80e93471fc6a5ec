"""Pilot jobs for real: tasks run inside them, they scale with the queue, leave when idle,
drain before their wall time, and are cancelled when the broker stops."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from broker import Client
from broker.config import Settings
from broker.core.orchestrator import Broker
from broker.processes.pilot_manager import PilotManager
from broker.store.db import Database
from broker.store.schema import tasks
from tests.conftest import SlurmCluster
from tests.integration.slurm.conftest import h2_job

pytestmark = pytest.mark.integration


def _backends_file(tmp_path: Path, cluster: SlurmCluster, **pilot: Any) -> Path:
    options = dict(cluster.options)
    options["slurm-pilot"] = {
        **options["slurm-pilot"],
        "workdir": str(tmp_path / "pilot-tasks"),
        **pilot,
    }
    path = tmp_path / "backends.yaml"
    path.write_text(yaml.safe_dump(options))
    return path


def _pilot_jobs(cluster: SlurmCluster, prefix: str) -> dict[str, str]:
    return {i: state for i, (name, state) in cluster.jobs().items() if name.startswith(prefix)}


def _pilot_stdout(pilots_dir: Path, job_id: str) -> str:
    """What an ended pilot printed (its runner records the Slurm job it ran in)."""
    for workdir in pilots_dir.iterdir():
        record = json.loads((workdir / "state.json").read_text())
        if record.get("slurm_job_id") == job_id:
            return (workdir / "stdout").read_text()
    raise AssertionError(f"no directory for pilot {job_id}")


LIVE = ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING")


class PilotCounter:
    """Samples this broker's pilot jobs in Slurm from a thread while a run goes on: the most
    that were live at once and every one ever seen (errors are kept for the test to raise)."""

    def __init__(self, cluster: SlurmCluster, prefix: str) -> None:
        self.cluster, self.prefix = cluster, prefix
        self.peak_live = 0
        self.seen: set[str] = set()
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            try:
                pilots = _pilot_jobs(self.cluster, self.prefix)
            except Exception as exc:  # collected: raised in the test's thread
                self.errors.append(exc)
                return
            self.seen |= set(pilots)
            self.peak_live = max(self.peak_live, sum(s in LIVE for s in pilots.values()))

    def __enter__(self) -> PilotCounter:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        if self.errors:
            raise self.errors[0]


def test_tasks_run_in_pilots_that_scale_with_the_queue_and_leave_when_idle(
    slurm_client: Client,
    slurm_cluster: SlurmCluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backends = _backends_file(
        tmp_path, slurm_cluster, max_pilots=2, slots=1, idle_s=3, walltime_s=600, drain_s=30
    )
    monkeypatch.setenv("QCB_BACKENDS_FILE", str(backends))
    client = Client()
    manager = PilotManager(Broker(client.settings), "slurm-pilot")
    slow = {"builder": "tests.integration.slurm.helpers:slow_h2", "args": {"seconds": 4}}
    inputs = {"problem": slow, "reference": False, "optimizer": {"name": "adam", "maxiter": 3}}
    with PilotCounter(slurm_cluster, manager.prefix) as counter:
        job_ids = [client.submit(h2_job("slurm-pilot", inputs=inputs)) for _ in range(2)]
        for job_id in job_ids:
            status = client.wait(job_id, timeout=180)
            assert status.state == "COMPLETED", status.message
    assert 1 <= counter.peak_live <= 2, "never more pilots at once than max_pilots"
    # Pilots leave when idle and come back for later steps; a pilot read as ended while it
    # runs (Slurm's record misread) makes every tick submit more: dozens in a run.
    assert len(counter.seen) <= 6, f"{len(counter.seen)} pilot jobs for 2 jobs"
    with Database(client.settings.store_url).read() as conn:
        rows = conn.execute(select(tasks).where(tasks.c.backend == "slurm-pilot")).all()
    used = set()
    for row in rows:
        assert "@" not in row.native_id, "ran inside a pilot, not as a Slurm job of its own"
        record = json.loads((Path(row.native_id) / "state.json").read_text())
        used.add(record["slurm_job_id"])
    pilots = _pilot_jobs(slurm_cluster, manager.prefix)
    assert used <= set(pilots), "every task ran inside one of this broker's pilots"
    assert len(used) == 2, "two open tasks with one slot each asked for two pilots"
    deadline = time.monotonic() + 60
    while any(
        s in ("PENDING", "RUNNING") for s in _pilot_jobs(slurm_cluster, manager.prefix).values()
    ):
        assert time.monotonic() < deadline, "idle burst pilots did not leave"
        time.sleep(0.5)
    for job_id in used:
        assert _pilot_jobs(slurm_cluster, manager.prefix)[job_id] == "COMPLETED"
        assert "idle for 3 s" in _pilot_stdout(tmp_path / "pilots", job_id)


def test_a_pilot_drains_before_its_wall_time(
    slurm_cluster: SlurmCluster, qcb_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backends = _backends_file(tmp_path, slurm_cluster, walltime_s=70, drain_s=64)
    monkeypatch.setenv("QCB_BACKENDS_FILE", str(backends))
    monkeypatch.setenv("SLURM_CONF", str(slurm_cluster.run / "slurm.conf"))
    manager = PilotManager(Broker(Settings()), "slurm-pilot")
    native = manager.submit(manager.open_queue, core=True)
    job_id = native.partition("@")[0]
    deadline = time.monotonic() + 40
    while slurm_cluster.job_state(job_id) in ("PENDING", "RUNNING", "COMPLETING"):
        assert time.monotonic() < deadline, "the pilot did not drain"
        time.sleep(0.5)
    assert slurm_cluster.job_state(job_id) == "COMPLETED"  # left by itself, before Slurm's limit
    assert "drained before the wall time" in _pilot_stdout(tmp_path / "pilots", job_id)


def test_stopping_the_broker_cancels_its_core_pilots(
    slurm_client: Client,
    slurm_cluster: SlurmCluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backends = _backends_file(tmp_path, slurm_cluster, min_pilots=1, walltime_s=600)
    monkeypatch.setenv("QCB_BACKENDS_FILE", str(backends))
    client = Client()
    inputs = {"reference": False, "optimizer": {"name": "adam", "maxiter": 2}}
    status = client.wait(client.submit(h2_job("slurm-pilot", inputs=inputs)), timeout=180)
    assert status.state == "COMPLETED", status.message
    prefix = PilotManager(Broker(client.settings), "slurm-pilot").prefix
    assert any(s == "RUNNING" for s in _pilot_jobs(slurm_cluster, prefix).values())
    assert client.shutdown()
    deadline = time.monotonic() + 30
    while any(s in LIVE for s in _pilot_jobs(slurm_cluster, prefix).values()):
        assert time.monotonic() < deadline, "a core pilot outlived its broker"
        time.sleep(0.5)
    assert set(_pilot_jobs(slurm_cluster, prefix).values()) <= {"CANCELLED", "COMPLETED"}

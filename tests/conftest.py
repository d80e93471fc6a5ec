"""Fixtures shared by every test: an isolated QCB_HOME per test, clean runtime stops, the
store database of the store tests, and the Slurm clusters."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from backends.slurm.accounting import AccountedJob, parse_accounting
from backends.slurm.records import parse_job
from broker.config import Settings
from broker.store.db import Database

ROOT = Path(__file__).resolve().parent.parent
TEST_ACCOUNT = "qcb-test"
EXAMPLES = ROOT / "examples"

# A Bell pair measured into c[0..1] (its CX is on line 6).
BELL = """OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
bit[2] c;
h q[0];
cx q[0], q[1];
c = measure q;
"""

H2_TERMS = [
    ("II", -1.052373245772859),
    ("IZ", 0.39793742484318045),
    ("ZI", -0.39793742484318045),
    ("ZZ", -0.01128010425623538),
    ("XX", 0.18093119978423156),
]


@pytest.fixture(scope="session")
def task_account() -> str | None:
    """The Unix account that backend tests run tasks as: one made for the tests when they run
    as root (a root broker never runs a task as root), None (the test's own) otherwise."""
    if os.geteuid() != 0:
        return None
    from broker.accounts import ensure_account

    ensure_account(TEST_ACCOUNT, "qcbroker tests")
    return TEST_ACCOUNT


@pytest.fixture(autouse=True)
def _reachable_tmp_path(request: pytest.FixtureRequest) -> None:
    """Let task accounts pass through this test's temporary folder (pytest makes it 0700),
    as they may through any folder a broker puts task directories or programs in."""
    if "tmp_path" in request.fixturenames:
        reachable(request.getfixturevalue("tmp_path"))


def reachable(path: Path) -> Path:
    """``path`` and the folders pytest made above it, opened to others for passing through
    (0711: not for listing)."""
    for folder in (path, *path.parents):
        if folder == Path(tempfile.gettempdir()) or folder == Path("/"):
            break
        if folder.stat().st_uid == os.geteuid():
            folder.chmod(folder.stat().st_mode | 0o711)
    return path


@pytest.fixture
def qcb_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh QCB_HOME (store, queue, logs) for this test; its runtime is stopped after."""
    home = tmp_path / "qcb-home"
    monkeypatch.setenv("QCB_HOME", str(home))
    monkeypatch.setenv("QCB_IDLE_SHUTDOWN_SECONDS", "20")
    for name in list(os.environ):
        if name.startswith("QCB_") and name not in ("QCB_HOME", "QCB_IDLE_SHUTDOWN_SECONDS"):
            monkeypatch.delenv(name)
    yield home
    from broker.processes import runtime

    runtime.stop(Settings())


@pytest.fixture
def settings(qcb_home: Path) -> Settings:
    """Settings pointing at this test's QCB_HOME."""
    return Settings()


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """The URL of an empty store database for this test: a SQLite file. The same tests run
    on PostgreSQL in the integration tier, where tests/integration/store/conftest.py gives
    a fresh PostgreSQL database instead."""
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
def open_db() -> Iterator[Callable[[str], Database]]:
    """Opens stores (``Database``), and disposes of their engines after the test."""
    opened: list[Database] = []

    def _open(url: str) -> Database:
        db = Database(url)
        opened.append(db)
        return db

    yield _open
    for db in opened:
        db.dispose()


SLURM_RUN = Path(os.environ.get("QCB_SLURM_RUN", "/tmp/qcb-slurm"))
# The Slurm releases every ``make test`` runs the Slurm suites against (docker/slurm/start.sh
# --release): 22.05 natively on Debian 12, the others in debootstrap chroots.
SLURM_RELEASES = os.environ.get("QCB_SLURM_RELEASES", "22.05,24.11,26.05").split(",")


def host_release() -> str:
    """The Slurm release of this machine's Debian (what start.sh starts by default)."""
    codename = ""
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            codename = line.partition("=")[2].strip('"')
    return {"bookworm": "22.05", "trixie": "24.11"}.get(codename, "26.05")


def release_run(release: str) -> Path:
    """The run directory start.sh uses for ``release``."""
    return SLURM_RUN if release == host_release() else Path(f"/tmp/qcb-slurm-{release}")


@dataclass
class SlurmCluster:
    """A real single-host Slurm of ``docker/slurm/start.sh``: its release, run directory,
    the qcbroker backend options it wrote, and helpers to ask Slurm directly (with that
    release's own tools: inside its chroot when it has one)."""

    run: Path
    options: dict[str, Any]
    release: str = "22.05"

    @property
    def backends_file(self) -> Path:
        """The backends file for this cluster, as the tests use it: tasks also find this
        checkout's test helpers (the backends' ``environment`` option, which a site uses for
        its own libraries: a task starts from nothing of the broker's environment)."""
        return self.run / "backends-tests.yaml"

    @property
    def chroot(self) -> str | None:
        """The directory tree holding this release's tools, or None (the host's)."""
        root = self.options.get("slurm", {}).get("chroot")
        return str(root) if root else None

    def tool(self, *argv: str) -> str:
        """Run a Slurm command-line tool against this cluster; its stdout."""
        env = {**os.environ, "SLURM_CONF": str(self.run / "slurm.conf")}
        command = ["chroot", self.chroot, *argv] if self.chroot else list(argv)
        return subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout

    def jobs(self) -> dict[str, tuple[str, str]]:
        """Every job the controller knows: id -> (name, state as Slurm's tools show it).
        JSON, because job names may hold newlines."""
        data = json.loads(self.tool("squeue", "--json", "--all", "--states=all"))
        parsed = [parse_job(record) for record in data["jobs"]]
        return {job.job_id: (job.name, job.state) for job in parsed}

    def active_jobs(self) -> dict[str, str]:
        """Jobs Slurm has not finished: id -> name."""
        active = ("PENDING", "RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED")
        return {i: name for i, (name, state) in self.jobs().items() if state in active}

    def accounted(self, job_id: str) -> AccountedJob:
        """slurmdbd's record of one job (``sacct --json``), once it has ended."""
        deadline = time.monotonic() + 30
        while True:
            records = parse_accounting(json.loads(self.tool("sacct", "--json", "-j", job_id)))
            record = records.get(job_id)
            if record is not None and record.ended:
                return record
            if time.monotonic() > deadline:
                raise AssertionError(f"slurmdbd has no end of job {job_id}: {record}")
            time.sleep(0.2)

    def job_state(self, job_id: str) -> str:
        """Slurm's state of one job (``""`` if the controller does not know it)."""
        return self.jobs().get(job_id, ("", ""))[1]

    def dead_daemons(self) -> list[str]:
        """The daemons whose recorded process is gone (start.sh records each one's PID)."""
        dead = []
        for pidfile in sorted((self.run / "pids").glob("*.pid")):
            try:
                os.kill(int(pidfile.read_text().split()[0]), 0)
            except (ValueError, IndexError, ProcessLookupError):
                dead.append(pidfile.stem)
            except PermissionError:
                pass
        return dead

    def ensure_up(self) -> None:
        """Restart any daemon that died, with a warning that keeps its log's last lines.

        slurmrestd died once in the middle of a full run (cause unknown): the warning shows
        why, instead of a dozen unrelated failures.
        """
        dead = self.dead_daemons()
        if not dead:
            return
        tails = []
        for name in dead:
            log = self.run / "log" / f"{name}.log"
            lines = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
            tails.append(f"--- {name}.log ---\n" + "\n".join(lines))
        warnings.warn(
            f"Slurm daemon(s) {', '.join(dead)} had died; restarted.\n" + "\n".join(tails),
            RuntimeWarning,
            stacklevel=2,
        )
        _start_slurm(self.release)

    def lose_controller_state(self) -> None:
        """Cancel what runs, stop slurmctld, delete its saved state, start it again (as
        after a lost disk or a new controller host): it forgets every job and numbers new
        ones from 1 again, while slurmdbd keeps the records of the old ones."""
        for job_id in self.active_jobs():
            self.tool("scancel", job_id)
        deadline = time.monotonic() + 30
        while self.active_jobs():
            assert time.monotonic() < deadline, f"jobs still run: {self.active_jobs()}"
            time.sleep(0.1)
        pid = int((self.run / "pids" / "slurmctld.pid").read_text().split()[0])
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while _alive(pid):
            assert time.monotonic() < deadline, "slurmctld did not stop"
            time.sleep(0.05)
        for saved in (self.run / "state").iterdir():
            if saved.is_dir():
                shutil.rmtree(saved)
            else:
                saved.unlink()
        _start_slurm(self.release)

    def node_states(self) -> dict[str, str]:
        """Each node's state as ``sinfo`` shows it (idle, mix, alloc, drain, down, ...)."""
        out = self.tool("sinfo", "-h", "-N", "-o", "%N %t")
        return dict(line.split() for line in out.splitlines() if line)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie counts as ended)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return status.rpartition(")")[2].split()[0] != "Z"


def _start_slurm(release: str) -> None:
    proc = subprocess.run(
        [str(ROOT / "docker" / "slurm" / "start.sh"), "--release", release],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, f"cannot start Slurm {release}:\n{proc.stdout}\n{proc.stderr}"


def start_cluster(release: str) -> SlurmCluster:
    """Start (idempotently) the cluster of ``release`` and describe it."""
    _start_slurm(release)
    run = release_run(release)
    options = yaml.safe_load((run / "backends.yaml").read_text())
    options.setdefault("local", {})
    for entry in options.values():
        entry["environment"] = {"PYTHONPATH": str(ROOT)}
    cluster = SlurmCluster(run=run, options=options, release=release)
    private_yaml(cluster.backends_file, options)
    return cluster


@pytest.fixture(scope="session")
def slurm_cluster() -> SlurmCluster:
    """The Slurm of this machine's Debian release, which ``make test`` starts; started here
    when it is not running (the start script is idempotent), never skipped. Suites that
    must hold on every release use :func:`slurm_release` instead."""
    return start_cluster(host_release())


@pytest.fixture(scope="session", params=SLURM_RELEASES)
def slurm_release(request: pytest.FixtureRequest) -> SlurmCluster:
    """Each supported Slurm release in turn (``QCB_SLURM_RELEASES``)."""
    return start_cluster(str(request.param))


def private_yaml(path: Path, data: Any) -> Path:
    """Write ``data`` as YAML into a file only its owner may read (as a backends file that
    holds credentials must be)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(data, handle)
    path.chmod(0o600)
    return path

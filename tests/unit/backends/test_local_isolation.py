"""``local`` (and so ``slurm-pilot``) keeps a task to its account, its folder and its own
variables, and the broker's records out of its reach."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from backends.base import ClassicalSpec
from backends.local import LocalBackend
from backends.states import TaskState
from backends.taskfiles import WORK

PLANTED = "planted-broker-secret-8d1f"


@pytest.fixture
def backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalBackend:
    monkeypatch.setenv("QCB_DATABASE_URL", f"postgresql://qcb:{PLANTED}@127.0.0.1/qcb")
    return LocalBackend(workdir=str(tmp_path / "tasks"), warm_runner=True)


def run(backend: LocalBackend, spec: ClassicalSpec, timeout: float = 60) -> str:
    native = backend.submit(spec, task_id="t-iso")
    deadline = time.monotonic() + timeout
    while not backend.status(native).state.final:
        assert time.monotonic() < deadline, "the task never finished"
        time.sleep(0.02)
    return native


def test_a_task_runs_as_its_account_with_only_its_variables(
    backend: LocalBackend, task_account: str | None
) -> None:
    spec = ClassicalSpec(
        argv=["sh", "-c", "id -u; env"],
        env={"MINE": "declared"},
        run_as=task_account,
        secret_env={"QCB_TOKEN": "qcb_only-for-the-process"},
    )
    native = run(backend, spec)
    result = backend.result(native)
    uid, *variables = result.stdout.splitlines()
    if task_account is None:
        pytest.fail("the isolation tests run as root (make test does)")
    assert int(uid) == pwd.getpwnam(task_account).pw_uid
    env = dict(v.split("=", 1) for v in variables if "=" in v)
    assert env["MINE"] == "declared" and env["QCB_TOKEN"] == "qcb_only-for-the-process"
    assert PLANTED not in result.stdout
    assert "QCB_DATABASE_URL" not in env
    for path in Path(native).rglob("*"):  # the secret reached the process, and no file
        if path.is_file() and path.name != "stdout":  # (but what the task printed itself)
            assert "qcb_only-for-the-process" not in path.read_text(errors="replace"), path


def test_a_task_cannot_touch_the_brokers_records_or_other_tasks(
    backend: LocalBackend, task_account: str | None
) -> None:
    if task_account is None:
        pytest.fail("the isolation tests run as root (make test does)")
    first = run(backend, ClassicalSpec(argv=["true"], run_as=task_account))
    probe = (
        f"ls {backend.root} && echo LISTED; "
        f"cat {first}/spec.json && echo READ; "
        f"ls {first}/{WORK} && echo ENTERED; "
        "echo forged > ../state.json && echo FORGED; "
        f"touch {backend.root}/planted && echo PLANTED; "
        "pwd"
    )
    native = run(backend, ClassicalSpec(argv=["sh", "-c", probe], run_as=task_account))
    result = backend.result(native)
    for word in ("LISTED", "READ", "FORGED", "PLANTED"):
        assert word not in result.stdout, result.stdout + result.stderr
    # the task shares its account with the first (same user): their folders are its own
    assert result.stdout.strip().endswith(f"{native}/{WORK}")
    assert backend.status(native).state is TaskState.COMPLETED
    assert json.loads((Path(native) / "state.json").read_text())["state"] == "COMPLETED"


def test_a_time_limit_stops_everything_the_task_started(
    backend: LocalBackend, task_account: str | None
) -> None:
    spec = ClassicalSpec(
        argv=["sh", "-c", "sleep 300 & echo $! > grandchild; sleep 300"],
        time_limit_s=1,
        run_as=task_account,
    )
    native = run(backend, spec)
    assert backend.status(native).state is TaskState.TIMEOUT
    grandchild = int((Path(native) / WORK / "grandchild").read_text())
    assert not psutil.pid_exists(grandchild) or (
        psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE
    )


def test_cancel_stops_the_task_and_what_it_started(
    backend: LocalBackend, task_account: str | None
) -> None:
    spec = ClassicalSpec(
        argv=["sh", "-c", "sleep 300 & echo $! > grandchild; sleep 300"], run_as=task_account
    )
    native = backend.submit(spec, task_id="t-cancel")
    marker = Path(native) / WORK / "grandchild"
    deadline = time.monotonic() + 30
    while not marker.exists() or not marker.read_text().strip():
        assert time.monotonic() < deadline, "the task never started its child"
        time.sleep(0.02)
    grandchild = int(marker.read_text())
    backend.cancel(native)
    assert backend.status(native).state is TaskState.CANCELLED
    assert not psutil.pid_exists(grandchild) or (
        psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE
    )


def test_an_entry_point_that_fails_says_why(
    backend: LocalBackend, task_account: str | None
) -> None:
    spec = ClassicalSpec(entrypoint="json:loads", payload="{not json", run_as=task_account)
    native = run(backend, spec)
    status = backend.status(native)
    assert status.state is TaskState.FAILED
    assert "JSONDecodeError" in status.message


def test_a_command_that_does_not_exist_says_so(
    backend: LocalBackend, task_account: str | None
) -> None:
    native = run(backend, ClassicalSpec(argv=["no-such-command-qcb"], run_as=task_account))
    status = backend.status(native)
    assert status.state is TaskState.FAILED
    assert "no-such-command-qcb" in status.message and "127" in status.message
    assert os.path.isdir(Path(native) / WORK)


def test_the_runner_itself_refuses_to_run_a_task_as_root(tmp_path: Path) -> None:
    """The last line of defence: a root runner given a task that names no account (a
    directory made by hand, not by a backend) records a refusal and runs nothing."""
    if os.geteuid() != 0:
        pytest.fail("the isolation tests run as root (make test does)")
    workdir = tmp_path / "t-root"
    (workdir / WORK).mkdir(parents=True)
    marker = tmp_path / "ran"
    spec = ClassicalSpec(argv=["touch", str(marker)])
    (workdir / "spec.json").write_text(spec.model_dump_json())
    proc = subprocess.run(
        [sys.executable, "-I", "-m", "backends.local_runner", str(workdir)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 126, proc.stderr
    record = json.loads((workdir / "state.json").read_text())
    assert record["state"] == "FAILED" and "refusing to run a task as root" in record["error"]
    assert not marker.exists()


def test_an_ordinary_users_broker_runs_tasks_as_that_user_from_nothing(
    tmp_path: Path, task_account: str | None
) -> None:
    """A broker run by an ordinary user (a laptop) runs its tasks as that user, with the
    same clean environment."""
    if task_account is None:
        pytest.fail("the isolation tests run as root (make test does)")
    account = pwd.getpwnam(task_account)
    home = tmp_path / "laptop"
    home.mkdir()
    os.chown(home, account.pw_uid, account.pw_gid)
    script = (
        "import json, os, time\n"
        "from backends.base import ClassicalSpec\n"
        "from backends.local import LocalBackend\n"
        f"os.environ['QCB_DATABASE_URL'] = 'sqlite:///{PLANTED}'\n"
        f"backend = LocalBackend(workdir={str(home / 'tasks')!r})\n"
        "native = backend.submit(ClassicalSpec(argv=['sh', '-c', 'id -u; env']), task_id='t')\n"
        "while not backend.status(native).state.final:\n"
        "    time.sleep(0.02)\n"
        "print(json.dumps(backend.result(native).stdout))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], user=account.pw_uid, group=account.pw_gid,
        extra_groups=[], env={"PATH": "/usr/bin:/bin", "HOME": str(home)}, cwd=home,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    uid, *variables = json.loads(proc.stdout).splitlines()
    assert int(uid) == account.pw_uid
    assert not [v for v in variables if PLANTED in v or v.startswith("QCB_DATABASE_URL")]

"""What a classical task starts from: a clean environment, an unprivileged account."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from backends.errors import BackendError
from backends.identity import (
    TaskAccount,
    account_for,
    check_declared,
    configured_environment,
    task_environment,
    unreachable,
)


def test_the_environment_is_built_from_nothing_of_the_brokers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("QCB_DATABASE_URL", "postgresql://qcb:planted-secret@db/qcb")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "planted-secret")
    env = task_environment(
        account=None,
        workdir=tmp_path,
        task_vars={"QCB_TASK_ID": "t-1"},
        configured={"PYTHONPATH": "/site/lib"},
        declared={"OMP_NUM_THREADS": "4"},
        secrets={"QCB_TOKEN": "qcb_abc"},
    )
    assert not [v for v in env.values() if "planted-secret" in v]
    assert set(env) == {
        "PATH", "HOME", "LANG", "USER", "LOGNAME",
        "QCB_TASK_ID", "PYTHONPATH", "OMP_NUM_THREADS", "QCB_TOKEN",
    }  # fmt: skip
    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)


def test_the_brokers_variables_win_over_the_jobs(tmp_path: Path) -> None:
    env = task_environment(
        account=None,
        workdir=tmp_path,
        task_vars={"QCB_TASK_ID": "t-1"},
        declared={"QCB_TASK_ID": "forged", "PATH": "/mine"},
    )
    assert env["QCB_TASK_ID"] == "t-1"
    assert env["PATH"] == "/mine"  # a job may choose its own PATH: it runs as its own account


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("SBATCH_ACCOUNT", "reserved"),
        ("SLURM_CONF", "reserved"),
        ("QCB_TOKEN", "reserved"),
        ("qcb_token", "reserved"),
        ("1ABC", "not a valid variable name"),
        ("A=B", "not a valid variable name"),
    ],
)
def test_a_job_may_not_declare_reserved_or_malformed_variables(name: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        check_declared({name: "x"})


def test_a_nul_in_a_value_is_refused() -> None:
    with pytest.raises(ValueError, match="NUL"):
        check_declared({"OK": "a\0b"})


def test_an_operators_environment_option_is_checked() -> None:
    assert configured_environment("local", {"PYTHONPATH": "/x", "N": 3}) == {
        "PYTHONPATH": "/x",
        "N": "3",
    }
    with pytest.raises(BackendError, match="not valid variable"):
        configured_environment("local", {"BAD NAME": "x"})
    with pytest.raises(BackendError, match="must map names"):
        configured_environment("local", ["PATH"])


def test_root_is_never_an_account_to_run_tasks_as() -> None:
    with pytest.raises(BackendError, match="root"):
        TaskAccount.lookup("root")


def test_an_unknown_account_says_how_to_make_one() -> None:
    with pytest.raises(BackendError, match="no Unix account 'qcb-no-such-user'") as info:
        TaskAccount.lookup("qcb-no-such-user")
    assert "qcb accounts create" in str(info.value)


def test_a_task_without_an_account_runs_as_root_never() -> None:
    if os.geteuid() == 0:
        with pytest.raises(BackendError, match="refusing to run a task as root"):
            account_for(None)
    else:
        assert account_for(None) is None  # an ordinary user's broker: the user's own


def test_a_task_account_is_unprivileged(task_account: str | None) -> None:
    if task_account is None:
        pytest.fail("the isolation tests run as root (make test does)")
    account = TaskAccount.lookup(task_account)
    assert account.uid != 0 and 0 not in account.groups and account.uid != os.geteuid()


def test_unreachable_names_the_first_closed_folder(tmp_path: Path) -> None:
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    (tmp_path / "a").chmod(0o700)
    assert unreachable(inner) == tmp_path / "a"
    (tmp_path / "a").chmod(0o711)
    assert unreachable(inner) is None

"""Which Unix account runs whose tasks: one host (create), a facility (same-name, a map)."""

from __future__ import annotations

import os
import pwd
import re
import textwrap
from pathlib import Path

import pytest

from broker.accounts import Accounts, created_name, mode_of
from broker.errors import BrokerError
from tests.conftest import ROOT


def test_open_and_controlled_work_get_different_accounts() -> None:
    assert created_name("alice", None) == "qcb-alice"
    controlled = created_name("alice", "export")
    assert controlled.startswith("qcbx-") and controlled != created_name("alice", "other")
    assert controlled != created_name("bob", "export")


def test_names_that_are_not_unix_names_are_hashed_apart() -> None:
    odd = created_name("Alice Smith@lab", None)
    assert odd.startswith("qcbh-") and len(odd) <= 32
    assert odd != created_name("alice smith@lab", None)
    assert created_name("qcbh-x", None) == "qcb-qcbh-x"  # no user can take a hashed name


def test_auto_is_create_for_root_and_self_otherwise() -> None:
    assert mode_of("auto") == ("create" if os.geteuid() == 0 else "self")
    assert mode_of("/etc/qcb/accounts.yaml") == "map"


def test_self_is_refused_to_a_root_broker() -> None:
    if os.geteuid() != 0:
        assert Accounts("self").account("alice", None) is None
        return
    with pytest.raises(BrokerError, match="tasks would run as root"):
        Accounts("self")


def test_same_name_maps_open_work_and_refuses_controlled_work() -> None:
    accounts = Accounts("same-name")
    assert accounts.account("alice", None) == "alice"
    with pytest.raises(BrokerError, match="would share the account of open work"):
        accounts.account("alice", "export")


def test_a_mapping_file_with_a_controlled_section(tmp_path: Path) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text(
        "default: same-name\nusers: {bob: bsmith}\ncontrolled:\n  export: {alice: alice-ec}\n"
    )
    accounts = Accounts(str(path))
    assert accounts.account("bob", None) == "bsmith"
    assert accounts.account("carol", None) == "carol"
    assert accounts.account("alice", "export") == "alice-ec"
    with pytest.raises(BrokerError, match=r"controlled domain 'export'") as info:
        accounts.account("bob", "export")
    assert "controlled: {export: {bob: ACCOUNT}}" in str(info.value)


def test_a_mapping_file_that_refuses_unknown_users(tmp_path: Path) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text("users: {bob: bsmith}\n")
    with pytest.raises(BrokerError, match="no account for broker user 'eve'"):
        Accounts(str(path)).account("eve", None)


def test_a_bad_mapping_file_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "accounts.yaml"
    path.write_text("default: everyone-is-root\n")
    with pytest.raises(BrokerError, match="default"):
        Accounts(str(path))
    with pytest.raises(BrokerError, match="cannot read the task accounts file"):
        Accounts(str(tmp_path / "missing.yaml"))


def test_create_makes_an_unprivileged_account_without_a_login() -> None:
    if os.geteuid() != 0:
        pytest.fail("the isolation tests run as root (make test does)")
    name = Accounts("create").account("qcb-unit-test-user", None)
    assert name is not None
    entry = pwd.getpwnam(name)
    assert entry.pw_uid != 0 and entry.pw_shell.endswith("nologin")
    assert Accounts("create").account("qcb-unit-test-user", None) == name  # idempotent


def test_the_readmes_mapping_file_means_what_it_says(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", readme, re.S) if "controlled:" in b)
    path = tmp_path / "accounts.yaml"
    path.write_text(textwrap.dedent(block))
    accounts = Accounts(str(path))
    assert accounts.account("asmith", None) == "alice"
    assert accounts.account("asmith", "export") == "alice-ec"
    assert accounts.account("carol", None) == "carol"
    with pytest.raises(BrokerError, match="controlled domain"):
        accounts.account("carol", "export")


def test_any_user_name_makes_a_valid_account(tmp_path: Path) -> None:
    """A user name with a colon or a newline (legal for the broker, not in /etc/passwd)
    still gets an account, hashed, with a comment useradd takes."""
    if os.geteuid() != 0:
        pytest.fail("the isolation tests run as root (make test does)")
    user = "evil:0:0::/:/bin/sh\nroot"
    name = Accounts("create").account(user, "ex:port")
    assert name is not None and name.startswith("qcbx-")
    entry = pwd.getpwnam(name)
    assert entry.pw_uid != 0 and ":" not in entry.pw_gecos and "\n" not in entry.pw_gecos

"""The policy in force: the store's history decides, new revisions hot-reload, a refused
revision leaves the running one in force, and the history cannot be rewritten."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError

from broker.accounting import policy_source
from broker.client import Client
from broker.config import DEFAULT_POLICY, Settings
from broker.core.orchestrator import Broker
from broker.store.audit import record_audit
from broker.store.schema import audit, policy_revisions
from policies.errors import PolicyError


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(DEFAULT_POLICY.read_text())
    return path


@pytest.fixture
def client(settings: Settings, policy_file: Path, monkeypatch: pytest.MonkeyPatch) -> Client:
    monkeypatch.setattr(policy_source, "CHECK_SECONDS", 0.0)
    return Client(settings.model_copy(update={"policy_file": policy_file}), user="carol")


def test_the_policy_file_is_the_first_revision_and_is_recorded_once(client: Client) -> None:
    first = client.policy()
    history = client.policy_history()
    assert [r.revision for r in history] == [first.revision]
    assert history[0].author == "policy file" and history[0].source.startswith("file:")
    Broker(client.settings).policy  # noqa: B018 - a second process reads the same file
    assert len(client.policy_history()) == 1


def test_reading_the_policy_file_again_records_nothing_new(
    client: Client, policy_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.policy()
    monkeypatch.chdir(policy_file.parent)
    for path in (Path(policy_file.name), policy_file, Path(".") / policy_file.name):
        for _ in range(3):  # each a process that reads QCB_POLICY_FILE afresh
            Broker(client.settings.model_copy(update={"policy_file": path})).policy  # noqa: B018
    assert len(client.policy_history()) == 1


def test_apply_records_author_and_reason_and_every_process_sees_it(
    client: Client, policy_file: Path, tmp_path: Path
) -> None:
    other = Broker(client.settings)  # another process, already running
    before = other.policy.revision
    new = tmp_path / "new.yaml"
    new.write_text(policy_file.read_text().replace('revision: "1"', 'revision: "2"'))
    number, loaded = client.apply_policy(new, "raise nothing, relabel")
    assert number == 2 and loaded.revision.startswith("local-default@2+")
    last = client.policy_history()[-1]
    assert (last.author, last.reason, last.source) == ("carol", "raise nothing, relabel", "apply")
    assert other.policy.revision == loaded.revision != before  # hot reload, no restart


def test_a_refused_revision_leaves_the_running_one_in_force(
    client: Client, policy_file: Path, tmp_path: Path
) -> None:
    running = client.policy().revision
    broken = tmp_path / "broken.yaml"
    broken.write_text(policy_file.read_text().replace("units: [core_hours]", "units: [parsecs]"))
    with pytest.raises(PolicyError, match=r"backends\.local\.units\[0\]"):
        client.apply_policy(broken, "oops")
    with pytest.raises(PolicyError, match="reason is required"):
        client.apply_policy(policy_file, "  ")
    # the policy file itself turns bad: logged, not applied
    policy_file.write_text("apiVersion: qcbroker/v1\nkind: [Policy\n")
    time.sleep(0.01)
    assert client.policy().revision == running
    assert len(client.policy_history()) == 1


def test_a_changed_policy_file_becomes_a_new_revision(client: Client, policy_file: Path) -> None:
    client.policy()
    time.sleep(0.01)
    policy_file.write_text(policy_file.read_text() + "\n# edited\n")
    assert client.policy().revision != client.policy_history()[0].revision
    assert [r.reason.split()[-1] for r in client.policy_history()] == [
        str(policy_file),
        "changed",
    ]


def test_history_and_audit_are_append_only(client: Client) -> None:
    client.policy()
    broker = Broker(client.settings)
    with broker.db.write() as conn:
        record_audit(conn, "carol", "test", "x")
    for table in (policy_revisions, audit):
        with pytest.raises(DBAPIError, match="append-only"), broker.db.write() as conn:
            conn.execute(update(table).values(id=99))
        with pytest.raises(DBAPIError, match="append-only"), broker.db.write() as conn:
            conn.execute(table.delete())


def test_a_store_from_an_earlier_version_gains_the_new_columns(settings: Settings) -> None:
    settings.home.mkdir(parents=True)
    db = sqlite3.connect(settings.home / "qcb.sqlite")
    db.execute("CREATE TABLE tasks (id VARCHAR(32) PRIMARY KEY, job_id VARCHAR(32))")
    db.commit()
    db.close()
    broker = Broker(settings)
    with broker.db.read() as conn:
        columns = {r[1] for r in conn.exec_driver_sql("PRAGMA table_info(tasks)")}
    assert {"size", "native_id", "run_seconds"} <= columns

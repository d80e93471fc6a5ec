"""``qcb fairshare`` and ``qcb priority`` (embedded, and through the CLI): the tree's rows
and the factors the engine uses (who sees which rows through the API:
tests/unit/broker/api/test_shares_api.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from broker.cli.main import cli
from broker.client import Client
from broker.config import Settings
from broker.errors import NotFound
from tests.unit.broker.accounting.test_usage_explain import run_to_end, small_job
from tests.unit.broker.api.conftest import POLICY

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def client(settings: Settings, tmp_path: Path) -> Client:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    return Client(
        settings.model_copy(update={"policy_file": policy}), autostart=False, user="alice"
    )


def submit(client: Client, user: str, proposal: str) -> str:
    spec = small_job()
    spec.proposal = proposal  # type: ignore[attr-defined]
    return Client(client.settings, autostart=False, user=user).submit(spec)


def test_the_tree_counts_every_member_and_ties_those_who_used_nothing(client: Client) -> None:
    run_to_end(client, submit(client, "alice", "chem"))
    rows = {(r.level, r.name, r.proposal): r for r in client.fairshare("aer")}
    users = {
        (name, proposal): r.fairshare
        for (level, name, proposal), r in rows.items()
        if level == "user"
    }
    # chem, bio, tiny: their PIs and members, whether they have anything pending or not
    assert set(users) == {
        ("alice", "chem"),
        ("carol", "chem"),
        ("bob", "bio"),
        ("dave", "bio"),
        ("alice", "tiny"),
    }
    assert users[("bob", "bio")] == users[("dave", "bio")] == 1.0  # tied: no usage
    assert users[("alice", "chem")] < users[("carol", "chem")] < 1.0
    chem = rows[("proposal", "chem", "chem")]
    assert chem.raw_usage > 0 and chem.level_fs is not None
    assert rows[("proposal", "bio", "bio")].level_fs is None  # infinite: nothing used
    with pytest.raises(NotFound, match="no backend 'qpu'"):
        client.fairshare("qpu")


def test_priority_lists_each_pending_task_with_the_factors_the_tree_gives(
    client: Client,
) -> None:
    run_to_end(client, submit(client, "alice", "chem"))
    submit(client, "alice", "chem")
    submit(client, "bob", "bio")
    rows = client.priority()
    assert [r.priority for r in rows] == sorted((r.priority for r in rows), reverse=True)
    tree = {
        (r.backend, r.proposal, r.name): r.fairshare
        for r in client.fairshare()
        if r.level == "user"
    }
    for r in rows:
        assert r.factors["fairshare"] == tree[(r.backend, r.proposal, r.user)]
        assert r.priority == pytest.approx(sum(r.weighted.values()))
    assert rows[0].user == "bob"  # bio used nothing: its tasks lead


def test_the_cli_prints_the_tree_and_the_queue(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_to_end(client, submit(client, "alice", "chem"))
    submit(client, "bob", "bio")
    monkeypatch.setenv("QCB_POLICY_FILE", str(client.settings.policy_file))
    monkeypatch.setenv("COLUMNS", "200")  # as wide as sprio -l wants
    runner = CliRunner()
    shown = runner.invoke(cli, ["fairshare", "--backend", "aer"])
    assert shown.exit_code == 0, shown.output
    assert "Fair Tree of aer" in shown.output and "carol" in shown.output
    data = json.loads(runner.invoke(cli, ["fairshare", "--json"]).output)
    assert {r["level"] for r in data} == {"root", "program", "proposal", "user"}
    queue = runner.invoke(cli, ["priority"])
    assert queue.exit_code == 0 and "bob" in queue.output and "fairshare" in queue.output
    unknown = runner.invoke(cli, ["fairshare", "-b", "qpu"])
    assert unknown.exit_code != 0 and "the policy's backends: aer, local" in unknown.output

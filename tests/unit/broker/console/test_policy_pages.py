"""The committee's policy page in this process: errors at their lines, apply only with a
reason, the history with its diffs (no server path), and nobody else may open it."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

from broker.console.policy_pages import problems_at_lines
from policies.errors import PolicyError
from tests.unit.broker.api.conftest import POLICY
from tests.unit.broker.console.conftest import Api, log_in


def test_errors_at_their_lines() -> None:
    exc = PolicyError("x", ["b: worse (line 9)", "a: bad (line 3)", "whole: no line"])
    assert problems_at_lines(exc) == [(None, "whole: no line"), (3, "a: bad"), (9, "b: worse")]


def test_check_apply_and_history(api: Api) -> None:
    client = TestClient(api.client.app)
    csrf = log_in(client, api.secrets["erin"])
    bad = POLICY.replace("pi: dave", "pi: dave\n    colour: red")
    line = bad.splitlines().index("    colour: red") + 1
    answer = client.post("/ui/policy", data={"csrf": csrf, "text": bad, "action": "validate"})
    assert answer.status_code == 422
    assert re.findall(r'<li id="line-(\d+)" class="bad">', answer.text) == [str(line)]
    new = POLICY.replace('revision: "1"', 'revision: "2"').replace("amount: 2}", "amount: 5}")
    unexplained = client.post("/ui/policy", data={"csrf": csrf, "text": new, "action": "apply"})
    assert unexplained.status_code == 422 and "needs a reason" in unexplained.text
    assert (
        api.client.get("/v1/policy", headers=api.auth("erin"))
        .json()["revision"]
        .startswith("api-test@1+")
    )
    applied = client.post(
        "/ui/policy", data={"csrf": csrf, "text": new, "action": "apply", "reason": "more"}
    )
    text = html.unescape(applied.text)
    assert "Revision 2 is in force now" in text and "amount 2 -> 5" in text
    assert str(api.settings.policy_file) not in text and "policy.yaml" in text
    assert (
        api.client.get("/v1/policy", headers=api.auth("erin"))
        .json()["revision"]
        .startswith("api-test@2+")
    )
    assert api.audit("policy-apply")[-1].actor == "erin"


def test_only_committee_and_admins(api: Api) -> None:
    seen = {}
    for user in ("alice", "carol", "erin", "root"):
        client = TestClient(api.client.app)
        csrf = log_in(client, api.secrets[user])
        listed = 'href="/ui/policy"' in client.get("/ui/").text
        opened = client.get("/ui/policy").status_code
        applied = client.post(
            "/ui/policy", data={"csrf": csrf, "text": POLICY, "action": "apply", "reason": "x"}
        ).status_code
        seen[user] = (listed, opened, applied)
    assert seen == {
        "alice": (False, 403, 403),
        "carol": (False, 403, 403),
        "erin": (True, 200, 200),
        "root": (True, 200, 200),
    }

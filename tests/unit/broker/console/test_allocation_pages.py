"""The allocation pages in this process: each role sees the proposals the API shows it,
in usage and in the Fair Tree, and the queue page answers for everyone."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.unit.broker.console.conftest import Api, job_body, log_in


def test_usage_and_fairshare_show_what_the_api_shows(api: Api) -> None:
    api.submit("alice", "chem")
    seen = {}
    for user in ("alice", "bob", "erin"):
        client = TestClient(api.client.app)
        log_in(client, api.secrets[user])
        usage = client.get("/ui/usage")
        headings = set(re.findall(r'<h2 id="p-\d+">(\w+)', usage.text))
        from_api = {
            u["proposal"] for u in api.client.get("/v1/usage", headers=api.auth(user)).json()
        }
        tree = client.get("/ui/fairshare").text
        names = set(re.findall(r'class="level-proposal">(\w+)<', tree))
        api_tree = api.client.get("/v1/fairshare", headers=api.auth(user)).json()
        seen[user] = (
            headings == from_api,
            names == {r["name"] for r in api_tree if r["level"] == "proposal"},
            sorted(headings),
        )
        assert client.get("/ui/queue").status_code == 200
    assert seen == {
        "alice": (True, True, ["chem", "tiny"]),
        "bob": (True, True, ["bio"]),
        "erin": (True, True, ["bio", "chem", "tiny"]),
    }
    chem = TestClient(api.client.app)
    log_in(chem, api.secrets["alice"])
    assert "<svg" in chem.get("/ui/usage").text  # a burn-down per budget


def test_explain_says_why_a_task_waits_and_only_to_whom_it_may(api: Api) -> None:
    first = api.submit("alice", "chem")
    body = {**job_body("chem"), "dependency": f"afterok:{first}"}
    answer = api.client.post("/v1/jobs", json=body, headers=api.auth("alice"))
    waiting = answer.json()["id"]
    mine = TestClient(api.client.app)
    log_in(mine, api.secrets["alice"])
    page = mine.get(f"/ui/explain/{waiting}")
    assert page.status_code == 200
    assert f"waits for afterok:{first}" in page.text
    other = TestClient(api.client.app)
    log_in(other, api.secrets["bob"])
    assert other.get(f"/ui/explain/{waiting}").status_code == 404

"""The audit page: admins only (as /v1/audit), newest first, filtered by who and action;
console logins and refusals are in it."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.unit.broker.console.conftest import Api, log_in


def test_admins_read_and_filter_the_audit_log(api: Api) -> None:
    refused = TestClient(api.client.app)
    csrf = log_in(refused, api.secrets["erin"])
    assert refused.get("/ui/audit").status_code == 403
    assert 'href="/ui/audit"' not in refused.get("/ui/").text
    refused.post("/ui/logout", data={"csrf": csrf})
    root = TestClient(api.client.app)
    log_in(root, api.secrets["root"])
    rows = re.findall(
        r"<tr><td>[^<]*</td><td>(\w+)</td><td>([\w-]+)</td>", root.get("/ui/audit").text
    )
    assert ("erin", "deny") in rows and ("erin", "console-logout") in rows
    assert rows.index(("root", "console-login")) < rows.index(("erin", "console-login"))
    only = root.get("/ui/audit", params={"actor": "erin", "action": "deny"}).text
    assert set(re.findall(r"<tr><td>[^<]*</td><td>(\w+)</td><td>([\w-]+)</td>", only)) == {
        ("erin", "deny")
    }

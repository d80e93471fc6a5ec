"""``GET /v1/fairshare`` and ``GET /v1/priority``: each role sees only its rows."""

from __future__ import annotations

import pytest

from tests.unit.broker.api.conftest import Api

pytestmark = pytest.mark.timeout(60)


def test_the_api_shows_each_role_only_its_rows(api: Api) -> None:
    for _ in range(2):  # aer runs one task at a time here: the second of each waits
        api.submit("alice", "chem")
        api.submit("bob", "bio")
    seen = api.client.get("/v1/fairshare", headers=api.auth("alice")).json()
    assert {r["proposal"] for r in seen} == {None, "chem", "tiny"}
    every = api.client.get("/v1/fairshare?backend=aer", headers=api.auth("erin")).json()
    assert {r["proposal"] for r in every} == {None, "chem", "bio", "tiny"}
    missing = api.client.get("/v1/fairshare?backend=nope", headers=api.auth("erin"))
    assert missing.status_code == 404
    mine = api.client.get("/v1/priority", headers=api.auth("alice")).json()
    assert mine and {r["user"] for r in mine} == {"alice"}
    assert {r["user"] for r in api.client.get("/v1/priority", headers=api.auth("dave")).json()} == {
        "bob"
    }
    assert {r["user"] for r in api.client.get("/v1/priority", headers=api.auth("erin")).json()} == {
        "alice",
        "bob",
    }

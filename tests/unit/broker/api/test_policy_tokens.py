"""The committee's and the admins' endpoints through the REST API: policy revisions,
tokens, the audit trail of every change, and errors as the remote client sees them."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from backends.errors import BackendError
from broker import errors
from broker.api import wire
from broker.errors import BrokerError
from broker.service.remote import RemoteClient
from broker.store.db import utcnow
from broker.store.schema import tokens
from circuits.errors import CircuitError
from policies.errors import PolicyError
from tests.unit.broker.api.conftest import POLICY, Api, job_body

NEW_POLICY = POLICY.replace('revision: "1"', 'revision: "2"').replace(
    "members: [alice, carol]", "members: [carol]"
)
INVALID_POLICY = POLICY.replace("amount: 1000}", "amount: -5}", 1).replace(
    "pi: dave", "pi: dave\n    colour: blue"
)

POLICY_CALLS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/policy", None),
    ("GET", "/v1/policy/history", None),
    ("POST", "/v1/policy/validate", {"text": POLICY}),
    ("POST", "/v1/policy/diff", {"new": {"text": NEW_POLICY}}),
    ("POST", "/v1/policy/apply", {"text": NEW_POLICY, "reason": "alice leaves chem"}),
    ("POST", "/v1/trace", {}),
]


def _in_force(api: Api, user: str = "erin") -> dict[str, Any]:
    answer = api.client.get("/v1/policy", headers=api.auth(user))
    assert answer.status_code == 200
    found: dict[str, Any] = answer.json()
    return found


def _history(api: Api) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.client.get(
        "/v1/policy/history", headers=api.auth("erin")
    ).json()
    return found


# --- 5. the policy: committee and admin only ------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), POLICY_CALLS)
@pytest.mark.parametrize("user", ["alice", "carol"])
def test_researchers_and_pis_may_not_touch_the_policy(
    api: Api, user: str, method: str, path: str, body: dict[str, Any] | None
) -> None:
    answer = api.client.request(method, path, json=body, headers=api.auth(user))
    assert answer.status_code == 403, answer.text
    (line,) = api.audit("deny")
    assert (line.actor, line.object_id, line.detail["status"]) == (user, path, 403)
    assert len(_history(api)) == 1
    assert api.audit("policy-apply") == []


@pytest.mark.parametrize(("method", "path", "body"), POLICY_CALLS)
@pytest.mark.parametrize("user", ["erin", "root"])
def test_the_committee_and_admins_may(
    api: Api, user: str, method: str, path: str, body: dict[str, Any] | None
) -> None:
    answer = api.client.request(method, path, json=body, headers=api.auth(user))
    assert answer.is_success, answer.text
    assert api.audit("deny") == []


def test_an_invalid_policy_is_refused_with_every_error_and_changes_nothing(api: Api) -> None:
    before, history = _in_force(api), _history(api)
    answer = api.client.post(
        "/v1/policy/apply",
        json={"text": INVALID_POLICY, "reason": "oops", "source": "bad.yaml"},
        headers=api.auth("erin"),
    )
    assert answer.status_code == 422
    body = answer.json()
    assert (body["error"], body["source"]) == ("PolicyError", "bad.yaml")
    problems = body["problems"]
    assert any(p.startswith("proposals[0].budgets[2].amount:") for p in problems), problems
    assert any(p.startswith("proposals[1].colour: unknown field") for p in problems), problems
    assert "bad.yaml has 2 error(s)" in body["message"]
    assert _in_force(api) == before
    assert _history(api) == history
    assert api.audit("policy-apply") == []
    answer = api.client.post(
        "/v1/policy/validate", json={"text": INVALID_POLICY}, headers=api.auth("erin")
    )
    assert answer.status_code == 422
    assert answer.json()["problems"] == problems


def test_a_valid_apply_records_a_revision_by_its_author(api: Api, alice_job: str) -> None:
    assert api.client.get(f"/v1/jobs/{alice_job}", headers=api.auth("alice")).is_success
    answer = api.client.post(
        "/v1/policy/apply",
        json={"text": NEW_POLICY, "reason": "alice leaves chem"},
        headers=api.auth("erin"),
    )
    assert answer.status_code == 200, answer.text
    number, revision = answer.json()["number"], answer.json()["revision"]
    assert revision.startswith("api-test@2+")
    last = _history(api)[-1]
    assert (last["id"], last["revision"]) == (number, revision)
    assert (last["author"], last["reason"]) == ("erin", "alice leaves chem")
    assert last["text"] == NEW_POLICY
    assert _in_force(api)["revision"] == revision
    (line,) = api.audit("policy-apply")
    assert (line.actor, line.object_id, line.detail["number"]) == ("erin", revision, number)
    # membership comes from the revision in force: alice no longer reads her chem job
    assert api.client.get(f"/v1/jobs/{alice_job}", headers=api.auth("alice")).status_code == 404
    listed = api.client.get("/v1/jobs", headers=api.auth("alice")).json()
    assert listed == []


# --- 6. tokens: admins only -------------------------------------------------------------------


@pytest.mark.parametrize("user", ["erin", "alice", "carol"])
def test_only_admins_manage_tokens(api: Api, user: str) -> None:
    headers = api.auth(user)
    calls = [
        api.client.post("/v1/tokens", json={"user": "mallory", "role": "admin"}, headers=headers),
        api.client.get("/v1/tokens", headers=headers),
        api.client.delete(f"/v1/tokens/{api.token_ids['root']}", headers=headers),
        api.client.get("/v1/audit", headers=headers),
    ]
    assert [c.status_code for c in calls] == [403, 403, 403, 403]
    assert [line.actor for line in api.audit("deny")] == [user] * 4
    assert api.client.get("/v1/whoami", headers=api.auth("root")).is_success  # not revoked
    with api.db.read() as conn:
        assert conn.execute(select(tokens.c.id).where(tokens.c.user == "mallory")).all() == []


def test_an_admin_creates_lists_and_revokes_tokens(api: Api) -> None:
    root = api.auth("root")
    answer = api.client.post("/v1/tokens", json={"user": "frank", "note": "x"}, headers=root)
    assert answer.status_code == 201, answer.text
    token_id, secret = answer.json()["id"], answer.json()["token"]
    frank = {"Authorization": f"Bearer {secret}"}
    assert api.client.get("/v1/whoami", headers=frank).json()["role"] == "researcher"
    listed = api.client.get("/v1/tokens", headers=root)
    assert listed.status_code == 200
    assert token_id in {t["id"] for t in listed.json()}
    assert secret not in listed.text
    answer = api.client.delete(f"/v1/tokens/{token_id}", headers=root)
    assert answer.status_code == 200
    answer = api.client.get("/v1/whoami", headers=frank)  # at once: no cache, no grace
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert api.audit("deny")[-1].actor == "anonymous"
    bad = api.client.post("/v1/tokens", json={"user": "gina", "role": "root"}, headers=root)
    assert bad.status_code == 422
    assert "'researcher', 'committee' or 'admin'" in bad.json()["message"]


def test_a_revoked_users_other_requests_fail_too(api: Api, alice_job: str) -> None:
    answer = api.client.delete(f"/v1/tokens/{api.token_ids['alice']}", headers=api.auth("root"))
    assert answer.status_code == 200
    for path in ("/v1/jobs", f"/v1/jobs/{alice_job}", "/v1/usage"):
        assert api.client.get(path, headers=api.auth("alice")).status_code == 401


def test_an_expired_token_is_refused(api: Api) -> None:
    assert api.client.get("/v1/whoami", headers=api.auth("dave")).is_success
    with api.db.write() as conn:
        conn.execute(
            update(tokens)
            .where(tokens.c.id == api.token_ids["dave"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    answer = api.client.get("/v1/whoami", headers=api.auth("dave"))
    assert answer.status_code == 401
    assert "expired" in answer.json()["message"]
    answer = api.client.get("/v1/whoami", headers=api.auth("bob"))  # others are unaffected
    assert answer.status_code == 200


def test_a_token_created_with_a_short_life_expires(api: Api) -> None:
    answer = api.client.post(
        "/v1/tokens", json={"user": "hal", "expires_days": 1e-9}, headers=api.auth("root")
    )
    assert answer.status_code == 201
    hal = {"Authorization": f"Bearer {answer.json()['token']}"}
    assert api.client.get("/v1/whoami", headers=hal).status_code == 401


def test_the_store_keeps_no_secret(api: Api) -> None:
    with api.db.read() as conn:
        rows = conn.execute(select(tokens)).all()
    assert len(rows) == len(api.secrets)
    for user, secret in api.secrets.items():
        for row in rows:
            assert all(secret not in str(value) for value in row), (user, row)
        assert secret[len("qcb_") :] not in str(api.audit())


# --- 7. the audit trail ---------------------------------------------------------------------


def test_every_change_is_audited_with_who_what_and_when(api: Api) -> None:
    start = utcnow()
    job_id = api.submit("alice", "chem")
    api.client.post(f"/v1/jobs/{job_id}/cancel", headers=api.auth("alice"))
    api.client.post(
        "/v1/policy/apply", json={"text": NEW_POLICY, "reason": "r"}, headers=api.auth("erin")
    )
    made = api.client.post("/v1/tokens", json={"user": "ivy"}, headers=api.auth("root")).json()
    api.client.delete(f"/v1/tokens/{made['id']}", headers=api.auth("root"))
    end = utcnow()
    lines = [a for a in api.audit() if a.at >= start]
    seen = [(a.action, a.actor, a.object_id) for a in lines if a.action != "deny"]
    revision = _history(api)[-1]["revision"]
    assert seen == [
        ("submit", "alice", job_id),
        ("cancel", "alice", job_id),
        ("policy-apply", "erin", revision),
        ("token-create", "root", made["id"]),
        ("token-revoke", "root", made["id"]),
    ]
    assert all(start <= a.at <= end for a in lines)
    assert api.audit("submit")[0].detail["proposal"] == "chem"
    assert api.audit("token-create")[-1].detail == {"user": "ivy", "role": "researcher"}


def test_admins_read_the_audit_log(api: Api) -> None:
    api.client.get("/v1/policy", headers=api.auth("bob"))
    answer = api.client.get("/v1/audit", params={"limit": 1}, headers=api.auth("root"))
    assert answer.status_code == 200
    (line,) = answer.json()
    assert (line["actor"], line["action"], line["object_id"]) == ("bob", "deny", "/v1/policy")


# --- 10. errors on the wire ---------------------------------------------------------------


@pytest.mark.parametrize("cls", [c for c in wire.STATUS if issubclass(c, BrokerError)])
def test_broker_errors_round_trip(cls: type[BrokerError]) -> None:
    sent = cls("something is wrong", hint="do this instead")
    body = wire.encode(sent)
    back = wire.decode(wire.status_of(sent), body)
    assert type(back) is cls
    assert isinstance(back, BrokerError)
    assert (back.message, back.hint, str(back)) == (sent.message, sent.hint, str(sent))
    assert back.exit_code == sent.exit_code


def test_policy_errors_round_trip() -> None:
    sent = PolicyError("p.yaml", ["proposals[0].pi: required field is missing", "x: y"])
    back = wire.decode(422, wire.encode(sent))
    assert type(back) is PolicyError
    assert (back.source, back.errors, str(back)) == (sent.source, sent.errors, str(sent))


@pytest.mark.parametrize("cls", [CircuitError, BackendError])
def test_other_user_errors_round_trip(cls: type[CircuitError] | type[BackendError]) -> None:
    sent = cls("bad gate", hint="use cx")
    back = wire.decode(wire.status_of(sent), wire.encode(sent))
    assert str(back) == str(sent)
    assert type(back) is cls  # the CLI exits 2 for these locally, 1 for a BrokerError


def test_unknown_bodies_decode_as_broker_errors() -> None:
    assert type(wire.decode(500, "Internal Server Error")) is BrokerError
    assert type(wire.decode(418, {"error": "Teapot", "message": "m"})) is BrokerError
    assert "HTTP 502" in str(wire.decode(502, {"detail": "x"}))


@pytest.fixture
def remote(api: Api, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``remote(user)``: a RemoteClient whose HTTP goes to the app in this process."""
    transport = api.client._transport
    monkeypatch.setattr(httpx, "Client", functools.partial(httpx.Client, transport=transport))

    def make(user: str | None = None, token: str | None = None) -> RemoteClient:
        secret = token or api.secrets[user or ""]
        return RemoteClient(api.settings, url="http://testserver", token=secret)

    return make


def test_the_remote_client_raises_the_servers_errors(remote: Any, api: Api) -> None:
    job_id = api.submit("alice", "chem")
    alice, bob = remote("alice"), remote("bob")
    assert alice.user == "alice"
    assert alice.status(job_id).id == job_id
    with pytest.raises(errors.NotFound, match="no job or task") as unseen:
        bob.status(job_id)
    assert "chem" not in str(unseen.value)
    with pytest.raises(errors.NotFound):
        bob.cancel(job_id)
    with pytest.raises(errors.NotFinished):
        alice.result(job_id)
    with pytest.raises(errors.NotFound):
        alice.status("j-000000000000")
    with pytest.raises(errors.Forbidden, match="committee"):
        alice.policy()
    with pytest.raises(errors.Unauthenticated):
        remote(token="qcb_wrong")
    assert remote("erin").policy().revision == _in_force(api)["revision"]


def test_the_remote_client_submits_once_per_key(remote: Any, api: Api) -> None:
    alice = remote("alice")
    first = alice.submit(job_body("chem"), key="same")
    assert alice.submit(job_body("chem"), key="same") == first
    assert api.job_rows() == 1
    with pytest.raises(errors.JobRefused, match="evaluations left on 'aer'"):
        alice.submit(job_body("tiny"))
    assert api.job_rows() == 1

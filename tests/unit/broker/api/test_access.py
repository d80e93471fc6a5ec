"""Who may see and do what through the REST API: authentication on every endpoint, jobs
of other users and proposals, usage, idempotent submission and refusals (in process)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import select

from backends.states import TaskState
from broker.store.schema import jobs, tasks
from tests.unit.broker.api.conftest import Api, job_body

pytestmark = pytest.mark.timeout(60)  # an events stream let through would never end

OPEN = {"/healthz"}
"""Endpoints that need no token."""

DOCS = re.compile(r"^/v1/(docs|openapi\.json)")

BOB_JOB_ENDPOINTS = [
    ("GET", "/v1/jobs/{id}"),
    ("GET", "/v1/jobs/{id}/result"),
    ("GET", "/v1/jobs/{id}/events"),
    ("GET", "/v1/explain/{id}"),
    ("GET", "/v1/logs/{id}"),
    ("POST", "/v1/jobs/{id}/cancel"),
    ("POST", "/v1/jobs/{id}/requeue"),
    ("POST", "/v1/jobs/{id}/retry"),
    ("GET", "/v1/jobs/{id}/spec"),
    ("POST", "/v1/jobs/{id}/hold"),
    ("POST", "/v1/jobs/{id}/release"),
]


def _endpoints(api: Api, job_id: str) -> list[tuple[str, str]]:
    """Every (method, path) of the OpenAPI schema, with path parameters filled in."""
    paths: dict[str, dict[str, Any]] = api.client.app.openapi()["paths"]  # type: ignore[attr-defined]
    out: list[tuple[str, str]] = []
    for path, operations in paths.items():
        concrete = re.sub(r"\{[^}]+\}", job_id, path)
        out.extend((method.upper(), concrete) for method in operations)
    return out


def _job_state(api: Api, job_id: str) -> TaskState:
    with api.db.read() as conn:
        state = conn.execute(select(jobs.c.state).where(jobs.c.id == job_id)).scalar_one()
    return TaskState(state)


# --- 1. authentication ------------------------------------------------------------------


def test_openapi_lists_the_endpoints_this_test_knows(api: Api, alice_job: str) -> None:
    found = {path for _, path in _endpoints(api, alice_job)}
    assert "/healthz" in found
    assert f"/v1/jobs/{alice_job}/cancel" in found
    assert not any(DOCS.match(p) for p in found)  # docs are not in the schema
    assert len(found) >= 15


@pytest.mark.parametrize(
    "header",
    [None, "Bearer qcb_wrong", "Bearer ", "Basic YWxpY2U6cHc=", "qcb_no_scheme"],
    ids=["none", "wrong", "empty", "basic", "no-scheme"],
)
def test_every_endpoint_needs_a_valid_token(api: Api, alice_job: str, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    before = len(api.audit("deny"))
    checked = 0
    for method, path in _endpoints(api, alice_job):
        answer = api.client.request(method, path, headers=headers, json={})
        if path in OPEN:
            assert answer.status_code == 200, (method, path)
            continue
        checked += 1
        assert answer.status_code == 401, (method, path, answer.status_code, answer.text)
        assert answer.headers.get("www-authenticate") == "Bearer", (method, path)
        assert answer.json()["error"] == "Unauthenticated"
        (line,) = api.audit("deny")[before + checked - 1 :]
        assert (line.actor, line.object_id) == ("anonymous", path), (method, path)
        assert line.detail["status"] == 401
        assert line.detail["method"] == method
    assert checked >= 15
    assert len(api.audit("deny")) == before + checked
    assert _job_state(api, alice_job) == TaskState.PENDING  # no unauthenticated cancel got through


def test_open_routes_answer_without_a_token(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"ok": True}
    assert api.client.get("/v1/openapi.json").status_code == 200
    assert api.client.get("/v1/docs").status_code == 200
    assert api.audit("deny") == []


def test_a_valid_token_is_accepted(api: Api) -> None:
    answer = api.client.get("/v1/whoami", headers=api.auth("carol"))
    assert answer.status_code == 200
    assert answer.json()["user"] == "carol"
    assert answer.json()["proposals"] == ["chem"]
    assert answer.json()["pi_of"] == ["chem"]


# --- 2. someone else's job ----------------------------------------------------------------


def _as_unknown(answer: Any, ident: str) -> tuple[int, str]:
    """An answer with ``ident`` blanked out, to compare with another id's answer."""
    return answer.status_code, answer.text.replace(ident, "ID")


UNKNOWN_JOB = "j-000000000000"


@pytest.mark.parametrize(("method", "template"), BOB_JOB_ENDPOINTS)
def test_another_members_job_answers_exactly_as_an_unknown_one(
    api: Api, alice_job: str, method: str, template: str
) -> None:
    path = template.format(id=alice_job)
    answer = api.client.request(method, path, headers=api.auth("bob"))
    unknown = api.client.request(method, template.format(id=UNKNOWN_JOB), headers=api.auth("bob"))
    assert answer.status_code == 404, answer.text
    assert _as_unknown(answer, alice_job) == _as_unknown(unknown, UNKNOWN_JOB)
    assert dict(answer.headers) == dict(unknown.headers)
    assert "chem" not in answer.text
    (line,) = api.audit("deny")  # the refusal is recorded; the unknown id is not one
    assert (line.actor, line.object_id, line.detail["status"]) == ("bob", path, 404)
    assert _job_state(api, alice_job) == TaskState.PENDING
    assert api.audit("cancel") == []


def test_a_member_of_the_same_proposal_cannot_reach_it_either(api: Api) -> None:
    carol_job = api.submit("carol", "chem")  # alice is a member of chem, not its PI
    answer = api.client.get(f"/v1/jobs/{carol_job}", headers=api.auth("alice"))
    assert answer.status_code == 404
    answer = api.client.post(f"/v1/jobs/{carol_job}/cancel", headers=api.auth("alice"))
    assert answer.status_code == 404
    assert _job_state(api, carol_job) == TaskState.PENDING


def test_a_task_id_of_another_users_job_answers_as_unknown_too(api: Api, alice_job: str) -> None:
    with api.db.read() as conn:
        task_ids = list(conn.execute(select(tasks.c.id).where(tasks.c.job_id == alice_job)))
    assert task_ids
    task = task_ids[0].id
    answer = api.client.get(f"/v1/explain/{task}", headers=api.auth("bob"))
    unknown = api.client.get("/v1/explain/t-000000000000", headers=api.auth("bob"))
    assert answer.status_code == 404
    assert _as_unknown(answer, task) == _as_unknown(unknown, "t-000000000000")
    logs = api.client.get(f"/v1/logs/{task}", headers=api.auth("bob"))
    assert logs.status_code == 404 and _as_unknown(logs, task) == _as_unknown(
        api.client.get("/v1/logs/t-000000000000", headers=api.auth("bob")), "t-000000000000"
    )
    mine = api.client.get(f"/v1/logs/{task}", headers=api.auth("alice"))
    assert mine.status_code == 200 and mine.json()[0]["task_id"] == task
    assert [line.actor for line in api.audit("deny")] == ["bob", "bob"]


def test_an_unknown_id_is_not_found(api: Api) -> None:
    answer = api.client.get(f"/v1/jobs/{UNKNOWN_JOB}", headers=api.auth("bob"))
    assert answer.status_code == 404
    assert answer.json()["error"] == "NotFound"


# --- 3. proposals one is not a member of --------------------------------------------------


def test_a_researcher_cannot_submit_under_another_proposal(api: Api) -> None:
    answer = api.client.post("/v1/jobs", json=job_body("chem"), headers=api.auth("bob"))
    assert answer.status_code == 403
    assert answer.json()["error"] == "Forbidden"
    assert "chem" in answer.json()["message"]
    (line,) = api.audit("deny")
    assert (line.actor, line.object_id, line.detail["method"]) == ("bob", "/v1/jobs", "POST")
    assert api.job_rows() == 0
    assert api.audit("submit") == []


@pytest.mark.parametrize("path", ["/v1/usage", "/v1/usage/burn-down"])
def test_usage_of_another_proposal_is_forbidden(api: Api, path: str) -> None:
    answer = api.client.get(path, params={"proposal": "chem"}, headers=api.auth("bob"))
    assert answer.status_code == 403
    (line,) = api.audit("deny")
    assert (line.actor, line.detail["status"]) == ("bob", 403)
    assert api.client.get(path, params={"proposal": "bio"}, headers=api.auth("bob")).is_success


def test_usage_lists_only_ones_own_proposals(api: Api) -> None:
    answer = api.client.get("/v1/usage", headers=api.auth("bob"))
    assert answer.status_code == 200
    assert [u["proposal"] for u in answer.json()] == ["bio"]
    answer = api.client.get("/v1/usage", headers=api.auth("alice"))
    assert sorted(u["proposal"] for u in answer.json()) == ["chem", "tiny"]
    answer = api.client.get("/v1/usage/burn-down", headers=api.auth("bob"))
    assert answer.status_code == 200
    assert {entry["key"][0] for entry in answer.json()} == {"bio"}


@pytest.mark.parametrize("user", ["erin", "root"])
def test_committee_and_admin_read_every_proposals_usage(api: Api, user: str) -> None:
    answer = api.client.get("/v1/usage", headers=api.auth(user))
    assert sorted(u["proposal"] for u in answer.json()) == ["bio", "chem", "tiny"]


# --- 4. listings, and the PI ----------------------------------------------------------------


def _listed(api: Api, user: str) -> set[str]:
    answer = api.client.get("/v1/jobs", headers=api.auth(user))
    assert answer.status_code == 200
    return {job["id"] for job in answer.json()}


def test_job_listings_show_own_jobs_and_led_proposals(api: Api, alice_job: str) -> None:
    bob_job = api.submit("bob", "bio")
    assert _listed(api, "alice") == {alice_job}
    assert _listed(api, "bob") == {bob_job}
    assert _listed(api, "carol") == {alice_job}  # PI of chem
    assert _listed(api, "dave") == {bob_job}  # PI of bio
    assert _listed(api, "erin") == set()  # committee, member of nothing
    assert _listed(api, "root") == {alice_job, bob_job}


def test_the_owner_reads_her_own_job(api: Api, alice_job: str) -> None:
    answer = api.client.get(f"/v1/jobs/{alice_job}", headers=api.auth("alice"))
    assert answer.status_code == 200
    assert (answer.json()["id"], answer.json()["user"]) == (alice_job, "alice")
    answer = api.client.get(f"/v1/jobs/{alice_job}/result", headers=api.auth("alice"))
    assert (answer.status_code, answer.json()["error"]) == (409, "NotFinished")


def test_the_pi_reads_and_cancels_a_members_job(api: Api, alice_job: str) -> None:
    answer = api.client.get(f"/v1/jobs/{alice_job}", headers=api.auth("carol"))
    assert answer.status_code == 200
    assert answer.json()["user"] == "alice"
    answer = api.client.post(f"/v1/jobs/{alice_job}/cancel", headers=api.auth("carol"))
    assert answer.status_code == 200
    assert answer.json()["state"] == TaskState.CANCELLED
    assert _job_state(api, alice_job) == TaskState.CANCELLED
    (line,) = api.audit("cancel")
    assert (line.actor, line.object_id) == ("carol", alice_job)
    assert api.audit("deny") == []


def test_the_pi_of_another_proposal_cannot(api: Api, alice_job: str) -> None:
    answer = api.client.post(f"/v1/jobs/{alice_job}/cancel", headers=api.auth("dave"))
    assert answer.status_code == 404
    assert _job_state(api, alice_job) == TaskState.PENDING


def test_an_admin_reads_and_cancels_any_job(api: Api, alice_job: str) -> None:
    assert api.client.get(f"/v1/jobs/{alice_job}", headers=api.auth("root")).status_code == 200
    answer = api.client.post(f"/v1/jobs/{alice_job}/cancel", headers=api.auth("root"))
    assert answer.status_code == 200
    assert [(a.actor, a.object_id) for a in api.audit("cancel")] == [("root", alice_job)]


# --- 8. idempotency -------------------------------------------------------------------------


def test_the_same_idempotency_key_returns_the_same_job(api: Api) -> None:
    first = api.submit("alice", "chem", **{"Idempotency-Key": "k-1"})
    again = api.submit("alice", "chem", **{"Idempotency-Key": "k-1"})
    assert again == first
    assert api.job_rows() == 1
    assert len(api.audit("submit")) == 1
    other = api.submit("alice", "chem", **{"Idempotency-Key": "k-2"})
    assert other != first
    assert api.job_rows() == 2


def test_a_key_reused_for_another_job_is_refused_naming_it(api: Api) -> None:
    first = api.submit("alice", "chem", **{"Idempotency-Key": "k-1"})
    body = job_body("chem")
    body["seed"] = 99  # another job under the same key
    answer = api.client.post(
        "/v1/jobs", json=body, headers={**api.auth("alice"), "Idempotency-Key": "k-1"}
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "InvalidJob"
    assert "'k-1'" in answer.json()["message"] and first in answer.json()["message"]
    assert api.job_rows() == 1


def test_without_a_key_each_submission_is_a_job(api: Api) -> None:
    assert api.submit("alice") != api.submit("alice")
    assert api.job_rows() == 2


def test_another_users_key_is_not_shared(api: Api) -> None:
    mine = api.submit("alice", "chem", **{"Idempotency-Key": "shared"})
    theirs = api.submit("carol", "chem", **{"Idempotency-Key": "shared"})
    assert mine != theirs
    assert api.job_rows() == 2


# --- 9. refusals ----------------------------------------------------------------------------


def test_a_job_over_budget_is_refused_with_the_balance(api: Api) -> None:
    answer = api.client.post("/v1/jobs", json=job_body("tiny"), headers=api.auth("alice"))
    assert answer.status_code == 409, answer.text
    body = answer.json()
    assert body["error"] == "JobRefused"
    message = body["message"]
    assert message.startswith(
        "job refused by membership-and-budget: proposal 'tiny' has 2 evaluations left on 'aer'"
    )
    assert "(limit 2, used 0, held 0; hard)" in message
    assert re.search(r"this job may need up to \d+", message), message
    assert api.job_rows() == 0
    (line,) = api.audit("refuse")
    assert line.actor == "alice"
    assert "2 evaluations left" in line.detail["reason"]
    assert api.audit("submit") == []


def test_a_malformed_body_without_a_token_is_still_401(api: Api) -> None:
    answer = api.client.post(
        "/v1/policy/apply", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert answer.status_code == 401, answer.text
    assert [line.actor for line in api.audit("deny")] == ["anonymous"]


def test_an_unknown_proposal_looks_like_someone_elses(api: Api) -> None:
    """Researchers cannot learn which proposals exist by trying names."""
    for proposal in ("chem", "no-such-proposal"):
        answer = api.client.post("/v1/jobs", json=job_body(proposal), headers=api.auth("bob"))
        assert answer.status_code == 403, answer.text
        assert "bio" not in answer.json()["message"]
        usage = api.client.get("/v1/usage", params={"proposal": proposal}, headers=api.auth("bob"))
        assert usage.status_code == 403, usage.text
    assert api.job_rows() == 0


def test_a_job_is_requeued_by_its_owner_only(api: Api, alice_job: str) -> None:
    again = api.client.post(f"/v1/jobs/{alice_job}/requeue", headers=api.auth("alice"))
    assert again.status_code == 201, again.text
    new = again.json()["id"]
    assert new != alice_job and _job_state(api, new) == TaskState.PENDING
    refused = api.client.post(f"/v1/jobs/{alice_job}/requeue", headers=api.auth("bob"))
    assert refused.status_code == 404 and api.job_rows() == 2


def test_job_filters_take_rfc3339_and_states_only(api: Api, alice_job: str) -> None:
    listed = api.client.get(
        "/v1/jobs",
        params={"since": "2020-01-01T00:00:00Z", "state": "PD"},
        headers=api.auth("alice"),
    )
    assert listed.status_code == 200 and [j["id"] for j in listed.json()] == [alice_job]
    for bad in ({"since": "0.5"}, {"since": "2026-12-01"}, {"state": "done"}):
        refused = api.client.get("/v1/jobs", params=bad, headers=api.auth("alice"))
        assert refused.status_code == 422, (bad, refused.text)


def test_only_the_owner_holds_and_releases(api: Api, alice_job: str) -> None:
    held = api.client.post(f"/v1/jobs/{alice_job}/hold", headers=api.auth("alice"))
    assert held.status_code == 200 and held.json()["held_by"] == "alice"
    assert (
        api.client.post(f"/v1/jobs/{alice_job}/release", headers=api.auth("bob")).status_code == 404
    )
    freed = api.client.post(f"/v1/jobs/{alice_job}/release", headers=api.auth("alice"))
    assert freed.status_code == 200 and freed.json()["held_by"] is None
    assert [line.action for line in api.audit() if line.action in ("hold", "release")] == [
        "hold",
        "release",
    ]


def test_a_job_is_retried_by_its_owner_only_and_waits_only_for_theirs(
    api: Api, alice_job: str
) -> None:
    running = api.client.post(f"/v1/jobs/{alice_job}/retry", headers=api.auth("alice"))
    assert running.status_code == 400 and "has not stopped" in running.json()["message"]
    assert api.client.post(f"/v1/jobs/{alice_job}/cancel", headers=api.auth("alice")).is_success
    refused = api.client.post(f"/v1/jobs/{alice_job}/retry", headers=api.auth("bob"))
    assert refused.status_code == 404
    again = api.client.post(f"/v1/jobs/{alice_job}/retry", headers=api.auth("alice"))
    assert again.status_code == 201, again.text
    assert _job_state(api, again.json()["id"]) == TaskState.PENDING
    spec = api.client.get(f"/v1/jobs/{alice_job}/spec", headers=api.auth("alice"))
    assert spec.status_code == 200 and spec.json()["apiVersion"] == "qcbroker/v1"
    theirs = {**job_body("bio"), "dependency": f"afterok:{again.json()['id']}"}
    waits = api.client.post("/v1/jobs", json=theirs, headers=api.auth("bob"))
    assert waits.status_code == 422, waits.text
    [problem] = waits.json()["details"]["problems"]
    assert problem["path"] == "dependency" and "you have no job" in problem["message"]

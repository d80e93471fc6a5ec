"""The API under careless or hostile input: every request gets a 4xx naming what is wrong,
nothing is stored, and the service answers the next request (issue 17's inputs)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.broker.api.conftest import Api, job_body

pytestmark = pytest.mark.timeout(60)


def _post_raw(api: Api, path: str, raw: bytes | str, user: str = "alice") -> Any:
    return api.client.post(
        path,
        content=raw,
        headers={**api.auth(user), "content-type": "application/json"},
    )


def _still_serves(api: Api) -> None:
    assert api.client.get("/v1/whoami", headers=api.auth("alice")).status_code == 200
    assert api.client.get("/healthz").json() == {"ok": True}


def test_infinity_in_a_job_is_refused_at_submission_naming_the_field(api: Api) -> None:
    raw = json.dumps(job_body("chem")).replace("0.7199689944489797", "Infinity")
    assert "Infinity" in raw
    answer = _post_raw(api, "/v1/jobs", raw)
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error"] == "InvalidRequest"
    assert "Infinity" in body["message"] and "finite" in body["message"]
    assert api.job_rows() == 0
    _still_serves(api)


@pytest.mark.parametrize("value", ["NaN", "-Infinity", "1e999"])
def test_other_non_finite_numbers_are_refused(api: Api, value: str) -> None:
    raw = json.dumps(job_body("chem")).replace("0.7199689944489797", value)
    answer = _post_raw(api, "/v1/jobs", raw)
    assert answer.status_code == 422, answer.text
    assert "algorithm.inputs.energy_offset" in answer.json()["message"] or value != "1e999"
    assert api.job_rows() == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "h2\x00evil"), ("name", "bell\x07"), ("proposal", "chem\x00")],
)
def test_control_characters_in_text_are_refused(api: Api, field: str, value: str) -> None:
    body = job_body("chem")
    body[field] = value
    answer = api.client.post("/v1/jobs", json=body, headers=api.auth("alice"))
    assert answer.status_code == 422, answer.text
    assert f"{field}: contains the control character" in answer.json()["message"]
    assert api.job_rows() == 0
    _still_serves(api)


@pytest.mark.parametrize(
    "path", ["/v1/jobs/j-1%00", "/v1/explain/t-%00x", "/v1/jobs/j-1%00/tasks/t-%01"]
)
def test_nul_in_an_id_is_not_found(api: Api, path: str) -> None:
    answer = api.client.get(path, headers=api.auth("alice"))
    assert answer.status_code == 404, answer.text
    _still_serves(api)


@pytest.mark.parametrize("seed", [2**31, 2**63, 2**70, -1])
def test_a_seed_beyond_the_store_is_refused(api: Api, seed: int) -> None:
    body = job_body("chem")
    body["seed"] = seed
    answer = api.client.post("/v1/jobs", json=body, headers=api.auth("alice"))
    assert answer.status_code == 422, answer.text
    assert "seed" in answer.json()["message"]
    assert api.job_rows() == 0


def test_the_largest_seed_is_taken(api: Api) -> None:
    body = job_body("chem")
    body["seed"] = 2**31 - 1
    answer = api.client.post("/v1/jobs", json=body, headers=api.auth("alice"))
    assert answer.status_code == 201, answer.text


def test_an_integer_of_thousands_of_digits_is_refused(api: Api) -> None:
    raw = json.dumps(job_body("chem")).replace('"seed": 42', '"seed": ' + "9" * 5000)
    answer = _post_raw(api, "/v1/jobs", raw)
    assert answer.status_code == 422, answer.text
    assert api.job_rows() == 0


@pytest.mark.parametrize("depth", [300, 100_000])
def test_deep_nesting_is_refused(api: Api, depth: int) -> None:
    body = job_body("chem")
    raw = json.dumps(body).replace(
        '"reference": false', '"reference": ' + "[" * depth + "]" * depth
    )
    answer = _post_raw(api, "/v1/jobs", raw)
    assert answer.status_code == 422, answer.text
    assert "deep" in answer.json()["message"]
    _still_serves(api)


def test_a_body_over_the_limit_is_413_naming_it(api: Api) -> None:
    most = api.settings.max_body_bytes
    raw = b'{"pad": "' + b"x" * (most + 1) + b'"}'
    answer = _post_raw(api, "/v1/jobs", raw)
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"] == "TooLarge"
    assert str(most) in answer.json()["message"]
    assert api.job_rows() == 0
    _still_serves(api)


def test_too_many_values_are_refused(api: Api) -> None:
    raw = json.dumps({"keys": {str(i): i for i in range(api.settings.max_values + 1)}})
    answer = _post_raw(api, "/v1/jobs", raw)
    assert answer.status_code == 422, answer.text
    assert "QCB_MAX_VALUES" in answer.json()["message"]


def test_a_body_is_checked_only_after_the_token(api: Api) -> None:
    answer = api.client.post(
        "/v1/jobs", content=b'{"x": Infinity}', headers={"content-type": "application/json"}
    )
    assert answer.status_code == 401


@pytest.mark.parametrize("days", ["1e10", "Infinity", "1e400"])
def test_a_token_lifetime_is_bounded(api: Api, days: str) -> None:
    raw = '{"user": "zed", "expires_days": ' + days + "}"
    answer = _post_raw(api, "/v1/tokens", raw, user="root")
    assert answer.status_code == 422, answer.text
    _still_serves(api)


def test_nul_in_a_policy_reason_is_refused(api: Api) -> None:
    current = api.client.get("/v1/policy", headers=api.auth("erin")).json()["text"]
    answer = api.client.post(
        "/v1/policy/apply",
        json={"text": current, "reason": "because\x00"},
        headers=api.auth("erin"),
    )
    assert answer.status_code == 422, answer.text
    assert "reason: contains the control character NUL" in answer.json()["message"]


def test_text_with_tabs_and_newlines_is_fine(api: Api) -> None:
    body = job_body("chem")
    body["name"] = "h2\tvqe"
    answer = api.client.post("/v1/jobs", json=body, headers=api.auth("alice"))
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("path", ["/v1/policy", "/v1/policy/history"])
def test_the_policy_answers_name_no_server_path(api: Api, path: str) -> None:
    answer = api.client.get(path, headers=api.auth("erin"))
    assert answer.status_code == 200
    assert str(api.settings.policy_file.parent) not in answer.text
    assert api.settings.policy_file.name in answer.text

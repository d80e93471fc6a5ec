"""The embedded runtime's driver endpoint: the API's driver calls, for driver tokens only,
with the API's error bodies, on 127.0.0.1."""

from __future__ import annotations

import http.client
from collections.abc import Iterator

import httpx
import pytest

from broker.config import Settings
from broker.core.orchestrator import Broker
from broker.drivers.endpoint import MAX_BODY, DriverEndpoint
from broker.drivers.service import mint
from broker.service import tokens


@pytest.fixture
def endpoint(settings: Settings) -> Iterator[DriverEndpoint]:
    served = DriverEndpoint(Broker(settings)).start()
    yield served
    served.stop()


def driver_token(endpoint: DriverEndpoint, job_id: str = "j-1") -> str:
    with endpoint.broker.db.write() as conn:
        return mint(conn, job_id=job_id, user="alice", step="run", seconds=60)


def test_it_listens_on_the_loopback_only(endpoint: DriverEndpoint) -> None:
    assert endpoint.url.startswith("http://127.0.0.1:")


def test_a_driver_token_is_who_it_says(endpoint: DriverEndpoint) -> None:
    headers = {"Authorization": f"Bearer {driver_token(endpoint)}"}
    answer = httpx.get(f"{endpoint.url}/v1/whoami", headers=headers)
    assert answer.status_code == 200
    assert answer.json() == {"user": "alice", "role": "driver", "job": "j-1"}


def test_no_token_or_an_unknown_one_is_401(endpoint: DriverEndpoint) -> None:
    assert httpx.get(f"{endpoint.url}/v1/whoami").status_code == 401
    bad = httpx.get(f"{endpoint.url}/v1/whoami", headers={"Authorization": "Bearer qcb_nope"})
    assert bad.status_code == 401
    assert bad.json()["error"] == "Unauthenticated"


def test_any_token_but_a_drivers_is_403(endpoint: DriverEndpoint) -> None:
    _, secret = tokens.create(endpoint.broker.db, user="root", role="admin", created_by="t")
    answer = httpx.get(f"{endpoint.url}/v1/whoami", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 403
    assert "driver programs only" in answer.json()["message"]


def test_a_driver_may_not_reach_another_job(endpoint: DriverEndpoint) -> None:
    headers = {"Authorization": f"Bearer {driver_token(endpoint, 'j-1')}"}
    batch = {"items": [{"circuit": "OPENQASM 3.0;\nqubit[1] q;\n"}], "shots": 1}
    answer = httpx.post(f"{endpoint.url}/v1/jobs/j-2/tasks", json={"batch": batch}, headers=headers)
    assert answer.status_code == 403
    assert httpx.get(f"{endpoint.url}/v1/jobs/j-2/tasks/t-1", headers=headers).status_code == 403


def test_a_malformed_or_oversized_body_is_refused(endpoint: DriverEndpoint) -> None:
    headers = {"Authorization": f"Bearer {driver_token(endpoint)}"}
    answer = httpx.post(f"{endpoint.url}/v1/jobs/j-1/tasks", content=b"{", headers=headers)
    assert answer.status_code == 422 and answer.json()["error"] == "InvalidRequest"
    nan = b'{"batch": {"items": [{"circuit": "x", "parameter_values": [[NaN]]}]}}'
    answer = httpx.post(f"{endpoint.url}/v1/jobs/j-1/tasks", content=nan, headers=headers)
    assert answer.status_code == 422 and "NaN" in answer.json()["message"]
    host, port = endpoint.server.server_address[:2]
    conn = http.client.HTTPConnection(str(host), int(port), timeout=10)
    conn.putrequest("POST", "/v1/jobs/j-1/tasks")  # announces more than it will read
    conn.putheader("Authorization", headers["Authorization"])
    conn.putheader("Content-Length", str(MAX_BODY + 1))
    conn.endheaders()
    refused = conn.getresponse()
    assert refused.status == 422 and b"MiB" in refused.read()
    conn.close()


def test_anything_else_is_404(endpoint: DriverEndpoint) -> None:
    headers = {"Authorization": f"Bearer {driver_token(endpoint)}"}
    answer = httpx.get(f"{endpoint.url}/v1/jobs", headers=headers)
    assert answer.status_code == 404 and answer.json()["error"] == "NotFound"

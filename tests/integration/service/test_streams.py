"""Event streams on a live service (PostgreSQL's change feed, not polling): a change reaches
every open stream, one user may hold only a few (429 with Retry-After beyond), and the API
answers everyone else meanwhile."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from tests.harness.stack import LocalStack
from tests.integration.service.conftest import logs
from tests.integration.service.test_schema import POLICY
from tests.unit.broker.api.conftest import job_body

pytestmark = pytest.mark.integration

CAP = 3


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """API and scheduler, no worker: a job stays quiet until someone cancels it."""
    workdir = tmp_path_factory.mktemp("streams")
    (workdir / "policy.yaml").write_text(POLICY)
    settings = {"policy_file": str(workdir / "policy.yaml"), "max_streams_per_user": CAP}
    with LocalStack(workdir, workers=0, settings=settings) as stack:
        yield stack


def _auth(stack: LocalStack, user: str, role: str = "researcher") -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.token(user, role)}"}


def _events(response: httpx.Response) -> Iterator[tuple[str, str]]:
    event = ""
    for line in response.iter_lines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            yield event, line[5:].strip()


def test_a_change_reaches_every_stream_and_a_user_holds_only_a_few(quiet: LocalStack) -> None:
    http = httpx.Client(base_url=quiet.url, timeout=httpx.Timeout(30.0))
    alice = _auth(quiet, "alice")
    answer = http.post("/v1/jobs", json=job_body("chem"), headers=alice)
    assert answer.status_code == 201, answer.text
    job = answer.json()["id"]
    with ExitStack() as streams:
        readers: list[Iterator[tuple[str, str]]] = []
        for _ in range(CAP):
            response: Any = streams.enter_context(
                http.stream("GET", f"/v1/jobs/{job}/events", headers=alice)
            )
            assert response.status_code == 200
            reader = _events(response)
            assert next(reader)[0] == "status"  # the status now, at once
            readers.append(reader)
        refused = http.get(f"/v1/jobs/{job}/events", headers=alice)
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["Retry-After"]) > 0
        assert "QCB_MAX_STREAMS_PER_USER" in refused.json()["hint"]
        # another user is not held back by alice's streams
        assert http.get("/v1/whoami", headers=_auth(quiet, "carol")).status_code == 200
        assert http.post(f"/v1/jobs/{job}/cancel", headers=alice).status_code == 200
        for reader in readers:
            seen = list(reader)
            assert seen[-1] == ("end", '{"state": "CANCELLED"}'), (seen, logs(quiet))
            assert any(e == "status" and '"CANCELLED"' in d for e, d in seen)

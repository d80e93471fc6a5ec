"""An API in this process (FastAPI's TestClient) on a SQLite store in a temporary home,
with two proposals (``chem``: PI carol, ``bio``: PI dave), a tiny one, and a token per user.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from broker.api.app import create_app
from broker.config import Settings
from broker.service import tokens
from broker.store.db import Database
from broker.store.schema import audit, jobs
from tests.conftest import EXAMPLES

UNITS = "{units: [evaluations, shots]}"
POLICY = f"""\
apiVersion: qcbroker/v1
kind: Policy
metadata:
  name: api-test
  revision: "1"
backends:
  aer: {UNITS}
  local:
    units: [core_hours]
proposals:
  - id: chem
    pi: carol
    members: [alice, carol]
    budgets:
      - {{backend: aer, unit: evaluations, amount: 10000000}}
      - {{backend: aer, unit: shots, amount: 10000000000}}
      - {{backend: local, unit: core_hours, amount: 1000}}
  - id: bio
    pi: dave
    members: [bob, dave]
    budgets:
      - {{backend: aer, unit: evaluations, amount: 10000000}}
      - {{backend: aer, unit: shots, amount: 10000000000}}
      - {{backend: local, unit: core_hours, amount: 1000}}
  - id: tiny
    pi: alice
    members: [alice]
    budgets:
      - {{backend: aer, unit: evaluations, amount: 2}}
      - {{backend: aer, unit: shots, amount: 10000000000}}
      - {{backend: local, unit: core_hours, amount: 1000}}
"""

USERS = {
    "alice": "researcher",
    "bob": "researcher",
    "carol": "researcher",
    "dave": "researcher",
    "erin": "committee",
    "root": "admin",
}


def job_body(proposal: str = "chem") -> dict[str, Any]:
    """The H2 VQE example as a request body, small, under ``proposal``."""
    body: dict[str, Any] = yaml.safe_load((EXAMPLES / "vqe_h2.yaml").read_text())
    body["proposal"] = proposal
    body["algorithm"]["inputs"]["optimizer"]["maxiter"] = 3
    body["algorithm"]["inputs"]["reference"] = False
    return body


@dataclass
class Api:
    """The app, its store, and a bearer token per user."""

    client: TestClient
    settings: Settings
    db: Database
    secrets: dict[str, str]
    token_ids: dict[str, str] = field(default_factory=dict)

    def auth(self, user: str) -> dict[str, str]:
        """The Authorization header of ``user``'s token."""
        return {"Authorization": f"Bearer {self.secrets[user]}"}

    def submit(self, user: str = "alice", proposal: str = "chem", **headers: str) -> str:
        """Submit the small job as ``user``; its id (the answer must be 201)."""
        answer = self.client.post(
            "/v1/jobs", json=job_body(proposal), headers={**self.auth(user), **headers}
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    def audit(self, action: str | None = None) -> list[Any]:
        """Audit lines, oldest first (of one action if given)."""
        query = select(audit).order_by(audit.c.id)
        if action is not None:
            query = query.where(audit.c.action == action)
        with self.db.read() as conn:
            return list(conn.execute(query).all())

    def job_rows(self) -> int:
        """How many jobs the store holds."""
        with self.db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(jobs)).scalar_one())


@pytest.fixture
def api(qcb_home: Path, tmp_path: Path) -> Iterator[Api]:
    """A fresh API with the policy above and a token for each of :data:`USERS`."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    settings = Settings(home=qcb_home, policy_file=policy, broker_url="filesystem://")
    app = create_app(settings)
    db = Database(settings.store_url)
    found = Api(client=TestClient(app), settings=settings, db=db, secrets={})
    for user, role in USERS.items():
        token_id, secret = tokens.create(db, user=user, role=role, created_by="setup")
        found.secrets[user], found.token_ids[user] = secret, token_id
    with found.client:
        yield found
    db.dispose()


@pytest.fixture
def alice_job(api: Api) -> str:
    """A pending job of alice under ``chem``."""
    return api.submit("alice", "chem")

"""The console in this process (FastAPI's TestClient), on the API tests' store and policy:
the ``api`` fixture, and a way to log a test client in as a user."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.unit.broker.api.conftest import Api, api, job_body  # noqa: F401 - fixtures

__all__ = ["csrf_of", "log_in"]


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, html[:500]
    return found.group(1)


def log_in(client: TestClient, secret: str) -> str:
    """Log ``client`` in with the token ``secret``; the session's CSRF token."""
    form = client.get("/ui/login")
    nonce = re.search(r'name="nonce" value="([^"]+)"', form.text)
    assert nonce is not None
    answer = client.post(
        "/ui/login", data={"nonce": nonce.group(1), "token": secret, "next": "/ui/"}
    )
    assert answer.status_code == 200, answer.text[:500]
    return csrf_of(answer.text)

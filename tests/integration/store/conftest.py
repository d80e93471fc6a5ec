"""The store tests' database on PostgreSQL: ``store_url`` (tests/conftest.py: a SQLite file)
is here a fresh PostgreSQL database of its own, so that the same tests run on both."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.harness.stack import create_database, drop_database


@pytest.fixture
def store_url() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database (with a role of its own), dropped after
    the test. The server is ``QCB_TEST_PG_URL``'s, else the one docker/services/start.sh
    runs (:func:`tests.harness.stack.pg_admin_url`)."""
    url = create_database()
    yield url
    drop_database(url)

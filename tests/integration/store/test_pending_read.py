"""The scheduler's read of the pending tasks on PostgreSQL, where the database turns the
creation times into epoch seconds: the test of tests/unit/broker/core/test_pending_read.py,
collected here again with ``store_url`` a PostgreSQL database (conftest.py)."""

from __future__ import annotations

import pytest

from tests.unit.broker.core.test_pending_read import (  # noqa: F401 (collected here again)
    test_the_columns_are_the_rows,
)

pytestmark = pytest.mark.integration

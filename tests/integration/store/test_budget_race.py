"""A hard budget is never exceeded on PostgreSQL either: the test of
tests/unit/broker/core/test_budget_race.py, collected here again with ``store_url`` a PostgreSQL
database (conftest.py)."""

from __future__ import annotations

import pytest

from tests.unit.broker.core.test_budget_race import (  # noqa: F401 (collected here again)
    test_parallel_submissions_never_pass_a_hard_budget,
)

pytestmark = pytest.mark.integration

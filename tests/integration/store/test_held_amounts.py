"""Admission's held amounts agree with the ledger's balances on PostgreSQL: the test of
tests/unit/broker/store/test_held_amounts.py, collected here again with ``store_url`` a
PostgreSQL database (conftest.py)."""

from __future__ import annotations

import pytest

from tests.unit.broker.store.test_held_amounts import (  # noqa: F401 (collected here again)
    test_held_amounts_match_balances,
)

pytestmark = pytest.mark.integration

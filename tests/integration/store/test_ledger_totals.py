"""The ledger's running totals agree with the whole ledger on PostgreSQL: the tests of
tests/unit/broker/store/test_ledger_totals.py, collected here again with ``store_url`` a
PostgreSQL database (conftest.py)."""

from __future__ import annotations

import pytest

from tests.unit.broker.store.test_ledger_totals import (  # noqa: F401 (collected here again)
    test_a_book_answers_for_its_own_proposal_only,
    test_running_totals_answer_as_the_whole_ledger,
)

pytestmark = pytest.mark.integration

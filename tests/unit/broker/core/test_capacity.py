"""The backends file's ``capacity``: how many tasks of a backend run at once, deployment-wide."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.config import Settings
from broker.core.orchestrator import Broker
from broker.errors import BrokerError


def _broker(tmp_path: Path, text: str) -> Broker:
    backends = tmp_path / "backends.yaml"
    backends.write_text(text)
    return Broker(Settings(home=tmp_path / "home", backends_file=backends))


def test_capacity_overrides_the_backends_own(tmp_path: Path) -> None:
    broker = _broker(tmp_path, "aer: {capacity: 3}\n")
    assert broker.capacity("aer") == 3
    assert "capacity" not in broker.backend_options("aer")  # the backend never sees it
    assert broker.backend("aer").capabilities().max_concurrency == 1
    assert _broker(tmp_path, "cirq: {}\n").capacity("aer") == 1


@pytest.mark.parametrize("bad", ["0", "two", "1.5", "true"])
def test_a_bad_capacity_is_an_error_that_names_it(tmp_path: Path, bad: str) -> None:
    with pytest.raises(BrokerError, match=r"aer\.capacity must be a whole number"):
        _broker(tmp_path, f"aer: {{capacity: {bad}}}\n").capacity("aer")

"""Fixtures: stand-in provider services on free localhost ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.providers.ionq_standin import IonQStandIn


@pytest.fixture
def ionq_server() -> Iterator[IonQStandIn]:
    """A fresh IonQ API stand-in (jobs queue 0.1 s and run 0.2 s), stopped after the test."""
    server = IonQStandIn().start()
    yield server
    server.stop()

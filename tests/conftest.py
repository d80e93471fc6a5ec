"""Fixtures shared by every test: an isolated QCB_HOME per test, and clean runtime stops."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from broker.config import Settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

H2_TERMS = [
    ("II", -1.052373245772859),
    ("IZ", 0.39793742484318045),
    ("ZI", -0.39793742484318045),
    ("ZZ", -0.01128010425623538),
    ("XX", 0.18093119978423156),
]


@pytest.fixture
def qcb_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh QCB_HOME (store, queue, logs) for this test; its runtime is stopped after."""
    home = tmp_path / "qcb-home"
    monkeypatch.setenv("QCB_HOME", str(home))
    monkeypatch.setenv("QCB_IDLE_SHUTDOWN_SECONDS", "20")
    for name in list(os.environ):
        if name.startswith("QCB_") and name not in ("QCB_HOME", "QCB_IDLE_SHUTDOWN_SECONDS"):
            monkeypatch.delenv(name)
    yield home
    from broker import runtime

    runtime.stop(Settings())


@pytest.fixture
def settings(qcb_home: Path) -> Settings:
    """Settings pointing at this test's QCB_HOME."""
    return Settings()

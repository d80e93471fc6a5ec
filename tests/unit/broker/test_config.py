"""Settings come from arguments, then ``QCB_*`` variables, then the ``QCB_CONFIG`` file."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.config import Settings
from broker.errors import BrokerError


def test_a_config_file_sets_what_the_environment_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "qcb.yaml"
    config.write_text("broker_url: redis://file:6379/0\nworker_concurrency: 7\n")
    monkeypatch.setenv("QCB_CONFIG", str(config))
    monkeypatch.setenv("QCB_WORKER_CONCURRENCY", "3")
    settings = Settings()
    assert settings.broker_url == "redis://file:6379/0"
    assert settings.worker_concurrency == 3  # the environment wins
    assert Settings(worker_concurrency=5).worker_concurrency == 5  # and arguments over both


def test_a_typo_in_the_config_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "qcb.yaml"
    config.write_text("broker_ulr: redis://file:6379/0\n")
    monkeypatch.setenv("QCB_CONFIG", str(config))
    with pytest.raises(ValueError, match="broker_ulr"):
        Settings()


def test_a_missing_config_file_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QCB_CONFIG", "/nonexistent/qcb.yaml")
    with pytest.raises(BrokerError, match=r"no settings file \(QCB_CONFIG\) /nonexistent/qcb.yaml"):
        Settings()

"""A backends file that holds credentials must be the broker's alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker import backend_config
from broker.config import Settings
from broker.errors import BrokerError


def test_credentials_readable_by_others_are_refused_naming_the_keys(
    settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "backends.yaml"
    path.write_text("ionq: {api_key: s3cret, url: http://x}\nslurmrest: {token_file: /t}\n")
    path.chmod(0o644)
    configured = settings.model_copy(update={"backends_file": path})
    with pytest.raises(BrokerError, match=r"holds credentials \(ionq.api_key\)") as info:
        backend_config.options(configured, "ionq")
    assert f"chmod 600 {path}" in str(info.value)
    path.chmod(0o600)
    assert backend_config.options(configured, "ionq")["api_key"] == "s3cret"


def test_a_file_without_credentials_may_be_shared(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "backends.yaml"
    path.write_text("aer: {capacity: 2}\nslurmrest: {token_file: /t, jwt_key: /k}\n")
    path.chmod(0o644)
    configured = settings.model_copy(update={"backends_file": path})
    assert backend_config.capacity(configured, "aer") == 2
    assert backend_config.secret_keys({"slurmrest": {"token_file": "/t"}}) == []
    assert backend_config.secret_keys({"ibm": {"token": "x", "channel": "y"}}) == ["ibm.token"]


def test_a_named_file_of_credentials_must_be_private_too(
    settings: Settings, tmp_path: Path
) -> None:
    token = tmp_path / "jwt.token"
    token.write_text("eyJ...")
    token.chmod(0o644)
    path = tmp_path / "backends.yaml"
    path.write_text(f"slurmrest: {{token_file: {token}}}\n")
    configured = settings.model_copy(update={"backends_file": path})
    with pytest.raises(BrokerError, match=r"slurmrest\.token_file .* names .*jwt\.token"):
        backend_config.options(configured, "slurmrest")
    token.chmod(0o600)
    assert backend_config.options(configured, "slurmrest")["token_file"] == str(token)

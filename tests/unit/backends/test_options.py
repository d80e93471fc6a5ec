"""Typed backend options: validated once, refused in words that name the backend, the option
and what is wrong, credentials never shown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import SecretStr

from backends import registry
from backends.base import Backend
from backends.cirq import CirqBackend, CirqDensityMatrixOptions, CirqOptions
from backends.errors import BackendError
from backends.options import BackendOptions, PositiveCount, validate
from backends.slurm.cli import SlurmBackend
from backends.slurm.pilot import SlurmPilotBackend


class Sample(BackendOptions):
    """Options of a made-up backend."""

    size: PositiveCount = 2
    """How many."""
    colour: str = "red"
    """Its colour."""
    key: SecretStr | None = None
    """A credential."""


def refusal(given: dict[str, Any]) -> str:
    with pytest.raises(BackendError) as refused:
        validate(Sample, "sample", given)
    return str(refused.value)


def test_unknown_options_are_listed_with_the_valid_ones() -> None:
    assert refusal({"shape": 1, "age": 2}) == (
        "unknown option(s) for sample: shape, age; valid options: size, colour, key"
    )


def test_a_bad_value_names_the_option_the_problem_and_the_value() -> None:
    zero = "bad option(s) for sample: size: must be a positive integer, not 0"
    assert refusal({"size": 0}) == zero
    assert refusal({"size": "many"}) == (
        "bad option(s) for sample: size: Input should be a valid integer, unable to parse string "
        "as an integer (given 'many')"
    )
    both = refusal({"size": True, "shape": 1})
    assert both.startswith("unknown option(s) for sample: shape; valid options: size, colour")
    assert both.endswith("; bad option(s) for sample: size: must be a positive integer, not True")


def test_a_credential_is_never_shown() -> None:
    assert "1234" not in refusal({"key": 1234})
    options = Sample.model_validate({"key": "s3cret", "size": 3})
    assert options.shown() == {"key": "***", "size": 3}
    assert "s3cret" not in repr(options) and Sample.secret_fields() == {"key"}


def test_null_means_the_default() -> None:
    assert Sample.model_validate({"size": None, "colour": None}) == Sample()


def test_the_registry_validates_once_and_hands_the_model_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[Mapping[str, Any]] = []
    original = CirqBackend.validate_options.__func__

    def counted(cls: type[Backend], given: Mapping[str, Any]) -> BackendOptions:
        calls.append(dict(given))
        result: BackendOptions = original(cls, given)
        return result

    monkeypatch.setattr(CirqBackend, "validate_options", classmethod(counted))
    backend = registry.quantum("cirq", max_qubits=5)
    assert calls == [{"max_qubits": 5}]
    assert backend.config == CirqOptions(max_qubits=5) and dict(backend.options) == {
        "max_qubits": 5
    }


def test_a_class_built_directly_validates_its_keywords() -> None:
    assert CirqBackend(max_qubits=3).max_qubits == 3
    with pytest.raises(BackendError, match=r"unknown option\(s\) for cirq: shots"):
        CirqBackend(shots=3)
    with pytest.raises(BackendError, match="options for cirq must be CirqOptions"):
        CirqBackend(Sample())
    with pytest.raises(TypeError):
        CirqBackend(CirqOptions(), max_qubits=3)
    assert CirqBackend(CirqDensityMatrixOptions()).max_qubits == 12  # a subclass's model


def test_the_slurm_backend_takes_no_pilot_settings() -> None:
    with pytest.raises(BackendError, match=r"unknown option\(s\) for slurm: min_pilots"):
        SlurmBackend(workdir="/tmp/qcb-test-slurm", min_pilots=1)
    with pytest.raises(BackendError, match=r"unknown option\(s\) for slurm: colour"):
        SlurmBackend(colour="red")


def test_a_pilot_backend_gives_its_submitter_the_slurm_options() -> None:
    pilot = SlurmPilotBackend(
        slurm_conf="/etc/slurm/slurm.conf", tool_timeout=5, min_pilots=1, slots=3
    )
    assert pilot.pilot.min_pilots == 1 and pilot.pilot.slots == 3
    assert pilot.config.warm_runner and pilot.root.name == "pilot-tasks"
    submitter = pilot.submitter("/tmp/qcb-test-pilots")
    assert submitter.config.slurm_conf == "/etc/slurm/slurm.conf"
    assert submitter.config.tool_timeout == 5 and str(submitter.root) == "/tmp/qcb-test-pilots"

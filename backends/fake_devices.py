"""qiskit-ibm-runtime's fake devices by name: real IBM devices' gates, coupling maps and noise
at a recorded calibration, for ``aer-noisy`` and the ``ibm`` backend's local mode."""

from __future__ import annotations

from typing import Any

from backends.errors import BackendError, BackendUnavailable


def fake_device_class(name: str) -> type[Any] | None:
    """The fake device class for ``fake_manila``, ``FakeManilaV2``, ``FakeTorino``, ...;
    None when ``name`` does not start with ``fake`` (a device of the real service)."""
    if not name.lower().startswith("fake"):
        return None
    try:
        from qiskit_ibm_runtime import fake_provider
    except ModuleNotFoundError:
        raise BackendUnavailable(
            "device models come from qiskit-ibm-runtime, which is not installed",
            hint="pip install 'qcbroker[ibm]'",
        ) from None
    base = fake_provider.fake_backend.FakeBackendV2
    classes: dict[str, type[Any]] = {}
    for attr in dir(fake_provider):
        cls = getattr(fake_provider, attr)
        if isinstance(cls, type) and issubclass(cls, base) and cls is not base:
            classes[_fake_key(attr)] = cls
    if _fake_key(name) not in classes:
        known = ", ".join("fake_" + key for key in sorted(classes))
        raise BackendError(f"unknown fake device {name!r}; fake devices: {known}")
    return classes[_fake_key(name)]


def fake_device(name: str) -> Any:
    """An instance of the fake device ``name`` (``fake_`` is added when missing)."""
    if not name.lower().startswith("fake"):
        name = "fake_" + name
    cls = fake_device_class(name)
    assert cls is not None
    return cls()


def _fake_key(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "").removeprefix("fake").removesuffix("v2")

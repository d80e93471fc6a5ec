from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from backends import registry
from backends.aer import AerBackend
from backends.errors import BackendNotFound, BackendUnavailable
from backends.local import LocalBackend


def test_builtin_backends_are_registered_by_entry_point() -> None:
    assert {"aer", "local"} <= set(registry.names())
    assert isinstance(registry.quantum("aer"), AerBackend)
    assert isinstance(registry.classical("local"), LocalBackend)
    assert registry.kind_of("aer") == "quantum"


def test_unknown_backend_lists_the_registered_ones() -> None:
    with pytest.raises(BackendNotFound) as info:
        registry.quantum("quantinuum-h9")
    assert "aer" in str(info.value) and "local" in str(info.value)


def test_kind_mismatch_is_refused() -> None:
    with pytest.raises(BackendNotFound, match="not a classical backend"):
        registry.classical("aer")


def test_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = EntryPoint(name="ghost", value="qcb_missing_sdk.sim:Ghost", group=registry.QUANTUM_GROUP)
    eps = {**registry._entry_points(), "ghost": fake}
    monkeypatch.setattr(registry, "_entry_points", lambda: eps)
    monkeypatch.setitem(registry._EXTRA_FOR_MODULE, "qcb_missing_sdk", "ghostly")
    with pytest.raises(BackendUnavailable) as info:
        registry.quantum("ghost")
    assert "qcb_missing_sdk" in str(info.value)
    assert "pip install 'qcbroker[ghostly]'" in str(info.value)


def test_the_kind_is_known_without_importing_the_sdk() -> None:
    assert registry.declared_kind("pennylane") == "quantum"
    assert registry.declared_kind("slurm") == "classical"
    with pytest.raises(BackendNotFound, match="unknown backend"):
        registry.declared_kind("nope")


def test_worker_queues_do_not_import_quantum_sdks() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from broker.processes.runtime import worker_queues; q = worker_queues(); "
        "print(','.join(q)); print(','.join(m for m in ('pennylane', 'cirq', 'braket', "
        "'qiskit_ibm_runtime', 'qrmi') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    queues, imported = out.stdout.splitlines()
    assert "quantum.pennylane" in queues.split(",") and "classical.local" in queues.split(",")
    assert "classical.slurm-pilot" not in queues.split(",")  # hosted: its pilots consume it
    assert imported == ""

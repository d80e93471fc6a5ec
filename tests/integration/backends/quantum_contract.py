"""The QuantumBackend contract as one check that any quantum backend can be put through.

:func:`run` drives a batch the way a broker worker does (``submit``, ``status`` until a final
state, ``result``); :func:`check_quantum_contract` adds the guarantees of
:mod:`backends.base` around it: capabilities are cheap and stable, a final state is reported
again, ``cancel`` is idempotent (and harmless on finished work), ``result`` is stable and has
one item per batch item in the shape its item asked for, and an unknown native id is lost.
The agreement suite (``test_quantum_agreement.py``) and ``tests/unit/backends`` use both.
"""

from __future__ import annotations

import time

import pytest

from backends.base import QuantumBackend, QuantumBatch, QuantumResult
from backends.errors import NativeJobLost
from backends.states import TaskState

UNKNOWN_ID = "qcb-contract-unknown-native-id"


def run(
    backend: QuantumBackend, work: QuantumBatch, task_id: str = "agreement", timeout_s: float = 120
) -> QuantumResult:
    """``work``'s result, driven through the contract (fails if it does not complete)."""
    native_id = backend.submit(work, task_id=task_id)
    deadline = time.monotonic() + timeout_s
    while not (status := backend.status(native_id)).state.final:
        assert time.monotonic() < deadline, "the backend did not finish"
        time.sleep(0.05)
    assert status.state is TaskState.COMPLETED, status.message
    return backend.result(native_id)


def check_quantum_contract(
    backend: QuantumBackend, work: QuantumBatch, task_id: str = "contract"
) -> QuantumResult:
    """Check every guarantee of the quantum contract on one batch; its result."""
    caps = backend.capabilities()
    assert caps.kind == "quantum" and backend.capabilities() == caps
    if work.shots is None:
        assert caps.exact, "a batch without shots needs an exact backend"
    native_id = backend.submit(work, task_id=task_id)
    deadline = time.monotonic() + 120
    while not (status := backend.status(native_id)).state.final:
        assert time.monotonic() < deadline, "the backend did not finish"
        time.sleep(max(caps.poll_seconds, 0.01))
    assert status.state is TaskState.COMPLETED, status.message
    assert backend.status(native_id).state is TaskState.COMPLETED  # final states stay final
    backend.cancel(native_id)
    backend.cancel(native_id)
    assert backend.status(native_id).state is TaskState.COMPLETED
    result = backend.result(native_id)
    assert backend.result(native_id) == result
    _check_shape(backend, work, result)
    with pytest.raises(NativeJobLost):
        backend.status(UNKNOWN_ID)
    return result


def _check_shape(backend: QuantumBackend, work: QuantumBatch, result: QuantumResult) -> None:
    assert result.backend == backend.name and result.backend_version
    assert result.shots == work.shots and result.seed == work.seed
    assert len(result.items) == len(work.items)
    sets = sum(len(item.parameter_values) for item in work.items)
    if work.shots is None:
        assert result.circuit_evaluations == sets and result.shots_total == 0
    else:  # a sampled item runs once per measurement basis its observables need
        assert result.circuit_evaluations >= sets and result.shots_total > 0
    assert result.calls >= 1 and result.native_ids and result.run_seconds >= 0
    for item, got in zip(work.items, result.items, strict=True):
        item_sets = len(item.parameter_values)
        if item.observables:
            assert got.expectation_values is not None and got.std_errors is not None
            widths = [len(row) for row in got.expectation_values]
            assert widths == [len(item.observables)] * item_sets
            if work.shots is None:
                assert all(e == 0 for row in got.std_errors for e in row)
        else:
            assert got.counts is not None and len(got.counts) == item_sets
            assert all(sum(c.values()) == work.shots for c in got.counts)

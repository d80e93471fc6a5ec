"""The SDK a driver program uses: run quantum tasks under the job that started it.

Inside a graph step of ``kind: driver``::

    from broker.drivers.sdk import Driver

    driver = Driver.from_env()
    result = driver.run("OPENQASM 3.0; ...", observables=["ZZ"], parameter_values=[[0.1]])
    energy = result.items[0].expectation_values[0][0]

Each call becomes a task of the job (charged to its proposal, listed in its lineage), within
the allowance the driver step declared. The driver talks over HTTP to ``QCB_URL``: the REST
API in service mode, the embedded runtime's driver endpoint otherwise. It never opens the
broker's store.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any, Protocol

from backends.base import QuantumBatch, QuantumItem, QuantumResult
from backends.states import TaskState
from broker.drivers import service as core
from broker.errors import BrokerError, Unauthenticated
from circuits.coerce import coerce_circuit, coerce_observable


class _Channel(Protocol):
    def submit(self, batch: QuantumBatch, backend: str | None) -> str: ...

    def task(self, task_id: str) -> dict[str, Any]: ...


class _Remote:
    """Through the REST API."""

    def __init__(self, job_id: str, token: str, step: str | None, url: str) -> None:
        from broker.service.remote import RemoteClient

        self.client = RemoteClient(url=url, token=token, user="driver")
        self.job_id, self.step = job_id, step

    def submit(self, batch: QuantumBatch, backend: str | None) -> str:
        return self.client.driver_submit(self.job_id, batch, backend=backend, step=self.step)

    def task(self, task_id: str) -> dict[str, Any]:
        return self.client.driver_task(self.job_id, task_id)


class Driver:
    """A driver program's handle on its job.

    Args:
        job_id: the job (default ``QCB_JOB_ID``).
        token: the driver token (default ``QCB_TOKEN``).
        step: the driver step (default ``QCB_DRIVER_STEP``).
        url: where the broker answers drivers (default ``QCB_URL``).
    """

    def __init__(
        self,
        job_id: str | None = None,
        token: str | None = None,
        *,
        step: str | None = None,
        url: str | None = None,
    ) -> None:
        job_id = job_id or os.environ.get(core.ENV_JOB)
        token = token or os.environ.get(core.ENV_TOKEN)
        url = url or os.environ.get(core.ENV_URL)
        if not job_id or not token or not url:
            raise Unauthenticated(
                "not inside a driver step: QCB_JOB_ID, QCB_TOKEN and QCB_URL are not all set",
                hint="run this program as a graph step with kind: driver",
            )
        self.job_id = job_id
        step = step or os.environ.get(core.ENV_STEP)
        self._channel: _Channel = _Remote(job_id, token, step, url)

    @classmethod
    def from_env(cls) -> Driver:
        """The driver of the step this program runs in."""
        return cls()

    def submit(
        self,
        circuits: object | Sequence[object],
        *,
        parameter_values: Sequence[Sequence[float]] | None = None,
        observables: Sequence[object] = (),
        shots: int | None = None,
        backend: str | None = None,
        seed: int | None = None,
    ) -> str:
        """Queue one quantum task (a batch of ``circuits``, each at ``parameter_values``);
        its task id. Circuits may be OpenQASM 3 text or Qiskit/Cirq/PennyLane objects."""
        batch_of = list(circuits) if isinstance(circuits, list | tuple) else [circuits]
        items = [
            QuantumItem(
                circuit=coerce_circuit(c).qasm,
                parameter_values=[list(p) for p in parameter_values or [[]]],
                observables=[coerce_observable(o) for o in observables],
            )
            for c in batch_of
        ]
        batch = QuantumBatch(items=items, shots=shots, seed=seed)
        return self._channel.submit(batch, backend)

    def result(self, task_id: str, timeout: float | None = None) -> QuantumResult:
        """Wait for a task and return its result; ``BrokerError`` if it did not complete."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.02
        while True:
            view = self._channel.task(task_id)
            state = TaskState(view["state"])
            if state.final:
                if state != TaskState.COMPLETED:
                    raise BrokerError(f"task {task_id} ended {state}: {view['message']}")
                return QuantumResult.model_validate(view["result"])
            if deadline is not None and time.monotonic() > deadline:
                raise BrokerError(f"task {task_id} is still {state} after {timeout} s")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    def run(
        self,
        circuits: object | Sequence[object],
        *,
        parameter_values: Sequence[Sequence[float]] | None = None,
        observables: Sequence[object] = (),
        shots: int | None = None,
        backend: str | None = None,
        seed: int | None = None,
        timeout: float | None = None,
    ) -> QuantumResult:
        """:meth:`submit` and :meth:`result` in one call."""
        task_id = self.submit(
            circuits,
            parameter_values=parameter_values,
            observables=observables,
            shots=shots,
            backend=backend,
            seed=seed,
        )
        return self.result(task_id, timeout)

"""``ibm``: IBM Quantum devices through qiskit-ibm-runtime's V2 primitives.

Circuits are transpiled to the device's ISA and observables mapped onto their circuit's
physical qubits. Items with observables go to ``EstimatorV2``, items without to ``SamplerV2``:
one ``run`` call per primitive, so one call per batch, or two when it mixes both. ``mode``:
``job``, ``batch`` (a runtime ``Batch`` per broker batch) or ``session`` (one runtime
``Session`` kept across batches, so an iterative algorithm keeps its place on the device).

A fake device (``fake_manila``, ``FakeManilaV2``, ...) selects qiskit-ibm-runtime's local
mode: the device's noise is simulated in this process, the batch finishes in ``submit`` and
its result waits in a ``ResultCache`` (``reattach=False``). On the real service the native id
holds the job ids and what ``result`` needs to fold them back into items (item kinds, shots,
seed), so any process with the credentials re-attaches through ``QiskitRuntimeService.job``.
The legacy server-side primitives are used although 0.50 deprecates them: their client-side
replacements post-process in the submitting process, which a re-attaching one cannot redo.
"""

from __future__ import annotations

import logging
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

import qiskit_ibm_runtime as runtime
from pydantic import Field, SecretStr

from backends.base import BackendStatus, Capabilities, QuantumBackend, QuantumBatch, QuantumResult
from backends.errors import BackendError, NativeJobLost
from backends.fake_devices import fake_device_class
from backends.ibm_convert import assemble, isa_pubs
from backends.ibm_jobs import Handle, job_state, job_times, native_state
from backends.options import BackendOptions, PositiveCount
from backends.result_cache import ResultCache, Stopwatch
from backends.states import TaskState
from circuits.canonical import Circuit

log = logging.getLogger(__name__)

Mode = Literal["job", "batch", "session"]
MODES: tuple[str, ...] = get_args(Mode)
DEFAULT_MAX_SHOTS = 100_000
_SEED_ZERO = 2**31 - 1


def runtime_version() -> str:
    """``qiskit-ibm-runtime X``, the software that results and capabilities name."""
    return f"qiskit-ibm-runtime {version('qiskit-ibm-runtime')}"


class IBMOptions(BackendOptions):
    """Options of ``ibm``. Credentials never leave the backend object."""

    device: str = Field(min_length=1)
    """The device, e.g. ibm_torino (or a fake device, fake_manila, for local mode)."""
    mode: Mode = "job"
    """``job``, ``batch`` (a runtime Batch per broker batch) or ``session`` (one runtime
    Session kept across batches)."""
    channel: str | None = None
    """The IBM Quantum channel (default: qiskit-ibm-runtime's)."""
    instance: str | None = None
    """The service instance (CRN) to run on."""
    token: SecretStr | None = None
    """The API key (or give ``token_file``)."""
    token_file: str | None = None
    """A file holding the API key, read once when the service is first needed."""
    optimization_level: int = Field(default=1, ge=0, le=3)
    """The transpiler's optimization level."""
    resilience_level: int | None = Field(default=None, ge=0)
    """The estimator's resilience level on the service (default: the service's)."""
    default_precision: float | None = Field(default=None, gt=0)
    """The estimator's target precision, instead of shots."""
    max_qubits: PositiveCount | None = None
    """The widest circuit taken (at most the device's width)."""


class IBMBackend(QuantumBackend):
    """IBM Quantum through qiskit-ibm-runtime, with the options of :class:`IBMOptions`."""

    name = "ibm"
    Options: ClassVar[type[IBMOptions]] = IBMOptions
    config: IBMOptions

    def __init__(self, config: BackendOptions | None = None, /, **options: Any) -> None:
        super().__init__(config, **options)
        self._token = self.config.token
        self.device_name = self.config.device
        self.mode: str = self.config.mode
        self.optimization_level = self.config.optimization_level
        fake = fake_device_class(self.device_name)
        self.local = fake is not None
        self._device: Any = fake() if fake is not None else None
        self._service: Any = None
        self._session: Any = None
        self._jobs: dict[str, Any] = {}  # real-service jobs this process submitted or fetched
        self._results = ResultCache(self.name)
        self._capabilities: Capabilities | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(device={self.device_name!r}, mode={self.mode!r})"

    def _scrub(self, text: str) -> str:
        secret = self._token.get_secret_value() if self._token is not None else ""
        return text.replace(secret, "***") if secret else text

    def _error(self, doing: str, exc: Exception) -> BackendError:
        """A provider exception as a :class:`BackendError`, the token blanked out."""
        if isinstance(exc, BackendError):
            return exc
        permanent = (ValueError, TypeError, runtime.IBMNotAuthorizedError, runtime.IBMAccountError)
        return BackendError(
            self._scrub(f"{doing} on {self.device_name}: {exc}"),
            transient=not self.local and not isinstance(exc, permanent),
        )

    def _runtime_service(self) -> Any:
        if self._service is None:
            if self._token is None and not self.config.token_file:
                raise BackendError(
                    f"{self.device_name} is a device of the IBM Quantum service: it needs "
                    "credentials",
                    hint="set the backend option token or token_file",
                )
            if self._token is None:  # read once, and kept secret like a given token
                path = Path(str(self.config.token_file)).expanduser()
                try:
                    self._token = SecretStr(path.read_text(encoding="utf-8").strip())
                except OSError as exc:
                    raise BackendError(f"cannot read token_file {path}: {exc.strerror}") from None
            given = {"channel": self.config.channel, "instance": self.config.instance}
            kwargs = {k: v for k, v in given.items() if v}
            try:
                self._service = runtime.QiskitRuntimeService(
                    token=self._token.get_secret_value(), **kwargs
                )
            except Exception as exc:
                raise self._error("could not open the IBM Quantum service", exc) from None
        return self._service

    def device(self) -> Any:
        """The qiskit backend: the fake device, or the real one from the service."""
        if self._device is None:
            service = self._runtime_service()
            try:
                self._device = service.backend(self.device_name)
            except Exception as exc:
                raise self._error("could not reach the device", exc) from None
        return self._device

    def capabilities(self) -> Capabilities:
        """The device's width, gates and shot limit; sampled only (``exact=False``)."""
        if self._capabilities is None:
            dev = self.device()
            limit = min(int(dev.num_qubits), self.config.max_qubits or int(dev.num_qubits))
            coupling = getattr(dev, "coupling_map", None)
            try:
                max_shots = int(dev.configuration().max_shots)
            except Exception:  # not every backend publishes a configuration
                max_shots = DEFAULT_MAX_SHOTS
            self._capabilities = Capabilities(
                kind="quantum",
                version=runtime_version(),
                max_qubits=limit,
                basis_gates=sorted(dev.operation_names),
                exact=False,
                max_shots=max_shots,
                reattach=not self.local,
                poll_seconds=0.0 if self.local else 2.0,
                details={
                    "device": dev.name,
                    "mode": self.mode,
                    "local": self.local,
                    "coupling_map_size": len(coupling.get_edges()) if coupling else None,
                },
            )
        return self._capabilities

    def submit(self, batch: QuantumBatch, *, task_id: str) -> str:
        """Transpile the batch to the device and start its primitive calls (in local mode
        they finish here, and the result waits under the native id)."""
        clock = Stopwatch()
        caps = self.capabilities()
        if batch.shots is None:
            raise BackendError(
                f"{self.device_name} is a device: it samples, so exact results (shots=None) "
                "are not possible",
                hint="give shots, e.g. shots: 4000",
            )
        if caps.max_shots is not None and batch.shots > caps.max_shots:
            raise BackendError(
                f"{batch.shots} shots asked; {self.device_name} takes {caps.max_shots}"
            )
        width = max(Circuit(qasm=item.circuit).num_qubits for item in batch.items)
        if caps.max_qubits is not None and width > caps.max_qubits:
            raise BackendError(
                f"a circuit has {width} qubits; {self.device_name} takes at most "
                f"{caps.max_qubits} qubits"
            )
        kinds = "".join("e" if item.observables else "s" for item in batch.items)
        jobs = self._run(*self._pubs(batch, kinds), batch.shots, batch.seed)
        handle = Handle(tuple(job.job_id() for job in jobs), kinds, batch.shots, batch.seed)
        native_id = handle.encode()
        log.info("task %s: %s on %s (%s mode)", task_id, native_id, self.device_name, self.mode)
        if not self.local:
            self._jobs.update((job.job_id(), job) for job in jobs)
            return native_id
        try:
            outputs = [job.result() for job in jobs]
        except Exception as exc:
            raise self._error("the simulation failed", exc) from None
        result = self._assemble(handle, jobs, outputs, (clock.seconds(), None))
        self._results.put(native_id, result)
        return native_id

    def _pubs(self, batch: QuantumBatch, kinds: str) -> tuple[list[Any], list[Any]]:
        """Estimator and sampler PUBs on ISA circuits, each in item order."""
        from qiskit.transpiler import generate_preset_pass_manager

        pm = generate_preset_pass_manager(
            backend=self.device(),
            optimization_level=self.optimization_level,
            seed_transpiler=batch.seed,
        )
        return isa_pubs(batch, kinds, pm)

    def _run(
        self, estimator_pubs: list[Any], sampler_pubs: list[Any], shots: int, seed: int | None
    ) -> list[Any]:
        """Start the calls (estimator first); if one fails, cancel those already started."""
        target = self._target()
        estimator: dict[str, Any] = {"default_shots": shots}
        if self.config.default_precision is not None:
            estimator = {"default_precision": self.config.default_precision}
        if self.config.resilience_level is not None and not self.local:
            estimator["resilience_level"] = self.config.resilience_level
        calls = [(runtime.EstimatorV2, estimator, estimator_pubs)]
        calls.append((runtime.SamplerV2, {"default_shots": shots}, sampler_pubs))
        jobs: list[Any] = []
        try:
            for cls, options, pubs in calls:
                if pubs:
                    if self.local and seed is not None:
                        # Local mode drops a falsy seed_simulator, so 0 gets a stand-in.
                        options["simulator"] = {"seed_simulator": seed or _SEED_ZERO}
                    with warnings.catch_warnings():
                        warnings.filterwarnings(
                            "ignore", "The (Estimator|Sampler)V2 class is deprecated"
                        )
                        jobs.append(cls(mode=target, options=options).run(pubs))
        except Exception as exc:
            for job in jobs:
                self._cancel_job(job, quiet=True)
            if self.mode == "session":
                self.close()  # it may have expired: the retry opens a new one
            raise self._error("could not submit the batch", exc) from None
        finally:
            if self.mode == "batch":
                self._close(target)  # no more jobs in it; those submitted still run
        return jobs

    def _target(self) -> Any:
        """What the primitives run on: the device, a new Batch, or the open Session."""
        dev = self.device()
        try:
            if self.mode == "batch":
                return runtime.Batch(backend=dev)
            if self.mode == "session" and self._session is None:
                self._session = runtime.Session(backend=dev)
        except Exception as exc:
            raise self._error(f"could not open a runtime {self.mode}", exc) from None
        return self._session if self.mode == "session" else dev

    def close(self) -> None:
        """Close the runtime session of ``session`` mode (its running jobs still finish)."""
        session, self._session = self._session, None
        if session is not None:
            self._close(session)

    def _close(self, batch_or_session: Any) -> None:
        try:
            batch_or_session.close()
        except Exception as exc:
            log.warning("%s", self._error(f"could not close the runtime {self.mode}", exc))

    def _fetch(self, native_id: str) -> tuple[Handle, list[Any]]:
        """The handle and the runtime jobs of a native id, re-attaching by job id."""
        handle = Handle.decode(native_id)
        for job_id in handle.job_ids:
            if job_id not in self._jobs:
                service = self._runtime_service()
                try:
                    self._jobs[job_id] = service.job(job_id)
                except runtime.RuntimeJobNotFound:
                    raise NativeJobLost(native_id, "IBM Quantum does not know the job") from None
                except Exception as exc:
                    raise self._error(f"could not fetch job {job_id}", exc) from None
        return handle, [self._jobs[job_id] for job_id in handle.job_ids]

    def status(self, native_id: str) -> BackendStatus:
        """The jobs' states together: any failure fails the batch; done when all are done."""
        if self.local:
            self._results.get(native_id)
            return BackendStatus(state=TaskState.COMPLETED, native_state="DONE")
        _, jobs = self._fetch(native_id)
        try:
            natives = [native_state(job.status()) for job in jobs]
            failed = [job for job, s in zip(jobs, natives, strict=True) if s == "ERROR"]
            message = str(failed[0].error_message() or "the job failed") if failed else ""
        except Exception as exc:
            raise self._error("could not read the job status", exc) from None
        states = [job_state(s) for s in natives]
        order = (TaskState.FAILED, TaskState.CANCELLED, TaskState.RUNNING, TaskState.QUEUED)
        state = next((s for s in order if s in states), TaskState.COMPLETED)
        if state is TaskState.CANCELLED:
            message = "cancelled"
        return BackendStatus(
            state=state, message=self._scrub(message), native_state=",".join(natives)
        )

    def cancel(self, native_id: str) -> None:
        """Cancel every job still queued or running (finished ones are left alone)."""
        if not self.local:  # a local batch has finished inside submit
            for job in self._fetch(native_id)[1]:
                self._cancel_job(job)

    def _cancel_job(self, job: Any, quiet: bool = False) -> None:
        try:
            if not job_state(job.status()).final:
                job.cancel()
        except runtime.RuntimeInvalidStateError:
            pass  # it finished meanwhile
        except Exception as exc:
            error = self._error(f"could not cancel job {job.job_id()}", exc)
            if not quiet:
                raise error from None
            log.warning("%s", error)

    def result(self, native_id: str) -> QuantumResult:
        """The batch's results; for failed or cancelled jobs, no items and the reason."""
        if self.local:
            return self._results.get(native_id)
        handle, jobs = self._fetch(native_id)
        status = self.status(native_id)
        if status.state is not TaskState.COMPLETED:
            result = self._assemble(handle, jobs, [], (0.0, None))
            result.metadata["error"] = status.message
            return result
        try:
            outputs = [job.result() for job in jobs]
        except Exception as exc:
            raise self._error("could not fetch the results", exc) from None
        result = self._assemble(handle, jobs, outputs, job_times(jobs))
        for job_id in handle.job_ids:
            self._jobs.pop(job_id, None)  # the broker has what it needs; a later call re-fetches
        return result

    def _assemble(
        self,
        handle: Handle,
        jobs: list[Any],
        outputs: list[Any],
        times: tuple[float, float | None],
    ) -> QuantumResult:
        """Fold the primitive results back into items (:func:`~backends.ibm_convert.assemble`)."""
        return assemble(
            handle,
            jobs,
            outputs,
            times,
            backend=self.name,
            backend_version=runtime_version(),
            device=self._device.name if self._device is not None else self.device_name,
            metadata={"mode": self.mode, "optimization_level": self.optimization_level},
        )

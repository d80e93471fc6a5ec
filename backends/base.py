"""The two backend contracts: where classical and quantum tasks run.

A backend is driven by a broker worker through four calls, always in this order for one
task: ``submit`` once, ``status`` until a final state, then ``result``; ``cancel`` at any
time. The guarantees below are what the broker relies on; every implementation keeps them,
and the contract suites (``tests/integration/backends/test_classical_contract.py``,
``test_quantum_agreement.py``) check them.

Guarantees shared by both contracts:

- ``submit`` returns a *native id* that identifies the work at the backend. The broker
  records it before acknowledging the message that asked for the work, so that a redelivered
  message re-attaches with ``status(native_id)`` instead of submitting twice. If ``submit``
  raises, nothing was started.
- ``status`` never changes anything. A final state, once reported, is reported again by
  every later call for that native id (until the backend forgets it: then
  :class:`~backends.errors.NativeJobLost`).
- ``cancel`` is idempotent: cancelling finished or already-cancelled work is not an error.
  After it returns, the work is stopped or will never start.
- ``result`` is only called after a final state. For ``COMPLETED`` it returns the full
  result; for ``FAILED`` or ``TIMEOUT`` it returns what there is (a classical task's exit code
  and output), never raising for the failure itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, field_validator, model_validator

from backends.errors import BackendError
from backends.identity import check_variables
from backends.options import BackendOptions, validate
from backends.states import TaskState
from circuits.observables import PauliSum


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BackendStatus(_Model):
    """A backend's answer to ``status``: the state and, when useful, why."""

    state: TaskState
    message: str = ""
    native_state: str | None = Field(default=None, description="The backend's own word for it.")


class Capabilities(_Model):
    """What a backend offers; admission and the scheduler read it."""

    kind: Literal["classical", "quantum"]
    version: str = Field(description="Version of the backend's software (SDK, Slurm, ...).")
    max_qubits: int | None = None
    basis_gates: list[str] | None = None
    exact: bool = Field(default=False, description="Can compute exact expectation values.")
    max_shots: int | None = None
    max_concurrency: int = Field(default=1, ge=1, description="Tasks it runs at once.")
    size: float | None = Field(
        default=None,
        description="The whole backend in task-size units, for the priority's size factor: "
        "a classical backend's nodes; a quantum backend's qubits (``max_qubits`` when not "
        "given). None: it cannot say.",
    )
    reattach: bool = Field(
        default=True,
        description="Whether a native id stays valid after the worker process restarts.",
    )
    poll_seconds: float = Field(
        default=0.0, ge=0, description="Shortest sensible interval between status calls."
    )

    details: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _quantum_size(self) -> Capabilities:
        """A quantum backend's size is its qubits unless it says otherwise."""
        if self.size is None and self.kind == "quantum" and self.max_qubits:
            self.size = float(self.max_qubits)
        return self


# --- classical ---------------------------------------------------------------------------


class ClassicalSpec(_Model):
    """A classical task: a command, or a Python ``module:function`` that exists where it runs.

    With ``entrypoint``, the function is called with ``payload`` (JSON) as its only argument
    and its JSON-serializable return value becomes the result's ``output``.

    ``env`` is what the job declared (added to the clean environment every task starts
    from: see :mod:`backends.identity`). ``run_as`` and ``secret_env`` are set by the broker
    just before it hands the task to a backend, never by a job: the Unix account the task
    runs as, and variables (a driver's token) that reach the task's process only: they are
    left out of every serialization, so no file, store row or log holds them.
    """

    name: str = "qcb-task"
    argv: list[str] | None = None
    entrypoint: str | None = Field(default=None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    payload: Any = None
    env: dict[str, str] = Field(default_factory=dict)
    nodes: int = Field(default=1, ge=1)
    ntasks: int = Field(default=1, ge=1)
    cpus_per_task: int = Field(default=1, ge=1)
    mem_mb: int | None = Field(default=None, ge=1)
    time_limit_s: int | None = Field(default=None, ge=1)
    partition: str | None = None
    account: str | None = None
    run_as: str | None = Field(default=None, description="Unix account (set by the broker).")
    secret_env: dict[str, str] = Field(default_factory=dict, exclude=True, repr=False)

    @field_validator("env", "secret_env")
    @classmethod
    def _variables(cls, env: dict[str, str]) -> dict[str, str]:
        check_variables(env)
        return env


class ClassicalResult(_Model):
    """What a classical task left behind."""

    exit_code: int | None
    stdout: str = ""
    stderr: str = ""
    output: Any = None
    nodes: list[str] = Field(default_factory=list)
    elapsed_s: float | None = None
    usage: dict[str, float] = Field(
        default_factory=dict, description="What to charge, by unit, from the backend's record."
    )


# --- quantum -----------------------------------------------------------------------------


class QuantumItem(_Model):
    """One circuit with the parameter sets to run it at.

    With ``observables`` the item asks for expectation values (one per observable and
    parameter set); without, for counts of the circuit's measurements.
    """

    circuit: str = Field(description="Canonical OpenQASM 3 text.")
    parameter_values: list[list[FiniteFloat]] = Field(
        default_factory=lambda: [list[float]()], description="Finite numbers only."
    )
    observables: list[PauliSum] = Field(default_factory=list)


class QuantumBatch(_Model):
    """All circuits of one algorithm step, sent to a backend in as few calls as it allows.

    ``shots=None`` asks for exact results (only for backends with ``exact`` capability).
    """

    items: list[QuantumItem] = Field(min_length=1)
    shots: int | None = Field(default=None, ge=1)
    seed: int | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class ItemResult(_Model):
    """Results for one :class:`QuantumItem`.

    With observables: ``expectation_values`` and ``std_errors`` indexed
    ``[parameter_set][observable]`` (standard errors are 0 for exact results). Without:
    ``counts`` and ``quasi_probabilities``, one dict per parameter set, keyed by bitstrings in
    Qiskit order (clbit 0 rightmost).
    """

    expectation_values: list[list[float]] | None = None
    std_errors: list[list[float]] | None = None
    counts: list[dict[str, int]] | None = None
    quasi_probabilities: list[dict[str, float]] | None = None


class QuantumResult(_Model):
    """Results of a batch, in one shape whatever the backend."""

    items: list[ItemResult]
    backend: str
    backend_version: str
    method: str
    shots: int | None
    seed: int | None
    circuit_evaluations: int = Field(description="Circuits x parameter sets executed.")
    shots_total: int = Field(default=0, description="Shots taken over every circuit run.")
    run_seconds: float = Field(description="Time the backend spent running the batch.")
    queue_seconds: float | None = Field(
        default=None, description="Time the batch waited at the provider before it ran."
    )
    native_ids: list[str] = Field(
        default_factory=list, description="The provider's own job ids (one per native call)."
    )
    calls: int = Field(default=1, ge=0, description="Native calls the batch took.")
    device: str | None = Field(default=None, description="Device or simulator model used.")
    calibration_time: str | None = Field(
        default=None, description="When the device's calibration data was taken (ISO 8601)."
    )
    metadata: dict[str, Any] = Field(default_factory=dict)


# --- the contracts -----------------------------------------------------------------------


class Backend(ABC):
    """What both contracts share. Subclasses set ``name`` and ``Options``.

    A backend is built from its validated options (what :mod:`backends.registry` hands it),
    or from the options as keywords, which are validated here: ``AerBackend(method="...")``.
    ``config`` is the validated model; ``options`` what was given, credentials hidden.
    """

    name: ClassVar[str]
    Options: ClassVar[type[BackendOptions]] = BackendOptions

    def __init__(self, config: BackendOptions | None = None, /, **options: Any) -> None:
        if config is None:
            config = self.validate_options(options)
        elif options:
            raise TypeError(f"{type(self).__name__} takes its options as a model or keywords")
        elif not isinstance(config, self.Options):
            raise BackendError(
                f"options for {self.name} must be {self.Options.__name__}, "
                f"not {type(config).__name__}"
            )
        self.config = config
        self.options: Mapping[str, Any] = MappingProxyType(config.shown())

    @classmethod
    def validate_options(cls, given: Mapping[str, Any]) -> BackendOptions:
        """``given`` as this backend's :attr:`Options`, or a :class:`BackendError` naming the
        backend, the option and what is wrong (for unknown options, the valid ones)."""
        return validate(cls.Options, cls.name, given)

    @abstractmethod
    def capabilities(self) -> Capabilities:
        """Describe the backend; cheap and side-effect free."""

    @abstractmethod
    def status(self, native_id: str) -> BackendStatus:
        """Report the state of submitted work without changing it."""

    @abstractmethod
    def cancel(self, native_id: str) -> None:
        """Stop the work; idempotent, and not an error for finished work."""


class ClassicalBackend(Backend):
    """Runs classical tasks: subprocesses, Slurm jobs, pilot workers.

    ``charge_unit`` is the unit its tasks are charged in; ``result().usage`` reports it.
    ``hosted`` backends run inside workers that they start themselves (pilot jobs), so the
    broker's own workers leave their queue alone.
    """

    charge_unit: ClassVar[str] = "core_hours"
    hosted: ClassVar[bool] = False

    @abstractmethod
    def submit(self, spec: ClassicalSpec, *, task_id: str) -> str:
        """Start ``spec`` and return its native id. Raises without starting anything."""

    @abstractmethod
    def result(self, native_id: str) -> ClassicalResult:
        """Exit code, output and placement of finished work (failed work included)."""

    def refusal(self, spec: ClassicalSpec) -> str | None:
        """Why ``spec`` can never run here (naming the limit it breaks), or None.

        The broker asks before admitting a job, so a task that cannot run is refused at
        submission instead of waiting for ever; ``submit`` refuses the same tasks.
        """
        return None


class QuantumBackend(Backend):
    """Runs batches of circuits: simulators and hardware providers."""

    @abstractmethod
    def submit(self, batch: QuantumBatch, *, task_id: str) -> str:
        """Send the whole batch (in as few native calls as possible); return its native id."""

    @abstractmethod
    def result(self, native_id: str) -> QuantumResult:
        """The batch's results, one :class:`ItemResult` per item, in order."""

"""QPU seconds a job may use, estimated at admission from each backend's timing model, so
that a hard ``qpu_seconds`` budget holds them (and refuses a job that would pass it, naming
the estimate). What a task is charged is what the provider reports it used
(``QuantumResult.run_seconds``: IBM's quantum seconds, IonQ's execution time, Braket's
task span), and the hold is released at the job's end as for every other unit.

A model is two figures: ``per_circuit_s`` (one circuit, or one parameter set, loaded and
run: the provider's per-job overhead spread over a batch) and ``per_shot_s`` (one
repetition: the circuit, measurement and reset). The defaults below are rough public
figures; a facility sets its own per backend in the backends file
(``ibm: {timing: {per_circuit_s: 1.5, per_shot_s: 0.0003}}``). Circuit depth is not in
the model: a shot's time is dominated by the repetition delay on today's devices.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from backends import registry
from backends.errors import BackendError
from broker import backend_config
from broker.config import Settings
from broker.errors import BrokerError
from policies.admission import Need
from policies.schema import Policy


class Timing(BaseModel):
    """How long a quantum backend takes, for admission's estimate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_circuit_s: float = Field(
        ge=0, allow_inf_nan=False, description="One circuit or parameter set."
    )
    per_shot_s: float = Field(ge=0, allow_inf_nan=False, description="One repetition of a circuit.")
    source: str = ""

    def seconds(self, circuits: float, shots: float) -> float:
        """The estimate for ``circuits`` evaluations and ``shots`` repetitions in all."""
        return circuits * self.per_circuit_s + shots * self.per_shot_s


IBM = Timing(
    per_circuit_s=1.0,
    per_shot_s=250e-6,
    source="IBM Quantum: default rep_delay 250 us per shot; about a second per PUB of "
    "overhead in its usage reports",
)
DEFAULTS: dict[str, Timing] = {
    "ibm": IBM,
    "qrmi": IBM,
    "ionq": Timing(
        per_circuit_s=1.0, per_shot_s=0.01, source="trapped ions: milliseconds per shot"
    ),
    "braket": Timing(
        per_circuit_s=1.0, per_shot_s=0.001, source="Braket QPUs: a task's overhead and shots"
    ),
}
SIMULATOR = Timing(per_circuit_s=0.01, per_shot_s=1e-6, source="local simulators: small circuits")


def timing(name: str, configured: dict[str, Any] | None) -> Timing:
    """A backend's model: the backends file's ``timing``, else the default for its name."""
    if configured is not None:
        try:
            return Timing.model_validate(configured)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            raise BrokerError(
                f"backends file: {name}.timing: {problems}",
                hint="give per_circuit_s and per_shot_s, both seconds >= 0",
            ) from None
    return DEFAULTS.get(name, SIMULATOR)


def estimated(needs: list[Need], policy: Policy, settings: Settings) -> list[Need]:
    """``needs`` plus an estimated ``qpu_seconds`` need for each quantum backend the policy
    counts in QPU seconds and the job did not estimate itself (the model from the
    backends file of ``settings``, else the default)."""
    out = list(needs)
    by_backend: dict[str, dict[str, float]] = {}
    for n in needs:
        units = by_backend.setdefault(n.backend, {})
        units[n.unit] = units.get(n.unit, 0.0) + n.amount
    for backend, units in by_backend.items():
        counted = policy.backends.get(backend)
        if counted is None or "qpu_seconds" not in counted.units or "qpu_seconds" in units:
            continue
        if "evaluations" not in units or not _quantum(backend):
            continue
        model = timing(backend, backend_config.timing(settings, backend))
        seconds = model.seconds(units["evaluations"], units.get("shots", 0.0))
        out.append(Need(backend, "qpu_seconds", seconds))
    return out


def _quantum(name: str) -> bool:
    try:
        return registry.declared_kind(name) == "quantum"
    except BackendError:  # not registered here: admission refuses it with the list
        return False

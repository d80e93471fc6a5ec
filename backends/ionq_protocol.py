"""IonQ's REST API v0.4 without the network: circuits to its ``qis`` JSON, its answers back.

What the API expects and returns (https://docs.ionq.com/api-reference/v0.4, OpenAPI
``https://api.ionq.co/v0.4/api-docs``):

- A job is ``POST /jobs`` with ``type`` ``ionq.circuit.v1`` (``input`` = ``{qubits, gateset:
  "qis", circuit}``) or ``ionq.multi-circuit.v1`` (``input.circuits``: up to 5,000 circuits and
  150,000 gates), plus ``backend``, ``shots`` (at most 1,000,000; ignored by the ideal
  simulator), ``name``, ``metadata`` (string values) and, for the simulator, ``noise``.
- A ``qis`` gate is ``{"gate", "target" | "targets", "control" | "controls", "rotation"}``.
  Controlled and multi-controlled variants are written with ``control``/``controls``.
- Every qubit is measured once at the end. ``GET /jobs/{id}/results/probabilities`` maps the
  measured state, as a decimal integer in which qubit 0 is the least significant bit, to its
  probability; a multi-circuit job's answer is keyed by child job id (``child_job_ids``
  order is the circuits' order).

Canonical gates become ``qis`` gates with the same unitary up to global phase: controlled
forms only where the controlled matrix is unambiguous (X, Y, Z), everything else from
``cnot`` and uncontrolled gates, so that no gate's phase convention can matter.
"""

from __future__ import annotations

import base64
import gzip
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from backends.base import BackendStatus
from backends.errors import BackendError
from backends.states import TaskState
from circuits import expressions
from circuits.errors import CircuitError
from circuits.ir import CircuitIR

API_VERSION = "v0.4"
MAX_SHOTS = 1_000_000
MAX_CIRCUITS_PER_JOB = 5_000
MAX_GATES_PER_JOB = 150_000
METADATA_VALUE_CHARS = 40_000  # 10 keys of at most 40,000 characters (API core concepts)
METADATA_CHUNKS = 8

Gate = dict[str, Any]
Matrix = np.ndarray[Any, np.dtype[np.complex128]]

_QUEUED = dict.fromkeys(("submitted", "ready"), TaskState.QUEUED)
_STATES = _QUEUED | dict.fromkeys(("started", "running"), TaskState.RUNNING)
_STATES |= {"completed": TaskState.COMPLETED, "failed": TaskState.FAILED}
_STATES |= dict.fromkeys(("canceled", "cancelled"), TaskState.CANCELLED)


@dataclass(frozen=True)
class QisCircuit:
    """One bound circuit as IonQ ``qis`` gates, and which qubit each clbit reads."""

    qubits: int
    gates: tuple[Gate, ...]
    measured: tuple[tuple[int, int], ...]  # (qubit, clbit), in program order
    num_clbits: int


# --- canonical IR -> qis -----------------------------------------------------------------


def _g(name: str, target: int, rotation: float | None = None, **extra: Any) -> Gate:
    gate: Gate = {"gate": name, "target": target, **extra}
    if rotation is not None:
        gate["rotation"] = rotation
    return gate


def _two(name: str, a: int, b: int, rotation: float) -> Gate:
    return {"gate": name, "targets": [a, b], "rotation": rotation}


def _crz(c: int, t: int, theta: float, axis: str = "rz") -> list[Gate]:
    # Controlled rotation from two cnots: X R(-a) X = R(a) for R = Ry or Rz.
    return [
        _g(axis, t, theta / 2),
        _g("cnot", t, control=c),
        _g(axis, t, -theta / 2),
        _g("cnot", t, control=c),
    ]


def _ccx(a: int, b: int, t: int) -> Gate:
    return {"gate": "cnot", "controls": [a, b], "target": t}


_Rule = Callable[[tuple[int, ...], list[float]], list[Gate]]
_SAME = {"x": "x", "y": "y", "z": "z", "h": "h", "s": "s", "sdg": "si", "t": "t", "tdg": "ti"}
_SAME |= {"sx": "v", "sxdg": "vi", "rx": "rx", "ry": "ry", "rz": "rz", "p": "rz"}
_RULES: dict[str, _Rule] = {
    "u": lambda q, a: [_g("rz", q[0], a[2]), _g("ry", q[0], a[0]), _g("rz", q[0], a[1])],
    "cx": lambda q, a: [_g("cnot", q[1], control=q[0])],
    "cy": lambda q, a: [_g("y", q[1], control=q[0])],
    "cz": lambda q, a: [_g("z", q[1], control=q[0])],
    "ch": lambda q, a: [
        _g("ry", q[1], -math.pi / 4),
        _g("z", q[1], control=q[0]),
        _g("ry", q[1], math.pi / 4),
    ],
    "swap": lambda q, a: [{"gate": "swap", "targets": [q[0], q[1]]}],
    "crx": lambda q, a: [_g("h", q[1]), *_crz(q[0], q[1], a[0]), _g("h", q[1])],
    "cry": lambda q, a: _crz(q[0], q[1], a[0], "ry"),
    "crz": lambda q, a: _crz(q[0], q[1], a[0]),
    "cp": lambda q, a: [_g("rz", q[0], a[0] / 2), *_crz(q[0], q[1], a[0])],
    # IonQ's own Qiskit provider sends RXX(a) as xx(a): exp(-i a/2 X(x)X), likewise yy, zz.
    "rxx": lambda q, a: [_two("xx", q[0], q[1], a[0])],
    "ryy": lambda q, a: [_two("yy", q[0], q[1], a[0])],
    "rzz": lambda q, a: [_two("zz", q[0], q[1], a[0])],
    "ccx": lambda q, a: [_ccx(q[0], q[1], q[2])],
    "cswap": lambda q, a: [
        _g("cnot", q[1], control=q[2]),
        _ccx(q[0], q[1], q[2]),
        _g("cnot", q[1], control=q[2]),
    ],
}


def translate(ir: CircuitIR, values: Sequence[float]) -> QisCircuit:
    """The circuit bound to ``values`` (in ``ir.parameters`` order) as IonQ ``qis`` gates.

    Raises:
        BackendError: a reset, a gate on an already measured qubit (IonQ measures only at
            the end), or an angle that is not a finite number.
    """
    env = dict(zip(ir.parameters, (float(v) for v in values), strict=True))
    gates: list[Gate] = []
    measured: list[tuple[int, int]] = []
    done: set[int] = set()
    for index, op in enumerate(ir.ops):
        where = f"op {index} ({op.name} on qubits {list(op.qubits)})"
        if op.name in ("barrier", "id"):
            continue
        if op.condition is not None:
            raise BackendError(f"{where}: IonQ circuits cannot be classically controlled ('if')")
        if op.name == "measure":
            measured.append((op.qubits[0], op.clbits[0]))
            done.add(op.qubits[0])
            continue
        if op.name == "reset":
            raise BackendError(f"{where}: IonQ circuits cannot reset qubits")
        if done.intersection(op.qubits):
            raise BackendError(
                f"{where}: acts on a measured qubit; IonQ measures every qubit once, at the "
                "end of the circuit (move the measurement after the last gate)"
            )
        try:
            angles = [float(expressions.evaluate(p, env)) for p in op.params]
        except CircuitError as exc:
            raise BackendError(f"{where}: {exc}") from None
        if not all(math.isfinite(a) for a in angles):
            raise BackendError(f"{where}: angle {angles} is not a finite number")
        if op.name in _SAME:
            gates.append(_g(_SAME[op.name], op.qubits[0], angles[0] if angles else None))
        else:
            gates.extend(_RULES[op.name](op.qubits, angles))
    return QisCircuit(ir.num_qubits, tuple(gates), tuple(measured), ir.num_clbits)


# --- jobs ----------------------------------------------------------------------------------


def job_payloads(
    circuits: Sequence[QisCircuit],
    *,
    backend: str,
    shots: int,
    name: str,
    noise: Mapping[str, Any] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """``POST /jobs`` bodies running ``circuits`` in order, in as few jobs as IonQ allows.

    ``metadata`` goes on the first job only.
    """
    chunks: list[list[QisCircuit]] = [[]]
    gates = 0
    for circuit in circuits:
        size = len(circuit.gates)
        if size > MAX_GATES_PER_JOB:
            raise BackendError(f"a circuit has {size} gates; IonQ takes {MAX_GATES_PER_JOB}")
        full = len(chunks[-1]) >= MAX_CIRCUITS_PER_JOB or gates + size > MAX_GATES_PER_JOB
        if chunks[-1] and full:
            chunks.append([])
            gates = 0
        chunks[-1].append(circuit)
        gates += size
    payloads = []
    for index, chunk in enumerate(chunks):
        label = name if len(chunks) == 1 else f"{name}-{index}"
        body: dict[str, Any] = {"name": label, "backend": backend, "shots": shots}
        body["input"] = {"qubits": max(c.qubits for c in chunk), "gateset": "qis"}
        if len(chunk) == 1:
            body["type"] = "ionq.circuit.v1"
            body["input"]["circuit"] = list(chunk[0].gates)
        else:
            body["type"] = "ionq.multi-circuit.v1"
            body["input"]["circuits"] = [
                {"name": f"c{i}", "qubits": c.qubits, "circuit": list(c.gates)}
                for i, c in enumerate(chunk)
            ]
        if noise:
            body["noise"] = dict(noise)
        if metadata and index == 0:
            body["metadata"] = dict(metadata)
        payloads.append(body)
    return payloads


def encode_record(text: str) -> dict[str, str]:
    """``text`` gzipped and base64-encoded into metadata values (``qcb_batch_0``, ...)."""
    blob = base64.b64encode(gzip.compress(text.encode(), mtime=0)).decode()
    parts = [blob[i : i + METADATA_VALUE_CHARS] for i in range(0, len(blob), METADATA_VALUE_CHARS)]
    if len(parts) > METADATA_CHUNKS:
        raise BackendError(
            f"the batch needs {len(blob)} characters of IonQ job metadata to be re-attached "
            f"later; at most {METADATA_CHUNKS * METADATA_VALUE_CHARS} fit: split the batch"
        )
    return {"qcb_batch": str(len(parts)), **{f"qcb_batch_{i}": p for i, p in enumerate(parts)}}


def decode_record(metadata: Mapping[str, Any] | None) -> str | None:
    """The text :func:`encode_record` stored in a job's metadata, or None."""
    if not metadata or "qcb_batch" not in metadata:
        return None
    parts = [str(metadata[f"qcb_batch_{i}"]) for i in range(int(metadata["qcb_batch"]))]
    return gzip.decompress(base64.b64decode("".join(parts))).decode()


def job_status(job: Mapping[str, Any]) -> BackendStatus:
    """One IonQ job's ``status`` as a :class:`BackendStatus` (failure message included)."""
    word = str(job.get("status"))
    state = _STATES.get(word)
    if state is None:
        return BackendStatus(
            state=TaskState.QUEUED, message=f"unknown IonQ status {word!r}", native_state=word
        )
    message = ""
    if state is TaskState.FAILED:
        failure = job.get("failure") or {}
        what = failure.get("message") or failure.get("error") or "no reason given"
        message = f"IonQ job {job.get('id')} failed: {failure.get('code', 'error')}: {what}"
    elif state is TaskState.CANCELLED:
        message = f"IonQ job {job.get('id')} was canceled"
    return BackendStatus(state=state, message=message, native_state=word)


def combined_status(jobs: Sequence[Mapping[str, Any]]) -> BackendStatus:
    """The state of a batch spread over ``jobs``: failed or canceled if any job is."""
    states = [job_status(job) for job in jobs]
    words = ",".join(s.native_state or "" for s in states)
    for final in (TaskState.FAILED, TaskState.CANCELLED):
        hit = [s for s in states if s.state is final]
        if hit:
            return BackendStatus(state=final, message=hit[0].message, native_state=words)
    kinds = {s.state for s in states}
    if kinds == {TaskState.COMPLETED}:
        state = TaskState.COMPLETED
    elif kinds & {TaskState.RUNNING, TaskState.COMPLETED}:
        state = TaskState.RUNNING
    else:
        state = TaskState.QUEUED
    message = "; ".join(s.message for s in states if s.message)
    return BackendStatus(state=state, message=message, native_state=words)


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


def queue_seconds(jobs: Sequence[Mapping[str, Any]]) -> float | None:
    """Longest wait between submission and start over ``jobs`` (None if none started)."""
    waits = []
    for job in jobs:
        submitted, started = _time(job.get("submitted_at")), _time(job.get("started_at"))
        if submitted and started:
            waits.append(max(0.0, (started - submitted).total_seconds()))
    return max(waits) if waits else None


def run_seconds(jobs: Sequence[Mapping[str, Any]]) -> float:
    """Execution time over ``jobs``: ``execution_duration_ms``, else start to completion."""
    total = 0.0
    for job in jobs:
        if job.get("execution_duration_ms") is not None:
            total += float(job["execution_duration_ms"]) / 1000
            continue
        started, completed = _time(job.get("started_at")), _time(job.get("completed_at"))
        if started and completed:
            total += max(0.0, (completed - started).total_seconds())
    return total


# --- results -------------------------------------------------------------------------------


def _is_distribution(value: Any) -> bool:
    return isinstance(value, Mapping) and all(isinstance(p, int | float) for p in value.values())


def split_probabilities(data: Any, job: Mapping[str, Any]) -> list[dict[str, float]]:
    """One probability dict per circuit of ``job``, from its ``results/probabilities``."""
    if _is_distribution(data):
        return [dict(data)]
    if not isinstance(data, Mapping) or not all(_is_distribution(v) for v in data.values()):
        raise BackendError(f"IonQ job {job.get('id')} returned results of an unknown shape")
    order = job.get("child_job_ids") or list(data)
    missing = [child for child in order if child not in data]
    if missing:
        raise BackendError(f"IonQ job {job.get('id')} has no results for children {missing}")
    return [dict(data[child]) for child in order]


def clbit_distribution(probs: Mapping[str, float], circuit: QisCircuit) -> dict[str, float]:
    """IonQ's distribution over all qubits as one over the circuit's clbits (Qiskit order:
    clbit 0 rightmost; clbits never measured read 0)."""
    source = {clbit: qubit for qubit, clbit in circuit.measured}  # the last measurement wins
    width = circuit.num_clbits
    out: dict[str, float] = {}
    for key, p in probs.items():
        try:
            state, weight = int(key), float(p)
        except (TypeError, ValueError):
            raise BackendError(f"IonQ returned a malformed outcome {key!r}: {p!r}") from None
        if state < 0 or not math.isfinite(weight) or weight < 0:
            raise BackendError(f"IonQ returned a malformed outcome {key!r}: {p!r}")
        bits = ["0"] * width
        for clbit, qubit in source.items():
            if (state >> qubit) & 1:
                bits[width - 1 - clbit] = "1"
        bitstring = "".join(bits)
        out[bitstring] = out.get(bitstring, 0.0) + weight
    return out


def to_counts(
    distribution: Mapping[str, float], shots: int, rng: np.random.Generator | None = None
) -> dict[str, int]:
    """Counts totalling ``shots``: sampled with ``rng`` (exact probabilities of the ideal
    simulator), else rounded by largest remainder (frequencies of shots actually taken)."""
    keys = sorted(distribution)
    weights = np.array([distribution[k] for k in keys], dtype=float)
    if not keys or weights.sum() <= 0:
        raise BackendError("IonQ returned an empty probability distribution")
    weights /= weights.sum()
    if rng is not None:
        drawn = rng.multinomial(shots, weights)
    else:
        raw = weights * shots
        drawn = np.floor(raw).astype(int)
        for i in np.argsort(drawn - raw, kind="stable")[: shots - int(drawn.sum())]:
            drawn[i] += 1
    return {k: int(c) for k, c in zip(keys, drawn, strict=True) if c}

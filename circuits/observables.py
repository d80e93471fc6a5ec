"""Observables as weighted sums of Pauli strings (Hamiltonians for VQE/QAOA-style jobs).

Pauli strings use Qiskit's order: the rightmost character acts on qubit 0.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from qiskit.quantum_info import SparsePauliOp

from circuits.errors import ObservableError

__all__ = ["DENSE_QUBIT_LIMIT", "PauliSum", "PauliTerm", "validation_message"]

DENSE_QUBIT_LIMIT = 14
"""Largest number of qubits for which :meth:`PauliSum.to_matrix` builds a dense matrix."""

_NUMBER = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_TERM = re.compile(rf"\s*([+-])?\s*(?:({_NUMBER})\s*\*?\s*)?([A-Za-z]+)\s*")


class PauliTerm(BaseModel):
    """One term ``coeff * pauli``; ``pauli`` is a string over ``IXYZ``, qubit 0 rightmost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pauli: str = Field(
        json_schema_extra={"pattern": "^[IXYZ]+$"},
        description="A Pauli string such as XZI (qubit 0 rightmost).",
    )
    coeff: float = Field(description="Its real coefficient.")

    @field_validator("pauli")
    @classmethod
    def _letters(cls, value: str) -> str:
        if not value:
            raise ValueError("pauli string is empty")
        bad = sorted(set(value) - set("IXYZ"))
        if bad:
            raise ValueError(f"pauli string {value!r} has letters {bad}; only I, X, Y, Z allowed")
        return value

    @field_validator("coeff")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError(f"coefficient {value!r} is not finite")
        return value

    @property
    def is_identity(self) -> bool:
        """Whether the term is a multiple of the identity."""
        return set(self.pauli) == {"I"}


class PauliSum(BaseModel):
    """A real-weighted sum of Pauli strings, all on the same number of qubits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    terms: list[PauliTerm] = Field(description="Terms [pauli, coefficient], qubit 0 rightmost.")

    @model_validator(mode="before")
    @classmethod
    def _check_raw_terms(cls, data: Any) -> Any:
        # Name the offending term index in messages before pydantic's per-field errors.
        if isinstance(data, dict) and isinstance(data.get("terms"), list):
            for index, term in enumerate(data["terms"]):
                pauli = term.get("pauli") if isinstance(term, dict) else None
                if isinstance(pauli, str) and (not pauli or set(pauli) - set("IXYZ")):
                    raise ValueError(
                        f"term {index}: pauli string {pauli!r} must be non-empty and use only "
                        "the letters I, X, Y, Z"
                    )
        return data

    @field_validator("terms")
    @classmethod
    def _same_length(cls, terms: list[PauliTerm]) -> list[PauliTerm]:
        if not terms:
            raise ValueError("a Pauli sum needs at least one term")
        width = len(terms[0].pauli)
        for index, term in enumerate(terms):
            if len(term.pauli) != width:
                raise ValueError(
                    f"term {index} ({term.pauli!r}) has {len(term.pauli)} qubits but term 0 "
                    f"({terms[0].pauli!r}) has {width}; all terms must have the same length"
                )
        return terms

    @property
    def num_qubits(self) -> int:
        """Number of qubits the observable acts on."""
        return len(self.terms[0].pauli)

    @classmethod
    def from_list(cls, pairs: list[tuple[str, float]]) -> PauliSum:
        """Build from ``[("IZ", 0.5), ...]`` pairs."""
        return cls(terms=[PauliTerm(pauli=p, coeff=c) for p, c in pairs])

    @classmethod
    def from_sparse_pauli_op(cls, op: SparsePauliOp) -> PauliSum:
        """Build from a Qiskit ``SparsePauliOp`` with real coefficients (phases folded in)."""
        terms: list[PauliTerm] = []
        for index, (label, coeff) in enumerate(op.to_list()):
            value = complex(coeff)
            if abs(value.imag) > 1e-12 * max(1.0, abs(value.real)):
                raise ObservableError(
                    f"term {index} ({label}) has complex coefficient {value}",
                    hint="observables must be Hermitian: use real coefficients",
                )
            terms.append(PauliTerm(pauli=label, coeff=value.real))
        return cls(terms=terms)

    @classmethod
    def from_text(cls, text: str) -> PauliSum:
        """Parse ``"-1.05 * II + 0.39 * IZ - 0.01 * ZZ"`` (``*`` and coefficients optional)."""
        pairs: list[tuple[str, float]] = []
        position = 0
        stripped = text.strip()
        if not stripped:
            raise ObservableError("empty observable text", hint="write e.g. '0.5 * ZZ + 0.1 * XI'")
        while position < len(stripped):
            match = _TERM.match(stripped, position)
            index = len(pairs)
            if match is None or match.end() == position:
                raise ObservableError(
                    f"term {index}: cannot read {stripped[position : position + 20]!r}",
                    hint="write terms as '<coefficient> * <Pauli string>' joined by + or -",
                )
            sign, number, pauli = match.groups()
            if index > 0 and sign is None:
                raise ObservableError(f"term {index} ({pauli}): missing '+' or '-' before it")
            if set(pauli) - set("IXYZ"):
                raise ObservableError(
                    f"term {index}: {pauli!r} is not a Pauli string (letters I, X, Y, Z only)"
                )
            coeff = float(number) if number is not None else 1.0
            pairs.append((pauli, -coeff if sign == "-" else coeff))
            position = match.end()
        try:
            return cls.from_list(pairs)
        except ValidationError as exc:
            raise ObservableError(
                f"invalid observable {_clip(text)!r}: {validation_message(exc)}"
            ) from exc

    def to_sparse_pauli_op(self) -> SparsePauliOp:
        """The equivalent Qiskit ``SparsePauliOp`` (terms kept in order, not simplified)."""
        return SparsePauliOp.from_list([(t.pauli, t.coeff) for t in self.terms])

    def to_matrix(self) -> np.ndarray[Any, np.dtype[np.complex128]]:
        """Dense matrix in Qiskit's basis order (qubit 0 least significant)."""
        if self.num_qubits > DENSE_QUBIT_LIMIT:
            raise ObservableError(
                f"{self.num_qubits} qubits is too many for a dense matrix "
                f"(limit {DENSE_QUBIT_LIMIT})"
            )
        return np.asarray(self.to_sparse_pauli_op().to_matrix(), dtype=np.complex128)

    def ground_energy(self) -> float:
        """Smallest eigenvalue: dense up to 10 qubits, sparse Lanczos (scipy) above."""
        if self.num_qubits <= 10:
            return float(np.linalg.eigvalsh(self.to_matrix())[0])
        try:
            from scipy.sparse.linalg import eigsh
        except ImportError:  # pragma: no cover - scipy ships with qiskit today
            return float(np.linalg.eigvalsh(self.to_matrix())[0])
        matrix = self.to_sparse_pauli_op().to_matrix(sparse=True)
        values = eigsh(matrix, k=1, which="SA", return_eigenvectors=False)
        return float(np.real(values[0]))

    def expectation(self, statevector: np.ndarray[Any, Any]) -> float:
        """Exact expectation value in a state vector (Qiskit ordering)."""
        state = np.asarray(statevector, dtype=np.complex128)
        matrix = self.to_sparse_pauli_op().to_matrix(sparse=True)
        return float(np.real(np.vdot(state, matrix @ state)))

    def canonical_json(self) -> str:
        """Canonical JSON of the terms (in order; floats as ``repr``) used by :attr:`sha256`."""
        return json.dumps(
            [{"coeff": t.coeff, "pauli": t.pauli} for t in self.terms],
            separators=(",", ":"),
            sort_keys=True,
        )

    @property
    def sha256(self) -> str:
        """Hex sha256 of :meth:`canonical_json`."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def validation_message(exc: ValidationError) -> str:
    """The messages of a pydantic ``ValidationError`` without its boilerplate."""
    parts = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts)

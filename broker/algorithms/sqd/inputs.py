"""Inputs of ``algorithm: {name: sqd}``: the problem (a molecule, or integrals inline), the
sampling circuit, and how the configurations are recovered, subsampled and diagonalized."""

from __future__ import annotations

import functools
import json
import warnings
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_ORBITALS = 32
"""The most spatial orbitals (64 qubits): CI strings are 64-bit integers."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Molecule(_Strict):
    """A molecule for a classical task to build the problem of: pyscf's RHF (ROHF for
    ``spin`` > 0), frozen core orbitals, then an active space of the next orbitals."""

    atom: str | list[tuple[str, float, float, float]] = Field(
        description="'O 0 0 0; H 0 0.76 0.59; ...' or [[symbol, x, y, z], ...]."
    )
    basis: str = Field(default="sto-3g", description="Basis set: sto-3g, 6-31g, ...")
    charge: int = Field(default=0, description="Total charge.")
    spin: int = Field(default=0, ge=0, description="2S: unpaired electrons.")
    unit: Literal["angstrom", "bohr"] = Field(
        default="angstrom", description="Unit of the geometry."
    )
    frozen_core: bool | int = Field(
        default=False,
        description="Core orbitals left doubly occupied: a number, or true for the chemical core.",
    )
    active_orbitals: int | None = Field(
        default=None, ge=1, le=MAX_ORBITALS, description="Default: every orbital left."
    )

    @field_validator("frozen_core")
    @classmethod
    def _non_negative(cls, value: bool | int) -> bool | int:
        if not isinstance(value, bool) and value < 0:
            raise ValueError("must be true, false or a number of orbitals >= 0")
        return value

    def payload(self) -> dict[str, Any]:
        """JSON for the problem task (atoms in pyscf's list form)."""
        data = self.model_dump()
        if isinstance(self.atom, list):
            data["atom"] = [[sym, [x, y, z]] for sym, x, y, z in self.atom]
        return data


class InlineIntegrals(_Strict):
    """The Hamiltonian given directly: ``constant + Σ h_pq a†p aq + ½ Σ (pq|rs) a†p a†r as aq``
    in any orthonormal basis of ``norb`` spatial orbitals (rotated to its Hartree-Fock
    orbitals before sampling)."""

    norb: int = Field(ge=1, le=MAX_ORBITALS, description="Spatial orbitals.")
    nelec: tuple[int, int] = Field(description="[alpha, beta] electrons.")
    one_body: list[list[float]] = Field(description="One-electron integrals, norb x norb.")
    two_body: list[Any] = Field(
        description="(pq|rs) as a norb^4 nested list, or packed by 8-fold symmetry (flat)."
    )
    constant: float = Field(default=0.0, description="E.g. nuclear repulsion and frozen core.")

    @model_validator(mode="after")
    def _shapes(self) -> InlineIntegrals:
        n = self.norb
        if any(not 0 <= k <= n for k in self.nelec):
            raise ValueError(f"nelec: each count must be between 0 and norb ({n})")
        h = np.asarray(self.one_body, dtype=float)
        if h.shape != (n, n):
            raise ValueError(f"one_body: must be {n} x {n}, got shape {list(h.shape)}")
        if not np.allclose(h, h.T, atol=1e-8):
            raise ValueError("one_body: must be symmetric")
        try:
            g = np.asarray(self.two_body, dtype=float)
        except (TypeError, ValueError):
            raise ValueError("two_body: must be numbers in a regular nested list") from None
        pairs = n * (n + 1) // 2
        if g.shape != (n, n, n, n) and g.shape != (pairs * (pairs + 1) // 2,):
            raise ValueError(
                f"two_body: must be {n}x{n}x{n}x{n} or a flat list of "
                f"{pairs * (pairs + 1) // 2} (8-fold packed), got shape {list(g.shape)}"
            )
        return self


class LUCJAnsatz(_Strict):
    """The LUCJ ansatz (local unitary cluster Jastrow) from CCSD amplitudes, built with
    ``ffsim`` by the problem task; needs a closed-shell system."""

    kind: Literal["lucj"] = Field(description="lucj")
    n_reps: int = Field(default=2, ge=1, le=10, description="Layers kept of the t2 expansion.")


class QasmAnsatz(_Strict):
    """A fixed circuit in OpenQASM that measures ``2 * norb`` qubits: qubit ``p`` is alpha
    orbital ``p``, qubit ``norb + p`` beta orbital ``p`` (Jordan-Wigner)."""

    kind: Literal["qasm"] = Field(description="qasm")
    qasm: str = Field(description="OpenQASM 3 text.")


Ansatz = Annotated[LUCJAnsatz | QasmAnsatz, Field(discriminator="kind")]


class SolverOptions(_Strict):
    """How each batch builds its subspace and diagonalizes in it (pyscf's selected CI)."""

    symmetrize_spin: bool = Field(
        default=True, description="One set of strings for both spins (needs alpha == beta)."
    )
    max_dim: int | None = Field(default=None, ge=1, description="Most CI strings per spin.")
    carryover_threshold: float = Field(
        default=1e-4,
        ge=0,
        lt=1,
        description="Strings of configurations above this amplitude seed the next iteration.",
    )
    spin_sq: float | None = Field(default=None, ge=0, description="Target S^2, if imposed.")
    max_cycle: int = Field(default=100, ge=1, description="Davidson iterations.")
    tol: float | None = Field(default=None, gt=0, description="Davidson convergence (energy).")


class SQDInputs(_Strict):
    """Inputs of ``algorithm: {name: sqd}``: a ``molecule`` or ``integrals`` (exactly one),
    the sampling circuit, and the configuration-recovery loop."""

    molecule: Molecule | None = Field(
        default=None, description="The molecule (geometry, basis, ...)."
    )
    integrals: InlineIntegrals | None = Field(
        default=None, description="Or its integrals, given inline."
    )
    ansatz: Ansatz = Field(
        default=LUCJAnsatz(kind="lucj"), description="lucj (built from the problem) or qasm."
    )
    shots: int = Field(
        default=100_000, ge=1, le=100_000_000, description="Shots of each sampling task."
    )
    iterations: int = Field(
        default=5, ge=1, le=100, description="Most configuration-recovery rounds."
    )
    num_batches: int = Field(
        default=3, ge=1, le=64, description="Subsamples per round: classical tasks at once."
    )
    samples_per_batch: int = Field(
        default=100, ge=1, description="Samples in each configuration batch."
    )
    solver: SolverOptions = Field(
        default=SolverOptions(), description="Options of the diagonalization."
    )
    energy_tol: float = Field(
        default=1e-8, ge=0, description="Stop early when the best energy changes less than this"
    )
    occupancies_tol: float = Field(
        default=1e-5, ge=0, description="and the mean occupancies less than this between rounds."
    )
    reference: bool = Field(default=True, description="Compute the FCI energy when small.")
    reference_max_determinants: int = Field(
        default=1_000_000, ge=1, description="Largest space for the exact reference."
    )
    problem_time_limit_s: int = Field(
        default=600, ge=1, description="Time limit of the problem task, s."
    )
    batch_time_limit_s: int = Field(
        default=600, ge=1, description="Time limit of each diagonalization, s."
    )


@functools.lru_cache(maxsize=32)
def _molecule_shape(key: str) -> tuple[int, tuple[int, int]]:
    from broker.algorithms.sqd.chemistry import build_molecule, frozen_core_count

    spec = json.loads(key)
    mol = build_molecule(spec)
    ncore = frozen_core_count(mol, spec.get("frozen_core", False))
    nmo = int(mol.nao_nr())
    norb = int(spec.get("active_orbitals") or nmo - ncore)
    na, nb = mol.nelec
    if norb < 1:
        raise ValueError(f"{ncore} frozen orbitals leave none of the {nmo} orbitals active")
    if ncore + norb > nmo:
        raise ValueError(
            f"{ncore} frozen and {norb} active orbitals, but the basis has {nmo} orbitals"
        )
    nelec = (int(na) - ncore, int(nb) - ncore)
    if min(nelec) < 0:
        raise ValueError(f"{ncore} frozen orbitals hold more than the {na + nb} electrons")
    if max(nelec) > norb:
        raise ValueError(f"{nelec[0]}+{nelec[1]} electrons do not fit {norb} active orbitals")
    return norb, nelec


def problem_shape(inputs: SQDInputs) -> tuple[int, tuple[int, int]]:
    """Spatial orbitals and (alpha, beta) electrons of the problem, known at submission.

    Raises ``ValueError`` (with pyscf's words) for a molecule pyscf cannot build or whose
    active space does not fit.
    """
    if inputs.integrals is not None:
        return inputs.integrals.norb, inputs.integrals.nelec
    assert inputs.molecule is not None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyscf suggests basis-set-exchange on a typo
            return _molecule_shape(json.dumps(inputs.molecule.payload(), sort_keys=True))
    except ValueError:
        raise
    except Exception as exc:  # pyscf raises plain errors for unknown atoms, bases, spins
        words = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        raise ValueError(words or type(exc).__name__) from None

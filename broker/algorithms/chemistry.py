"""Building the H2 qubit Hamiltonian from scratch: a classical "problem building" task.

The chain is the textbook one (Szabo & Ostlund, ch. 3): STO-3G contracted s Gaussians on
each hydrogen, analytic one- and two-electron integrals, a restricted Hartree-Fock SCF, the
transformation to molecular orbitals, second quantization over spin orbitals (alpha block
first, then beta), the Jordan-Wigner encoding on 4 qubits, and the parity encoding with
two-qubit reduction to 2 qubits in the sector of one alpha and one beta electron.

Everything works with dense matrices in Qiskit's basis order (bit ``j`` of a basis index is
qubit ``j``; in Pauli labels qubit 0 is the rightmost character). :func:`h2` is the entry
point (``module:function``) a classical backend runs: it takes and returns JSON only.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from circuits.observables import PauliSum

__all__ = [
    "BOHR_ANGSTROM",
    "STO3G_COEFFICIENTS",
    "STO3G_EXPONENTS",
    "ContractedGaussian",
    "H2Problem",
    "Integrals",
    "SCFResult",
    "ao_integrals",
    "boys0",
    "build_h2",
    "fermion_matrix",
    "h2",
    "mo_integrals",
    "parity_reduce",
    "pauli_decompose",
    "rhf",
]

Array = np.ndarray[Any, np.dtype[Any]]

BOHR_ANGSTROM = 0.52917721092
"""One bohr in ångström (CODATA 2010, the value PySCF uses)."""

STO3G_EXPONENTS = (3.42525091, 0.62391373, 0.16885540)
"""Primitive exponents of the H 1s STO-3G function (zeta = 1.24), in bohr^-2."""

STO3G_COEFFICIENTS = (0.15432897, 0.53532814, 0.44463454)
"""Contraction coefficients of the H 1s STO-3G function, for normalized primitives."""

DEFAULT_BOND_LENGTH = 0.735
"""Bond length (Å) used when the payload gives none."""


class ContractedGaussian(NamedTuple):
    """A normalized contracted s Gaussian: ``norm * sum_k d_k g_k(r - center)``."""

    center: tuple[float, float, float]
    exponents: tuple[float, ...]
    coefficients: tuple[float, ...]


@dataclass(frozen=True)
class Integrals:
    """Atomic-orbital integrals: overlap, kinetic, nuclear attraction, (pq|rs) chemist order."""

    overlap: Array
    kinetic: Array
    nuclear: Array
    eri: Array


@dataclass(frozen=True)
class SCFResult:
    """A converged RHF solution: electronic energy, MO coefficients (columns), MO energies."""

    energy: float
    coefficients: Array
    orbital_energies: Array


@dataclass(frozen=True)
class H2Problem:
    """The H2 Hamiltonian in both encodings, with its nuclear repulsion and HF energy."""

    jordan_wigner: PauliSum
    reduced: PauliSum
    energy_offset: float
    hf_energy: float


def boys0(t: float) -> float:
    """The Boys function F0(t) = ∫0^1 exp(-t x²) dx (series near zero)."""
    if t < 1e-8:
        return 1.0 - t / 3.0
    return 0.5 * math.sqrt(math.pi / t) * math.erf(math.sqrt(t))


def _primitive_norm(a: float) -> float:
    return float((2.0 * a / math.pi) ** 0.75)


def _kron(factors: list[Array]) -> Array:
    """Kronecker product of ``factors``, the first one acting on the highest qubit."""
    result: Array = np.ones((1, 1))
    for factor in factors:
        result = np.kron(result, factor)
    return result


def _gaussian_product(a: float, ra: Array, b: float, rb: Array) -> tuple[float, Array, float]:
    """Exponent, center and prefactor exp(-ab/(a+b)|A-B|²) of the product of two s Gaussians."""
    p = a + b
    prefactor = math.exp(-a * b / p * float(np.dot(ra - rb, ra - rb)))
    return p, (a * ra + b * rb) / p, prefactor


def _one_electron(
    f: ContractedGaussian, g: ContractedGaussian, nuclei: list[tuple[Array, float]]
) -> tuple[float, float, float]:
    """Unnormalized contracted overlap, kinetic and nuclear-attraction integrals of f, g."""
    ra, rb = np.array(f.center), np.array(g.center)
    ab2 = float(np.dot(ra - rb, ra - rb))
    s = t = v = 0.0
    for a, da in zip(f.exponents, f.coefficients, strict=True):
        for b, db in zip(g.exponents, g.coefficients, strict=True):
            p, rp, k = _gaussian_product(a, ra, b, rb)
            w = da * db * _primitive_norm(a) * _primitive_norm(b)
            overlap = (math.pi / p) ** 1.5 * k
            s += w * overlap
            t += w * a * b / p * (3.0 - 2.0 * a * b / p * ab2) * overlap
            for rc, charge in nuclei:
                pc2 = float(np.dot(rp - rc, rp - rc))
                v -= w * 2.0 * math.pi / p * charge * k * boys0(p * pc2)
    return s, t, v


def _two_electron(fs: tuple[ContractedGaussian, ...]) -> float:
    """Unnormalized contracted (ab|cd) over four s functions."""
    centers = [np.array(f.center) for f in fs]
    total = 0.0
    for (a, da), (b, db), (c, dc), (d, dd) in itertools.product(
        *(zip(f.exponents, f.coefficients, strict=True) for f in fs)
    ):
        p, rp, kab = _gaussian_product(a, centers[0], b, centers[1])
        q, rq, kcd = _gaussian_product(c, centers[2], d, centers[3])
        w = da * db * dc * dd * math.prod(_primitive_norm(x) for x in (a, b, c, d))
        pq2 = float(np.dot(rp - rq, rp - rq))
        value = 2.0 * math.pi**2.5 / (p * q * math.sqrt(p + q)) * kab * kcd
        total += w * value * boys0(p * q / (p + q) * pq2)
    return total


def ao_integrals(
    basis: list[ContractedGaussian], nuclei: list[tuple[tuple[float, float, float], float]]
) -> Integrals:
    """All AO integrals of ``basis`` with ``nuclei`` given as (position in bohr, charge).

    Each contracted function is renormalized exactly, as quantum-chemistry codes do.
    """
    n = len(basis)
    charges = [(np.array(r, dtype=np.float64), z) for r, z in nuclei]
    s, t, v = (np.zeros((n, n)) for _ in range(3))
    for i, j in itertools.product(range(n), repeat=2):
        s[i, j], t[i, j], v[i, j] = _one_electron(basis[i], basis[j], charges)
    norm = 1.0 / np.sqrt(np.diag(s).copy())
    eri = np.zeros((n, n, n, n))
    for idx in itertools.product(range(n), repeat=4):
        eri[idx] = _two_electron(tuple(basis[k] for k in idx)) * math.prod(norm[k] for k in idx)
    scale = np.outer(norm, norm)
    return Integrals(overlap=s * scale, kinetic=t * scale, nuclear=v * scale, eri=eri)


def rhf(ints: Integrals, n_occupied: int, tol: float = 1e-12, max_iter: int = 100) -> SCFResult:
    """Closed-shell Roothaan-Hall SCF from the core guess, symmetric orthogonalization."""
    values, vectors = np.linalg.eigh(ints.overlap)
    x = vectors @ np.diag(values**-0.5) @ vectors.T
    hcore = ints.kinetic + ints.nuclear
    density = np.zeros_like(hcore)
    energy = 0.0
    for _ in range(max_iter):
        coulomb = np.einsum("pqrs,rs->pq", ints.eri, density)
        exchange = np.einsum("prqs,rs->pq", ints.eri, density)
        fock = hcore + 2.0 * coulomb - exchange
        eps, c_prime = np.linalg.eigh(x.T @ fock @ x)
        coefficients = x @ c_prime
        occupied = coefficients[:, :n_occupied]
        new_density = occupied @ occupied.T
        new_energy = float(np.sum(density * (hcore + fock)))
        converged = abs(new_energy - energy) < tol and np.allclose(new_density, density, atol=tol)
        density, energy = new_density, new_energy
        if converged:
            return SCFResult(energy, coefficients, eps)
    raise RuntimeError(f"RHF did not converge in {max_iter} iterations")


def mo_integrals(ints: Integrals, coefficients: Array) -> tuple[Array, Array]:
    """Core Hamiltonian and (pq|rs) in the MO basis given by the columns of ``coefficients``."""
    c = coefficients
    h = c.T @ (ints.kinetic + ints.nuclear) @ c
    eri = np.einsum("pqrs,pi,qj,rk,sl->ijkl", ints.eri, c, c, c, c, optimize=True)
    return h, eri


def _annihilator(mode: int, n_modes: int) -> Array:
    """Jordan-Wigner a_mode: Z on lower modes, |0><1| on ``mode`` (qubit 0 rightmost factor)."""
    lower = np.array([[0.0, 1.0], [0.0, 0.0]])
    factors = [np.eye(2)] * (n_modes - 1 - mode) + [lower] + [np.diag([1.0, -1.0])] * mode
    return _kron(factors)


def fermion_matrix(h: Array, eri: Array) -> Array:
    """Jordan-Wigner matrix of H = Σ h_pq a†p aq + ½ Σ (pq|rs) a†p a†r as aq over spin orbitals.

    Spin orbital ``p`` is spatial orbital ``p mod n`` with spin alpha for ``p < n``, beta after.
    """
    n = h.shape[0]
    modes = 2 * n
    a = [_annihilator(p, modes) for p in range(modes)]
    matrix = np.zeros((2**modes, 2**modes))
    for p, q in itertools.product(range(modes), repeat=2):
        if p // n == q // n and h[p % n, q % n] != 0.0:
            matrix += h[p % n, q % n] * a[p].T @ a[q]
    for p, q, r, s in itertools.product(range(modes), repeat=4):
        value = eri[p % n, q % n, r % n, s % n]
        if p // n == q // n and r // n == s // n and value != 0.0:
            matrix += 0.5 * value * a[p].T @ a[r].T @ a[s] @ a[q]
    return matrix


def parity_reduce(matrix: Array, n_alpha: int, n_beta: int) -> Array:
    """Parity-encode a Jordan-Wigner matrix and keep the (n_alpha, n_beta) sector's block.

    In the parity encoding qubit j holds the parity of modes 0..j, so qubits N/2-1 (alpha
    parity) and N-1 (total parity) are fixed by the electron counts; they are removed and the
    other qubits keep their order, as Qiskit Nature's two-qubit reduction does.
    """
    n_qubits = matrix.shape[0].bit_length() - 1
    half = n_qubits // 2
    fixed = {half - 1: n_alpha % 2, n_qubits - 1: (n_alpha + n_beta) % 2}
    kept = [q for q in range(n_qubits) if q not in fixed]
    rows = []
    for reduced in range(2 ** len(kept)):
        bits = dict(fixed) | {q: (reduced >> k) & 1 for k, q in enumerate(kept)}
        occupations = [bits[0]] + [bits[j] ^ bits[j - 1] for j in range(1, n_qubits)]
        rows.append(sum(bit << j for j, bit in enumerate(occupations)))
    return matrix[np.ix_(rows, rows)]


_PAULIS = {
    "I": np.eye(2, dtype=np.complex128),
    "Z": np.diag([1.0, -1.0]).astype(np.complex128),
    "X": np.array([[0, 1], [1, 0]], dtype=np.complex128),
    "Y": np.array([[0, -1j], [1j, 0]], dtype=np.complex128),
}


def pauli_decompose(matrix: Array, cutoff: float = 1e-12) -> PauliSum:
    """The Pauli sum of a Hermitian matrix (terms below ``cutoff`` dropped; I, Z, X, Y order)."""
    dim = matrix.shape[0]
    n_qubits = dim.bit_length() - 1
    pairs: list[tuple[str, float]] = []
    for letters in itertools.product("IZXY", repeat=n_qubits):
        label = "".join(letters)
        pauli = _kron([_PAULIS[c] for c in label])
        coeff = complex(np.trace(pauli @ matrix)) / dim
        if abs(coeff.imag) > 1e-10:
            raise ValueError(f"matrix is not Hermitian: {label} has coefficient {coeff}")
        if abs(coeff.real) > cutoff:
            pairs.append((label, coeff.real))
    return PauliSum.from_list(pairs or [("I" * n_qubits, 0.0)])


def build_h2(bond_length: float = DEFAULT_BOND_LENGTH) -> H2Problem:
    """H2 in STO-3G at ``bond_length`` Å: 4-qubit JW and 2-qubit parity-reduced Hamiltonians."""
    distance = bond_length / BOHR_ANGSTROM
    centers = [(0.0, 0.0, 0.0), (0.0, 0.0, distance)]
    ints = ao_integrals(
        [ContractedGaussian(c, STO3G_EXPONENTS, STO3G_COEFFICIENTS) for c in centers],
        [(c, 1.0) for c in centers],
    )
    scf = rhf(ints, n_occupied=1)
    h, eri = mo_integrals(ints, scf.coefficients)
    jw = fermion_matrix(h, eri)
    offset = 1.0 / distance
    return H2Problem(
        jordan_wigner=pauli_decompose(jw),
        reduced=pauli_decompose(parity_reduce(jw, n_alpha=1, n_beta=1)),
        energy_offset=offset,
        hf_energy=scf.energy + offset,
    )


def h2(payload: dict[str, Any]) -> dict[str, Any]:
    """Entry point: ``{"bond_length": Å}`` (default 0.735) to the 2-qubit H2 Hamiltonian.

    Returns the Hamiltonian (a :class:`PauliSum` dump, electronic part in hartree), the
    nuclear repulsion as ``energy_offset``, the total RHF energy and ``num_qubits``.
    """
    bond_length = payload.get("bond_length", DEFAULT_BOND_LENGTH)
    valid = isinstance(bond_length, int | float) and not isinstance(bond_length, bool)
    if not valid or not math.isfinite(bond_length) or bond_length <= 0:
        raise ValueError(f"bond_length must be a positive number of Å, got {bond_length!r}")
    problem = build_h2(float(bond_length))
    return {
        "hamiltonian": problem.reduced.model_dump(),
        "energy_offset": problem.energy_offset,
        "hf_energy": problem.hf_energy,
        "num_qubits": problem.reduced.num_qubits,
        "method": "STO-3G RHF, Jordan-Wigner, parity mapping with two-qubit reduction",
    }

"""The MaxCut cost Hamiltonian and the QAOA circuit of a graph.

The cut value of an assignment ``z`` (``z_i`` in {0, 1}, the side of node ``i``, measured on
qubit ``i``) is ``C(z) = sum_(u,v) w_uv (1 - Z_u Z_v) / 2``. QAOA minimizes the expectation of
the cost Hamiltonian ``H = -C = sum_(u,v) (w_uv / 2) Z_u Z_v - W / 2`` (``W`` the total
weight), so ``<H> = -<C>`` exactly and the ground states of ``H`` are the maximum cuts.

The circuit prepares ``|+>^n`` and applies ``p`` layers of ``exp(-i gamma_k H)`` (one
``rzz(w_uv * gamma_k)`` per edge) and ``exp(-i beta_k sum_i X_i)`` (one ``rx(2 beta_k)`` per
qubit). Its ``input float[64]`` parameters are ``gamma_0 .. gamma_{p-1}`` and ``beta_0 ..
beta_{p-1}``; the optimizer's vector is ``[gamma_0, ..., gamma_{p-1}, beta_0, ...,
beta_{p-1}]`` and :func:`to_circuit_order` reorders it for binding.
"""

from __future__ import annotations

from collections.abc import Sequence

from qiskit import QuantumCircuit
from qiskit.circuit import Parameter

from broker.algorithms.qaoa.graphs import Graph
from circuits.canonical import Circuit
from circuits.observables import PauliSum

__all__ = ["cost_hamiltonian", "parameter_names", "qaoa_circuit", "to_circuit_order"]


def cost_hamiltonian(graph: Graph) -> PauliSum:
    """``H = -C``: one ``Z_u Z_v`` term of weight ``w/2`` per edge and the constant ``-W/2``."""
    n = graph.size
    terms: list[tuple[str, float]] = []
    for u, v, w in graph.weighted_edges():
        letters = ["I"] * n
        letters[n - 1 - u] = letters[n - 1 - v] = "Z"
        terms.append(("".join(letters), w / 2))
    terms.append(("I" * n, -graph.total_weight / 2))
    return PauliSum.from_list(terms)


def parameter_names(p: int) -> list[str]:
    """The circuit's parameters in the optimizer's order: the gammas, then the betas."""
    return [f"gamma_{k}" for k in range(p)] + [f"beta_{k}" for k in range(p)]


def qaoa_circuit(graph: Graph, p: int, *, measure: bool = False) -> Circuit:
    """The depth-``p`` QAOA circuit of ``graph`` in canonical form (measured when asked)."""
    n = graph.size
    gammas = [Parameter(f"gamma_{k}") for k in range(p)]
    betas = [Parameter(f"beta_{k}") for k in range(p)]
    qc = QuantumCircuit(n)
    qc.h(range(n))
    for gamma, beta in zip(gammas, betas, strict=True):
        for u, v, w in graph.weighted_edges():
            qc.rzz(w * gamma, u, v)
        for qubit in range(n):
            qc.rx(2 * beta, qubit)
    if measure:
        qc.measure_all()
    return Circuit.from_qiskit(qc)


def to_circuit_order(circuit: Circuit, p: int, x: Sequence[float]) -> list[float]:
    """The optimizer's vector ``x`` (gammas, then betas) in ``circuit.parameters`` order."""
    by_name = dict(zip(parameter_names(p), x, strict=True))
    return [float(by_name[name]) for name in circuit.parameters]

"""A researcher's own hybrid program, run by the broker as a driver step.

``minimize`` is an ordinary SciPy optimization loop; each energy it asks for is a quantum
task that the program submits back to the broker under its job (``Driver.run``), charged
to the job's proposal within the allowance its step declares. ``report`` is a plain
classical step that compares the result with the exact energy.
"""

from __future__ import annotations

from typing import Any

from qiskit.circuit.library import real_amplitudes
from scipy.optimize import minimize as scipy_minimize

from broker.drivers.sdk import Driver
from circuits.canonical import Circuit
from circuits.observables import PauliSum


def minimize(payload: dict[str, Any]) -> dict[str, Any]:
    """Minimize the energy of ``payload['hamiltonian']`` over a 2-qubit ansatz with COBYLA."""
    driver = Driver.from_env()
    hamiltonian = PauliSum.model_validate(payload["hamiltonian"])
    circuit = Circuit.from_qiskit(real_amplitudes(hamiltonian.num_qubits, reps=1))
    history: list[float] = []

    def energy(theta: Any) -> float:
        result = driver.run(
            circuit.qasm, parameter_values=[list(map(float, theta))], observables=[hamiltonian]
        )
        values = result.items[0].expectation_values
        assert values is not None
        history.append(values[0][0])
        return values[0][0]

    found = scipy_minimize(
        energy,
        x0=[0.1] * len(circuit.parameters),
        method="COBYLA",
        options={"maxiter": int(payload.get("maxiter", 60)), "rhobeg": 0.5},
    )
    measured = real_amplitudes(hamiltonian.num_qubits, reps=1)
    measured.measure_all()
    return {
        "energy": float(found.fun) + float(payload.get("energy_offset", 0.0)),
        "parameters": [float(x) for x in found.x],
        "evaluations": len(history),
        "history": history,
        "measured_circuit": Circuit.from_qiskit(measured).qasm,
    }


def report(payload: dict[str, Any]) -> dict[str, Any]:
    """The driver's energy against the exact one."""
    exact = float(payload["exact"]) + float(payload.get("energy_offset", 0.0))
    energy = float(payload["energy"])
    return {"energy": energy, "exact": exact, "error": energy - exact}

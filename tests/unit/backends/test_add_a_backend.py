"""Adding a backend, step by step as the "Add a backend" checklist of ``backends/README.md``
says, with a toy quantum backend built on Qiskit's reference primitives.

The toy is registered the way an installed package registers one: a dist-info directory with
an ``entry_points.txt`` on ``sys.path``, read by ``importlib.metadata`` (the registry's cache
cleared, as in a new process). It is then built through ``registry.quantum`` with typed
options, and put through the contract every quantum backend is checked with. Each test names
the checklist step it covers; the last test checks that the checklist and the tests agree.
A unit test: no tier marker (the unit tier is the unmarked one).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import yaml
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives import StatevectorEstimator, StatevectorSampler
from qiskit.quantum_info import Statevector

from backends import registry
from backends.base import Capabilities, QuantumBatch, QuantumItem
from backends.errors import BackendError, BackendNotFound
from backends.inprocess import InProcessSimulator, ResultLabels, SimulatorRun
from backends.options import BackendOptions, PositiveCount
from backends.runs import exact_items, exact_runs, sampling_plan
from broker.core.execution import raw_usage
from circuits.canonical import Circuit
from circuits.observables import PauliSum
from policies.charging import charges
from policies.loader import parse_policy
from tests.integration.backends.quantum_contract import check_quantum_contract, run

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "backends" / "README.md"
TOY = "toy-statevector"
H = PauliSum.from_list([("ZI", 0.5), ("XX", -0.3), ("II", 0.1)])


# --- the toy backend (step 1) ------------------------------------------------------------


class ToyOptions(BackendOptions):
    """Options of ``toy-statevector``."""

    max_qubits: PositiveCount = 8
    """The widest circuit taken."""


class ToyStatevectorBackend(InProcessSimulator):
    """Qiskit's ``StatevectorEstimator`` and ``StatevectorSampler``, run in the worker."""

    name = TOY
    engine = "qiskit's reference primitives"
    Options: ClassVar[type[ToyOptions]] = ToyOptions
    config: ToyOptions

    def capabilities(self) -> Capabilities:
        """Exact and sampled, up to ``max_qubits``."""
        return Capabilities(
            kind="quantum", version="toy 1", max_qubits=self.config.max_qubits, exact=True,
            reattach=False,
        )  # fmt: skip

    def labels(self) -> ResultLabels:
        """A version and a method; no device."""
        return ResultLabels(version="toy 1", method="statevector")

    def run_exact(self, batch: QuantumBatch) -> SimulatorRun:
        """One estimator PUB per circuit, all its parameter sets and observables."""
        runs = exact_runs(batch)
        pubs = []
        for each in runs:
            qc = each.circuit.to_qiskit()
            observables = [[obs.to_sparse_pauli_op() for obs in each.observables]]
            pubs.append((qc, observables, _ordered(each.circuit, qc, each.values)[:, None, :]))
        results = StatevectorEstimator().run(pubs).result()
        values = [np.asarray(pub.data.evs, dtype=float) for pub in results]
        evaluations = sum(len(item.parameter_values) for item in batch.items)
        return SimulatorRun(items=exact_items(values), evaluations=evaluations, calls=1)

    def run_sampled(self, batch: QuantumBatch, shots: int) -> SimulatorRun:
        """The sampling plan's runs, one sampler PUB each, seeded from the batch."""
        plan = sampling_plan(batch)
        pubs = []
        for each in plan.runs:
            qc = each.circuit.to_qiskit()
            pubs.append((qc, _ordered(each.circuit, qc, each.values)))
        sampler = StatevectorSampler(default_shots=shots, seed=batch.seed)
        results = sampler.run(pubs).result()
        counts = [
            [res.join_data().get_counts(i) for i in range(len(pub[1]))]
            for res, pub in zip(results, pubs, strict=True)
        ]
        return SimulatorRun(items=plan.assemble(counts), evaluations=plan.executions, calls=1)


def _ordered(circuit: Circuit, qc: QuantumCircuit, values: np.ndarray) -> np.ndarray:
    """Parameter values from the canonical order to ``qc.parameters``' order."""
    return values[:, [circuit.parameters.index(p.name) for p in qc.parameters]]


# --- helpers ---------------------------------------------------------------------------


def install(site: Path) -> None:
    """What ``pip install`` of a package holding the toy leaves: a dist-info directory whose
    ``entry_points.txt`` registers the toy in the quantum group (this module is importable
    under its ``__name__``)."""
    info = site / "qcb_toy_backend-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: qcb-toy-backend\nVersion: 0.1\n")
    entry = f"{TOY} = {__name__}:{ToyStatevectorBackend.__name__}"
    (info / "entry_points.txt").write_text(f"[{registry.QUANTUM_GROUP}]\n{entry}\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on ``sys.path`` for installed distributions; the registry forgets what it
    found before and after (a new process would)."""
    folder = tmp_path / "site-packages"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    registry._entry_points.cache_clear()
    yield folder
    registry._entry_points.cache_clear()


@pytest.fixture
def installed(site: Path) -> Path:
    """The toy, installed."""
    install(site)
    registry._entry_points.cache_clear()
    return site


def batch(shots: int | None, seed: int | None = 7) -> QuantumBatch:
    """An item with observables at two parameter sets, and one with measurements only."""
    ansatz = QuantumCircuit(2)
    ansatz.ry(Parameter("t"), 0)
    ansatz.cx(0, 1)
    ansatz.rz(0.3, 1)
    bell = QuantumCircuit(2, 2)
    bell.h(0)
    bell.cx(0, 1)
    bell.measure([0, 1], [0, 1])
    qasm = Circuit.from_qiskit(ansatz).qasm
    items = [QuantumItem(circuit=qasm, parameter_values=[[0.4], [1.1]], observables=[H])]
    if shots is not None:
        items.append(QuantumItem(circuit=Circuit.from_qiskit(bell).qasm))
    return QuantumBatch(items=items, shots=shots, seed=seed)


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _registered() -> dict[str, dict[str, str]]:
    return dict(_pyproject()["project"]["entry-points"])


# --- the checklist, step by step --------------------------------------------------------


def test_1_the_class_and_its_options_model() -> None:
    """Step 1, the class and its Options model: typed, documented, validated when the class
    is built directly too."""
    assert ToyStatevectorBackend(max_qubits=3).config.max_qubits == 3
    assert ToyStatevectorBackend().config == ToyOptions()
    assert ToyOptions.model_fields["max_qubits"].description == "The widest circuit taken."
    with pytest.raises(BackendError, match=r"toy-statevector: max_qubits: must be a positive"):
        ToyStatevectorBackend(max_qubits=0)
    with pytest.raises(BackendError, match=r"unknown option\(s\) for toy-statevector: colour"):
        ToyStatevectorBackend(colour="red")


def test_2_the_entry_point(installed: Path) -> None:
    """Step 2, the entry point: the group gives the kind without importing anything."""
    assert TOY in registry.names()
    assert registry.declared_kind(TOY) == "quantum"
    assert registry.load_class(TOY) is ToyStatevectorBackend
    assert registry.kind_of(TOY) == "quantum"
    with pytest.raises(BackendNotFound, match="not a classical backend"):
        registry.classical(TOY)


def test_3_reinstall(site: Path) -> None:
    """Step 3, reinstall: the registry knows a backend once its distribution's metadata is
    installed, and builds it with options validated once, against the class's model."""
    with pytest.raises(BackendNotFound, match="unknown backend 'toy-statevector'"):
        registry.quantum(TOY)
    install(site)
    registry._entry_points.cache_clear()
    backend = registry.quantum(TOY, max_qubits=4)
    assert isinstance(backend, ToyStatevectorBackend)
    assert isinstance(backend.config, ToyOptions) and backend.capabilities().max_qubits == 4
    assert dict(backend.options) == {"max_qubits": 4}
    with pytest.raises(BackendError) as refused:
        registry.quantum(TOY, shots=5)
    assert str(refused.value) == (
        "unknown option(s) for toy-statevector: shots; valid options: max_qubits"
    )


def test_4_the_extras_table_row() -> None:
    """Step 4, the extras table row: every SDK module the registry names maps to an extra
    that pyproject.toml declares (and ``all`` brings), and every registered backend has its
    row in the README's tables."""
    extras = _pyproject()["project"]["optional-dependencies"]
    everything = " ".join(extras["all"])
    for module, extra in registry._EXTRA_FOR_MODULE.items():
        assert extra in extras, f"{module}: no extra {extra!r} in pyproject.toml"
        assert extra in everything, f"the 'all' extra does not bring {extra!r}"
    text = README.read_text()
    for group in (registry.QUANTUM_GROUP, registry.CLASSICAL_GROUP):
        for name in _registered()[group]:
            assert f"`{name}`" in text, f"{name} has no row in backends/README.md"


def test_5_the_policy_charge_unit() -> None:
    """Step 5, the policy charge unit: a quantum backend's result is charged in the units the
    policy names for it, and every registered backend is named in the example policy."""
    policy = parse_policy(
        yaml.safe_dump(
            {
                "apiVersion": "qcbroker/v1",
                "kind": "Policy",
                "metadata": {"name": "toy"},
                "backends": {TOY: {"units": ["evaluations", "shots"], "charge_factor": 2.0}},
                "proposals": [
                    {
                        "id": "p1", "pi": "alice", "members": ["alice"],
                        "budgets": [{"backend": TOY, "unit": "shots", "amount": 1e6}],
                    }
                ],
            }
        )
    ).policy  # fmt: skip
    result = run(ToyStatevectorBackend(), batch(shots=100))
    charged = charges(policy, TOY, None, raw_usage(result))
    assert charged == {
        "evaluations": 2.0 * result.circuit_evaluations,
        "shots": 2.0 * result.shots_total,
    }
    example = yaml.safe_load((ROOT / "policies" / "examples" / "default.yaml").read_text())
    for group in (registry.QUANTUM_GROUP, registry.CLASSICAL_GROUP):
        for name in _registered()[group]:
            assert name in example["backends"], f"{name} is not in the example policy"


@pytest.mark.parametrize("shots", [None, 200])
def test_6_the_contract_test(installed: Path, shots: int | None) -> None:
    """Step 6, the contract test: the toy, found by name, honours the contract every quantum
    backend is checked with, and agrees with ``Statevector``."""
    backend = registry.quantum(TOY)
    result = check_quantum_contract(backend, batch(shots))
    values = result.items[0].expectation_values
    assert values is not None
    for row, angle in zip(values, (0.4, 1.1), strict=True):
        qc = QuantumCircuit(2)
        qc.ry(angle, 0)
        qc.cx(0, 1)
        qc.rz(0.3, 1)
        want = Statevector(qc).expectation_value(H.to_sparse_pauli_op())
        tolerance = 1e-9 if shots is None else 0.5
        assert row[0] == pytest.approx(float(np.real(want)), abs=tolerance)
    if shots is not None:
        again = check_quantum_contract(backend, batch(shots))
        assert again.items == result.items  # the same seed, the same counts


STEPS: dict[int, Callable[..., None]] = {
    1: test_1_the_class_and_its_options_model,
    2: test_2_the_entry_point,
    3: test_3_reinstall,
    4: test_4_the_extras_table_row,
    5: test_5_the_policy_charge_unit,
    6: test_6_the_contract_test,
}


def test_the_readme_checklist_is_the_one_these_tests_walk() -> None:
    text = README.read_text()
    assert "\n## Add a backend\n" in text, "backends/README.md has no 'Add a backend' section"
    section = text.split("\n## Add a backend\n", 1)[1].split("\n## ", 1)[0]
    steps = re.findall(r"^(\d+)\. \*\*(.+?)\.?\*\*", section, flags=re.MULTILINE)
    assert [int(number) for number, _ in steps] == sorted(STEPS)
    for number, title in steps:
        doc = " ".join((STEPS[int(number)].__doc__ or "").split()).lower()
        assert doc.startswith(f"step {number}, {title.lower()}"), (number, title, doc)
    for named in (registry.QUANTUM_GROUP, registry.CLASSICAL_GROUP, "pip install -e . --no-deps"):
        assert named in section

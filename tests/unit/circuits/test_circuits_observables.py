"""PauliSum validation, parsing, matrices, ground energies and hashing."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError
from qiskit.quantum_info import SparsePauliOp

from circuits import ObservableError, PauliSum, PauliTerm, coerce_observable

H2_TEXT = (
    "-1.052373245772859*II + 0.39793742484318045*IZ - 0.39793742484318045*ZI "
    "- 0.01128010425623538*ZZ + 0.18093119978423156*XX"
)
H2_GROUND = -1.857275030202378


def test_h2_ground_energy() -> None:
    h2 = PauliSum.from_text(H2_TEXT)
    assert h2.num_qubits == 2
    assert len(h2.terms) == 5
    assert h2.terms[2] == PauliTerm(pauli="ZI", coeff=-0.39793742484318045)
    assert abs(h2.ground_energy() - H2_GROUND) < 1e-9


def test_from_text_variants() -> None:
    ps = PauliSum.from_text("ZZ - 0.5 XI + 2e-1*YY")
    assert [(t.pauli, t.coeff) for t in ps.terms] == [("ZZ", 1.0), ("XI", -0.5), ("YY", 0.2)]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("1.0 * IA", "term 0"),
        ("0.5*XX + 0.3*XB", "term 1"),
        ("0.5*XX 0.3*ZZ", "term 1 (ZZ): missing '+' or '-'"),
        ("XX + ZZZ", "term 1 ('ZZZ') has 3 qubits"),
        ("", "empty"),
        ("0.5*XX + ", "term 1"),
    ],
)
def test_from_text_errors_name_the_term(text: str, words: str) -> None:
    with pytest.raises(ObservableError) as info:
        PauliSum.from_text(text)
    assert words in str(info.value)


def test_validators_name_the_offending_term() -> None:
    with pytest.raises(ValidationError, match=r"term 1 .* has 1 qubits but term 0"):
        PauliSum(terms=[PauliTerm(pauli="XX", coeff=1.0), PauliTerm(pauli="X", coeff=1.0)])
    with pytest.raises(ValidationError, match="term 2: pauli string 'XQ'"):
        PauliSum.model_validate(
            {
                "terms": [
                    {"pauli": "XX", "coeff": 1},
                    {"pauli": "ZZ", "coeff": 1},
                    {"pauli": "XQ", "coeff": 1},
                ]
            }
        )
    with pytest.raises(ValidationError, match="at least one term"):
        PauliSum(terms=[])
    with pytest.raises(ValidationError, match="not finite"):
        PauliTerm(pauli="X", coeff=float("nan"))
    with pytest.raises(ValidationError, match="extra"):
        PauliTerm.model_validate({"pauli": "X", "coeff": 1.0, "weight": 2})


def test_matrix_uses_qiskit_order() -> None:
    # "IZ" acts on qubit 0: diag(1, -1, 1, -1) in Qiskit's little-endian basis order.
    matrix = PauliSum.from_list([("IZ", 1.0)]).to_matrix()
    assert np.allclose(np.diag(matrix), [1, -1, 1, -1])


def test_sparse_ground_energy_above_ten_qubits() -> None:
    # Independent qubits: the ground energy is -sum(sqrt(a_i**2 + b_i**2)).
    n = 12
    a = [0.3 + 0.1 * i for i in range(n)]
    b = [1.0 - 0.05 * i for i in range(n)]
    terms = [("I" * (n - 1 - i) + "Z" + "I" * i, a[i]) for i in range(n)]
    terms += [("I" * (n - 1 - i) + "X" + "I" * i, b[i]) for i in range(n)]
    exact = -sum(float(np.hypot(x, y)) for x, y in zip(a, b, strict=True))
    assert abs(PauliSum.from_list(terms).ground_energy() - exact) < 1e-8


def test_sha256_is_canonical() -> None:
    a = PauliSum.from_text(H2_TEXT)
    b = coerce_observable(
        [{"pauli": t.pauli, "coeff": t.coeff} for t in PauliSum.from_text(H2_TEXT).terms]
    )
    assert a.sha256 == b.sha256
    assert len(a.sha256) == 64
    assert a.sha256 != PauliSum.from_list([("II", -1.0)]).sha256


def test_coerce_observable_inputs() -> None:
    expected = PauliSum.from_list([("ZZ", 0.5), ("XI", -0.25)])
    assert coerce_observable(expected) is expected
    assert coerce_observable("0.5*ZZ - 0.25*XI") == expected
    assert coerce_observable([("ZZ", 0.5), ("XI", -0.25)]) == expected
    assert coerce_observable([{"pauli": "ZZ", "coeff": 0.5}, {"pauli": "XI", "coeff": -0.25}]) == (
        expected
    )
    assert coerce_observable(SparsePauliOp.from_list([("ZZ", 0.5), ("XI", -0.25)])) == expected
    assert expected.to_sparse_pauli_op() == SparsePauliOp.from_list([("ZZ", 0.5), ("XI", -0.25)])


def test_coerce_observable_errors() -> None:
    with pytest.raises(ObservableError, match="cannot use a int as an observable"):
        coerce_observable(3)
    with pytest.raises(ObservableError, match="term 1"):
        coerce_observable([("ZZ", 0.5), ("X", 1.0, 2)])
    with pytest.raises(ObservableError, match="term 0: pauli"):
        coerce_observable([{"pauli": "AB", "coeff": 0.5}])
    with pytest.raises(ObservableError, match="complex coefficient"):
        coerce_observable(SparsePauliOp.from_list([("XY", 1j)]))
    with pytest.raises(ObservableError, match="all terms must have the same length"):
        coerce_observable([("ZZ", 0.5), ("X", 1.0)])

"""Admission checks: limits with lines and all problems at once, and parameter values."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from pydantic import ValidationError

from circuits import Circuit, CircuitError
from circuits.qasm import DEFAULT_MAX_BYTES, loads, parse
from circuits.validation import Limits, check_circuit, check_parameter_values

HEADER = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'

PARAMETRIC = HEADER + "input float[64] theta;\ninput float[64] beta;\nqubit[2] q;\n"
PARAMETRIC += "rx(theta) q[0];\nry(beta) q[1];\ncx q[0], q[1];\n"


def _error(source: str | Circuit, limits: Limits | None = None) -> CircuitError:
    with pytest.raises(CircuitError) as info:
        check_circuit(source, limits)
    return info.value


def test_unsupported_gate_names_its_line() -> None:
    text = HEADER + "qubit[2] q;\n\nfoo q[0];\nh q[1];\n"
    error = _error(text)
    assert error.line == 5
    assert "line 5" in str(error) and "foo" in str(error)


def test_gate_outside_allowed_set_names_its_line_in_the_given_text() -> None:
    text = "// a comment\n" + HEADER + "qubit[2] q;\nh q[0];\n\n/* two\nlines */ cx q[0], q[1];\n"
    text += "cx q[1], q[0];\n"
    error = _error(text, Limits(gates=frozenset({"h"})))
    assert error.line == 8
    assert "'cx' is not allowed" in error.message and "used 2 times" in error.message
    assert "allowed gates: barrier, h, measure" in str(error)
    assert check_circuit(text, Limits(gates=frozenset({"h", "cx"}))).num_qubits == 2


def test_lines_of_a_circuit_refer_to_its_canonical_text() -> None:
    circuit = Circuit.from_qasm(HEADER + "qubit[2] q;\n\n\nh q[0];\nswap q[0], q[1];\n")
    error = _error(circuit, Limits(gates=frozenset({"h"})))
    assert error.line is not None
    assert circuit.qasm.splitlines()[error.line - 1] == "swap q[0], q[1];"
    assert check_circuit(circuit) is circuit


def test_two_distinct_problems_are_both_reported() -> None:
    text = (
        HEADER
        + "qubit[30] q;\nh q[0];\nfoo q[1];\ncx q[0], q[25];\nbar q[2];\nccx q[0], q[1], q[2];\n"
    )
    error = _error(text, Limits(max_qubits=20, gates=frozenset({"h", "cx"})))
    assert [e.line for e in error.errors] == [5, 6, 7, 8]
    lines = str(error).splitlines()
    assert lines[0] == "4 problems:"
    assert lines[1].startswith("- line 5: unknown gate 'foo'")
    assert "30 qubits" in lines[2] and "max_qubits=20" in lines[2] and "qubit 25" in lines[2]
    assert lines[3].startswith("- line 7: unknown gate 'bar'")
    assert lines[4] == "- line 8: gate 'ccx' is not allowed; allowed gates: barrier, cx, h, measure"
    assert error.line is None
    # The long list of supported gates is shown once.
    assert str(error).count("supported gates") == 1


def test_too_many_qubits_names_both_numbers() -> None:
    text = HEADER + "qubit[30] q;\n" + "".join(f"h q[{i}];\n" for i in range(30))
    error = _error(text, Limits(max_qubits=20))
    assert "30" in str(error) and "20" in str(error)
    assert error.line == 24  # h q[20]
    unused = _error(
        HEADER + "qubit[30] q;\nh q[0];\ncx q[0], q[3];\nbarrier q;\n", Limits(max_qubits=20)
    )
    assert unused.line == 3
    assert (
        "only 4 are used" in unused.message
        and unused.hint == "declare only the qubits used: qubit[4] q;"
    )


def test_every_limit_is_checked_and_all_are_reported() -> None:
    text = HEADER + "input float a;\ninput float b;\nqubit[3] q;\nrx(a) q[0];\nry(b) q[1];\n"
    text += "cx q[0], q[1];\ncx q[1], q[2];\nh q[2];\n"
    limits = Limits(max_depth=2, max_two_qubit_gates=1, max_parameters=1)
    error = _error(text, limits)
    assert len(error.errors) == 3
    assert "depth 4, more than max_depth=2" in str(error)
    assert "2 two-qubit gates, more than max_two_qubit_gates=1" in str(error)
    assert "2 parameters, more than max_parameters=1" in str(error)
    loose = Limits(max_qubits=3, max_depth=4, max_two_qubit_gates=2, max_parameters=2)
    assert check_circuit(text, loose) == Circuit.from_qasm(text)


def test_oversized_text_is_refused_before_parsing() -> None:
    text = HEADER + "qubit[1] q;\n" + "x q[0];\n" * (DEFAULT_MAX_BYTES // 8 + 1)
    error = _error(text + "this is not parsed")
    assert error.line is None and error.errors == [error]
    assert f"more than max_bytes={DEFAULT_MAX_BYTES}" in str(error)
    small = _error(HEADER + "qubit[1] q;\nx q[0];\n", Limits(max_bytes=10))
    assert "more than max_bytes=10" in str(small)


def test_parse_errors_after_a_bad_declaration_stop() -> None:
    error = _error(HEADER + "qubit[2] q;\nqubit[0] r;\nh r[0];\nfoo q[0];\n")
    assert error.line == 4 and error.errors == [error]


def test_many_problems_are_capped() -> None:
    error = _error(HEADER + "qubit[1] q;\n" + "foo q[0];\n" * 50)
    assert len(error.errors) == 21
    assert "stopped after 20 problems" in str(error.errors[-1])


def test_collected_errors_pickle() -> None:
    error = _error(HEADER + "qubit[1] q;\nfoo q[0];\nbar q[0];\n")
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error)
    assert [e.line for e in copy.errors] == [4, 5]


def test_limits_refuse_unknown_gate_names_and_extra_fields() -> None:
    with pytest.raises(ValidationError, match="unknown gate names"):
        Limits(gates=frozenset({"cnot"}))
    with pytest.raises(ValidationError):
        Limits.model_validate({"max_qbits": 3})
    assert Limits().max_bytes == DEFAULT_MAX_BYTES


def test_parse_keeps_lines_and_loads_is_unchanged() -> None:
    text = HEADER + "qubit[3] q;\n// note\nh q;\ncx q[0], q[1]; x q[2];\n"
    parsed = parse(text)
    assert parsed.errors == () and parsed.ir == loads(text)
    assert parsed.op_lines == (5, 5, 5, 6, 6) and parsed.qubit_line == 3
    bad = parse(HEADER + "qubit[2] q;\nfoo q[0];\nh q[1]\n")
    assert [e.line for e in bad.errors] == [4, 5]
    assert "missing ';'" in bad.errors[1].message
    with pytest.raises(CircuitError) as info:
        loads(HEADER + "qubit[2] q;\nfoo q[0];\nh q[1]\n")
    assert info.value.line == 4


# -- parameter values ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def circuit() -> Circuit:
    return Circuit.from_qasm(PARAMETRIC)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0.1, 0.2], [[0.1, 0.2]]),
        ((1, 2), [[1.0, 2.0]]),
        ([[0.1, 0.2], [0.3, 0.4]], [[0.1, 0.2], [0.3, 0.4]]),
        (np.array([0.1, 0.2]), [[0.1, 0.2]]),
        (np.array([[[0.1, 0.2]], [[0.3, 0.4]]]), [[0.1, 0.2], [0.3, 0.4]]),
        ({"beta": 0.2, "theta": 0.1}, [[0.1, 0.2]]),
        ({"theta": [0.1, 0.3], "beta": 0.2}, [[0.1, 0.2], [0.3, 0.2]]),
        ({"theta": np.array([0.1, 0.3]), "beta": [0.2, 0.4]}, [[0.1, 0.2], [0.3, 0.4]]),
    ],
)
def test_parameter_value_shapes(
    circuit: Circuit, values: object, expected: list[list[float]]
) -> None:
    array = check_parameter_values(circuit, values)
    assert array.dtype == np.float64
    assert array.tolist() == expected


def test_parameter_values_without_parameters() -> None:
    bare = Circuit.from_qasm(HEADER + "qubit[1] q;\nh q[0];\n")
    for values in (None, [], [[]], np.zeros((1, 0))):
        assert check_parameter_values(bare, values).shape == (1, 0)
    assert check_parameter_values(bare, [[], []]).shape == (2, 0)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([0.1], "parameter 'beta' has no value"),
        (None, "parameter 'theta' has no value"),
        ({"theta": 0.1}, "parameter 'beta' has no value"),
        ({"theta": [], "beta": 1}, "parameter 'theta' has no value"),
        (
            {"theta": 1, "beta": 2, "phi": 3},
            "no parameter named 'phi'; the circuit's parameters are: theta, beta",
        ),
        ([[0.1, 0.2], [0.3]], "parameter 'beta' has no value in set 1"),
        ([0.1, 0.2, 0.3], "got 3 values but the circuit has 2 parameter(s): theta, beta"),
        ([[0.1, 0.2, 0.3]], "got 3 values in set 0 but the circuit has 2 parameter(s)"),
        ([0.1, float("nan")], "parameter 'beta' has the non-finite value nan in set 0"),
        ([[0.1, 0.2], [np.inf, 0.2]], "parameter 'theta' has the non-finite value inf in set 1"),
        (
            {"theta": [1, float("-inf")], "beta": 0},
            "parameter 'theta' has the non-finite value -inf in set 1",
        ),
        (["x", 0.2], "parameter 'theta': 'x' is not a real number"),
        ([0.1, 1j], "parameter 'beta': 1j is not a real number"),
        ({"theta": [1, 2], "beta": [1, 2, 3]}, "'theta' has 2, 'beta' has 3"),
        ([0.1, [0.2]], "mix numbers and lists"),
        ("0.1, 0.2", "cannot use a str as parameter values"),
        (np.zeros((0, 2)), "no parameter sets"),
    ],
)
def test_parameter_value_errors_name_the_parameter(
    circuit: Circuit, values: object, message: str
) -> None:
    with pytest.raises(CircuitError) as info:
        check_parameter_values(circuit, values)
    assert message in str(info.value)


def test_unknown_and_missing_names_are_reported_together(circuit: Circuit) -> None:
    with pytest.raises(CircuitError) as info:
        check_parameter_values(circuit, {"phi": 1.0, "psi": 2.0, "theta": 0.0})
    assert [e.message for e in info.value.errors] == [
        "no parameter named 'phi'; the circuit's parameters are: theta, beta",
        "no parameter named 'psi'; the circuit's parameters are: theta, beta",
        "parameter 'beta' has no value",
    ]

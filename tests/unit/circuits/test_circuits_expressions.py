"""Parameter expressions: canonical printing, names, evaluation, refusal of unsafe syntax."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from qiskit.circuit import Parameter

from circuits import expressions
from circuits.errors import CircuitError


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("2*theta+0.5", "2*theta + 0.5"),
        ("-theta/2", "-theta/2"),
        ("sin( theta )", "sin(theta)"),
        ("asin(x)", "arcsin(x)"),
        ("π/2", "pi/2"),
        ("(a*b)/c", "a*b/c"),
        ("a-(b-c)", "a - (b - c)"),
        ("(-x)**2", "(-x)**2"),
        ("-x**2", "-x**2"),
        ("(a**b)**c", "(a**b)**c"),
        ("+x", "x"),
        ("1e20*x", "1e+20*x"),
    ],
)
def test_normalize_gives_canonical_text(text: str, canonical: str) -> None:
    assert expressions.normalize(text) == canonical
    assert expressions.normalize(canonical) == canonical


def test_float_literals_round_trip_exactly() -> None:
    value = 0.1 + 0.2
    assert expressions.evaluate(expressions.normalize(repr(value)), {}) == value
    assert expressions.evaluate(expressions.normalize(repr(-1e-300)), {}) == -1e-300


def test_names_excludes_functions_and_constants() -> None:
    assert expressions.names("sin(a)*b + pi - tau*c") == {"a", "b", "c"}


def test_evaluate_numbers() -> None:
    env = {"theta": 0.3, "gamma": -1.5}
    assert expressions.evaluate("2*theta + 0.5", env) == pytest.approx(1.1)
    assert expressions.evaluate("sqrt(theta)*cos(gamma)", env) == pytest.approx(
        math.sqrt(0.3) * math.cos(-1.5)
    )
    assert expressions.evaluate("arctan(theta)**2", env) == pytest.approx(math.atan(0.3) ** 2)


def test_evaluate_with_qiskit_parameters_builds_expressions() -> None:
    theta = Parameter("theta")
    expr = expressions.evaluate("sqrt(theta) + sin(2*theta) - exp(-theta)", {"theta": theta})
    assert set(expr.parameters) == {theta}
    bound = float(expr.bind({theta: 0.7}))
    assert bound == pytest.approx(math.sqrt(0.7) + math.sin(1.4) - math.exp(-0.7))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("__import__('os')", "unknown function"),
        ("x.real", "Attribute"),
        ("1j", "unsupported literal"),
        ("x // 2", "only + - * / and **"),
        ("x if y else z", "IfExp"),
        ("", "empty"),
        ("sin", "without an argument"),
        ("sin(x, y)", "exactly one argument"),
        ("1e999", "not finite"),
        ("2 +", "not a valid"),
        ("(" * 300 + "x" + ")" * 300, "x"),
    ],
)
def test_bad_expressions_are_refused(text: str, words: str) -> None:
    with pytest.raises(CircuitError, match="bad expression") as info:
        expressions.normalize(text)
    assert words in str(info.value)


def test_evaluate_errors_are_circuit_errors() -> None:
    with pytest.raises(CircuitError, match="cannot evaluate"):
        expressions.evaluate("1/x", {"x": 0.0})
    with pytest.raises(CircuitError, match="no value for 'y'"):
        expressions.evaluate("y", {})


@pytest.mark.parametrize(
    ("name", "ok"),
    [("theta", True), ("θ_0", True), ("pi", False), ("sin", False), ("q", False), ("for", False)],
)
def test_parameter_names(name: str, ok: bool) -> None:
    assert expressions.is_parameter_name(name) is ok


_leaves = st.one_of(
    st.sampled_from(["a", "b", "pi"]),
    st.floats(min_value=0, max_value=1e6, allow_nan=False).map(repr),
    st.integers(min_value=0, max_value=99).map(str),
)


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "**"]), children).map(
        lambda t: f"({t[0]}){t[1]}({t[2]})"
    )
    unary = children.map(lambda c: f"-({c})")
    call = st.tuples(st.sampled_from(["sin", "cos", "atan"]), children).map(
        lambda t: f"{t[0]}({t[1]})"
    )
    return st.one_of(binary, unary, call)


@settings(max_examples=150, deadline=None)
@given(st.recursive(_leaves, _combine, max_leaves=8))
def test_normalize_is_idempotent_and_keeps_the_value(text: str) -> None:
    canonical = expressions.normalize(text)
    assert expressions.normalize(canonical) == canonical
    env = {"a": 0.37, "b": 1.21}
    try:
        expected = expressions.evaluate(text, env)
    except CircuitError:
        return  # e.g. overflow or division by zero: nothing to compare
    actual = expressions.evaluate(canonical, env)
    if isinstance(expected, complex) or isinstance(actual, complex):
        return  # negative base to a fractional power
    assert actual == pytest.approx(expected, rel=1e-12, nan_ok=True)


@pytest.mark.parametrize("text", ["(-1)**0.5", "sin((-2)**(1/3))", "atan((-(a))**b)"])
def test_a_negative_base_to_a_fractional_power_is_refused_in_words(text: str) -> None:
    with pytest.raises(CircuitError, match="has no real value"):
        expressions.evaluate(text, {"a": 0.37, "b": 1.21})
    assert expressions.evaluate("-(0.5**0.5)", {}) == pytest.approx(-math.sqrt(0.5))

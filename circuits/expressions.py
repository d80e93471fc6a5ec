"""Safe parameter expressions: parse, normalise, inspect and evaluate gate-angle text.

The syntax is a small, Python-like arithmetic language that is also valid OpenQASM 3:
int and float literals, the constants ``pi``/``π`` and ``tau``/``τ``, identifiers (input
parameter names), unary ``-``/``+``, binary ``+ - * /`` and ``**``, parentheses, and the
one-argument functions in :data:`FUNCTIONS` (``asin``, ``acos``, ``atan`` are accepted as
aliases of the ``arc`` forms). Text is parsed with :mod:`ast` and any other node is refused.

:func:`normalize` prints the canonical form: minimal parentheses, ``+``/``-`` spaced,
``*``/``/``/``**`` tight, floats as ``repr(float)`` so that round trips are exact.
"""

from __future__ import annotations

import ast
import copy
import functools
import math
import threading
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from circuits.errors import CircuitError

__all__ = [
    "CONSTANTS",
    "FUNCTIONS",
    "GATE_NAMES",
    "RESERVED",
    "evaluate",
    "is_parameter_name",
    "names",
    "normalize",
    "rename",
]

FUNCTIONS: frozenset[str] = frozenset(
    {"sin", "cos", "tan", "arcsin", "arccos", "arctan", "exp", "log", "sqrt"}
)
"""Canonical names of the supported one-argument functions."""

_FUNCTION_ALIASES = {"asin": "arcsin", "acos": "arccos", "atan": "arctan"}

CONSTANTS: Mapping[str, float] = {"pi": math.pi, "π": math.pi, "tau": math.tau, "τ": math.tau}
"""Named constants and their values; ``π`` and ``τ`` print as ``pi`` and ``tau``."""

_CONSTANT_CANONICAL = {"π": "pi", "τ": "tau"}

_QASM_KEYWORDS = frozenset(
    {
        "OPENQASM", "include", "input", "output", "qubit", "bit", "qreg", "creg", "measure",
        "reset", "barrier", "gate", "def", "if", "else", "for", "while", "in", "return", "let",
        "const", "float", "int", "uint", "angle", "bool", "complex", "duration", "stretch",
        "delay", "box", "ctrl", "negctrl", "inv", "pow", "gphase", "U", "CX", "true", "false",
        "euler", "ℇ", "im", "break", "continue", "end", "extern", "defcal", "cal", "array",
        "switch", "case", "default", "durationof", "mod", "ceiling", "floor", "popcount",
        "rotl", "rotr", "real", "imag", "sizeof", "void", "readonly", "mutable",
    }
)  # fmt: skip

# The canonical text names its registers ``q`` and ``c``, so parameters cannot use them.
_REGISTER_NAMES = frozenset({"q", "c"})

GATE_NAMES: frozenset[str] = frozenset(
    {
        "p", "x", "y", "z", "h", "s", "sdg", "t", "tdg", "sx", "rx", "ry", "rz", "cx", "cy",
        "cz", "cp", "crx", "cry", "crz", "ch", "swap", "ccx", "cswap", "cu", "CX", "phase",
        "cphase", "id", "u1", "u2", "u3", "u", "sxdg", "rxx", "ryy", "rzz",
        "_gate_p_0", "_gate_q_0", "_gate_q_1",
    }
)  # fmt: skip
"""The gates of ``stdgates.inc`` and those the canonical text defines (with the names their
definitions use): a parameter with one of these names would clash with the gate in
OpenQASM 3, so the parser renames such an input (``t`` becomes ``t_``)."""

RESERVED: frozenset[str] = (
    FUNCTIONS
    | frozenset(_FUNCTION_ALIASES)
    | frozenset(CONSTANTS)
    | _QASM_KEYWORDS
    | _REGISTER_NAMES
    | GATE_NAMES
)
"""Identifiers that cannot name a parameter."""

# Printing precedence: higher binds tighter.
_ADD, _MUL, _UNARY, _POW, _ATOM = 1, 2, 3, 4, 5
_BINOPS: dict[type[ast.operator], tuple[str, int]] = {
    ast.Add: (" + ", _ADD),
    ast.Sub: (" - ", _ADD),
    ast.Mult: ("*", _MUL),
    ast.Div: ("/", _MUL),
    ast.Pow: ("**", _POW),
}
_MAX_DEPTH = 200


def _fail(text: str, why: str) -> CircuitError:
    return CircuitError(
        f"bad expression {text!r}: {why}",
        hint="expressions may use numbers, pi, declared input names, + - * / **, "
        f"parentheses and the functions {', '.join(sorted(FUNCTIONS))}",
    )


_AST_LOCK = threading.Lock()


def parse_tree(text: str) -> ast.expr:
    """``ast.parse(text, mode="eval").body``, one thread at a time: CPython 3.11's AST
    constructor keeps one recursion count per interpreter, and threads parsing at once make
    it raise ``SystemError: AST constructor recursion depth mismatch`` (cpython#106905)."""
    with _AST_LOCK, warnings.catch_warnings():
        # "invalid decimal literal" for text such as 9q: the refusal that follows says it
        warnings.simplefilter("ignore", SyntaxWarning)
        return ast.parse(text, mode="eval").body


@functools.lru_cache(maxsize=16384)
def _parse(text: str) -> ast.expr:
    """Parse ``text`` and check that it only uses the supported syntax.

    Cached (circuits repeat expressions and are parsed several times); never mutate the tree.
    """
    if not text.strip():
        raise _fail(text, "empty expression")
    try:
        tree = parse_tree(text.strip())
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise _fail(text, "not a valid arithmetic expression") from exc
    _check(tree, text, 0)
    return tree


def _check(node: ast.expr, text: str, level: int) -> None:
    if level > _MAX_DEPTH:
        raise _fail(text, "nested too deeply")
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(text, f"unsupported literal {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise _fail(text, "literal is not finite")
    elif isinstance(node, ast.Name):
        if node.id in _FUNCTION_ALIASES or node.id in FUNCTIONS:
            raise _fail(text, f"function {node.id!r} used without an argument")
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.USub | ast.UAdd):
            raise _fail(text, "only unary + and - are allowed")
        _check(node.operand, text, level + 1)
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _BINOPS:
            raise _fail(text, "only + - * / and ** are allowed")
        _check(node.left, text, level + 1)
        _check(node.right, text, level + 1)
    elif isinstance(node, ast.Call):
        func = node.func
        if not isinstance(func, ast.Name) or (
            func.id not in FUNCTIONS and func.id not in _FUNCTION_ALIASES
        ):
            called = func.id if isinstance(func, ast.Name) else ast.unparse(func)
            raise _fail(text, f"unknown function {called!r}")
        if len(node.args) != 1 or node.keywords:
            raise _fail(text, f"{func.id}() takes exactly one argument")
        _check(node.args[0], text, level + 1)
    else:
        raise _fail(text, f"{type(node).__name__} is not allowed")


def _print(node: ast.expr, rename_map: Mapping[str, str]) -> tuple[str, int]:
    """Canonical text of a checked tree and its precedence level."""
    if isinstance(node, ast.Constant):
        value = node.value
        assert isinstance(value, int | float)  # guaranteed by _check
        return repr(value), _ATOM
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return _CONSTANT_CANONICAL.get(node.id, node.id), _ATOM
        return rename_map.get(node.id, node.id), _ATOM
    if isinstance(node, ast.UnaryOp):
        operand, level = _print(node.operand, rename_map)
        if isinstance(node.op, ast.UAdd):
            return operand, level
        return ("-" + (operand if level >= _UNARY else f"({operand})")), _UNARY
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        name = _FUNCTION_ALIASES.get(node.func.id, node.func.id)
        return f"{name}({_print(node.args[0], rename_map)[0]})", _ATOM
    assert isinstance(node, ast.BinOp)
    symbol, level = _BINOPS[type(node.op)]
    left, left_level = _print(node.left, rename_map)
    right, right_level = _print(node.right, rename_map)
    if level == _POW:
        # ``**`` is right-associative and binds tighter than a unary minus on its left.
        left_paren = left_level <= _POW
        right_paren = right_level < _UNARY
    else:
        left_paren = left_level < level
        right_paren = right_level <= level
    left = f"({left})" if left_paren else left
    right = f"({right})" if right_paren else right
    return f"{left}{symbol}{right}", level


@functools.lru_cache(maxsize=16384)
def _analyse(expr: str) -> tuple[str, frozenset[str]]:
    """Canonical text and parameter names of ``expr``."""
    tree = _parse(expr)
    functions = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    used = frozenset(
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and node.id not in CONSTANTS and id(node) not in functions
    )
    return rename(expr, {}), used


def normalize(expr: str) -> str:
    """Return the canonical text of ``expr``; raise :class:`CircuitError` if it is invalid."""
    return _analyse(expr)[0]


def rename(expr: str, mapping: Mapping[str, str]) -> str:
    """Canonical text of ``expr`` with identifiers renamed through ``mapping``."""
    try:
        return _print(_parse(expr), mapping)[0]
    except RecursionError as exc:
        raise _fail(expr, "nested too deeply") from exc


def substitute(expr: str, mapping: Mapping[str, str]) -> str:
    """Canonical text of ``expr`` with each name of ``mapping`` replaced by the expression
    it maps to, all at once (a gate definition's parameters by the arguments of a call)."""
    if not mapping:
        return normalize(expr)
    trees = {name: _parse(text) for name, text in mapping.items()}

    class _Replace(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.expr:
            return copy.deepcopy(trees[node.id]) if node.id in trees else node

        def visit_Call(self, node: ast.Call) -> ast.expr:  # a function's name stays
            node.args = [self.visit(arg) for arg in node.args]
            return node

    try:
        tree = _Replace().visit(copy.deepcopy(_parse(expr)))
        return _print(tree, {})[0]
    except RecursionError as exc:
        raise _fail(expr, "nested too deeply") from exc


def names(expr: str) -> set[str]:
    """Parameter names used in ``expr`` (constants and functions excluded)."""
    return set(_analyse(expr)[1])


def is_parameter_name(name: str) -> bool:
    """Whether ``name`` can name an input parameter (identifier, not reserved)."""
    if not name.isidentifier() or name in RESERVED:
        return False
    try:
        tree = parse_tree(name)
    except SyntaxError:  # keywords such as ``for``
        return False
    # Python NFKC-normalises identifiers; a name that changes would never match itself.
    return isinstance(tree, ast.Name) and tree.id == name


def _sqrt(value: Any) -> Any:
    return math.sqrt(value) if isinstance(value, int | float) else value**0.5


_MATH: dict[str, Callable[[Any], Any]] = {
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "arcsin": math.asin,
    "arccos": math.acos,
    "arctan": math.atan,
    "exp": math.exp,
    "log": math.log,
    "sqrt": _sqrt,
}


def _apply(name: str, value: Any) -> Any:
    # Symbolic values (qiskit ParameterExpression) provide .sin(), .arcsin(), ...;
    # plain numbers go through math.
    method = getattr(value, name, None)
    if name != "sqrt" and callable(method) and not isinstance(value, int | float):
        return method()
    if name == "sqrt" or isinstance(value, int | float):
        return _MATH[name](value)
    return _MATH[name](float(value))


def evaluate(expr: str, env: Mapping[str, Any]) -> Any:
    """Evaluate ``expr`` with parameter values from ``env``.

    Values may be numbers or symbolic objects supporting arithmetic (e.g. qiskit
    ``Parameter``/``ParameterExpression``, for which functions use their ``.sin()``-style
    methods). Literals are evaluated as floats.
    """
    tree = _parse(expr)
    try:
        return _eval(tree, env, expr)
    except (ArithmeticError, ValueError) as exc:
        if isinstance(exc, CircuitError):
            raise
        raise _fail(expr, f"cannot evaluate ({exc})") from exc
    except RecursionError as exc:
        raise _fail(expr, "nested too deeply") from exc


def _eval(node: ast.expr, env: Mapping[str, Any], text: str) -> Any:
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, int | float)  # guaranteed by _check
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if node.id not in env:
            raise _fail(text, f"no value for {node.id!r}")
        return env[node.id]
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, env, text)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        name = _FUNCTION_ALIASES.get(node.func.id, node.func.id)
        return _apply(name, _eval(node.args[0], env, text))
    assert isinstance(node, ast.BinOp)
    left = _eval(node.left, env, text)
    right = _eval(node.right, env, text)
    if isinstance(node.op, ast.Add):
        return left + right
    if isinstance(node.op, ast.Sub):
        return left - right
    if isinstance(node.op, ast.Mult):
        return left * right
    if isinstance(node.op, ast.Div):
        return left / right
    power = left**right
    if isinstance(power, complex):  # Python's answer for a negative base: no angle
        raise _fail(text, f"{left!r}**{right!r} has no real value (a negative base)")
    return power

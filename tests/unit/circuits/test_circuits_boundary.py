"""The circuit boundary against texts written to knock it over (issue 22): limits checked
before a statement is expanded, sizes too long to be numbers, angles that are not finite
numbers, and line breaks as OpenQASM has them (only ``\\n``, ``\\r\\n`` and ``\\r``)."""

from __future__ import annotations

import pytest

from circuits import qasm
from circuits.errors import CircuitError
from circuits.qasm_parser import MAX_QUBIT_OPERANDS
from circuits.validation import Limits, check_circuit

HEADER = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'
FLOOD = HEADER + "qubit[100000] q;\n" + "h q;\n" * 250  # 1.3 KB, 25 million gates if built


def test_a_broadcast_flood_past_the_qubit_limit_is_never_expanded() -> None:
    parsed = qasm.parse(FLOOD, max_qubits=20)
    assert parsed.ir is not None and parsed.ir.ops == () and parsed.beyond == (4, 20)
    with pytest.raises(CircuitError) as caught:
        check_circuit(FLOOD, Limits(max_qubits=20))
    assert caught.value.line == 4
    assert "100000 qubits, more than max_qubits=20; qubit 20 is first used" in caught.value.message


def test_a_broadcast_flood_with_no_limit_stops_at_the_operand_budget() -> None:
    with pytest.raises(CircuitError, match="more than 100,000 qubit operands") as caught:
        qasm.loads(FLOOD)
    assert caught.value.line == 5  # the first h q; fits the budget exactly, the second not
    assert MAX_QUBIT_OPERANDS == 100_000


def test_a_circuit_too_big_to_store_is_a_circuit_error() -> None:
    with pytest.raises(CircuitError, match=r"canonical text would be \d+ bytes"):
        check_circuit(HEADER + "qubit[90000] q;\nh q;\n")


@pytest.mark.parametrize(
    ("body", "line", "says"),
    [
        ("qubit[" + "9" * 5000 + "] q;\n", 3, "too large for a register size"),
        ("qreg q[" + "1" * 20 + "];\n", 3, "too large for a register size"),
        ("qubit[2] q;\nh q[" + "9" * 5000 + "];\n", 4, "too large for a register size or index"),
        ("qubit[1] q;\nrx(1/0) q[0];\n", 4, "division by zero"),
        ("qubit[1] q;\nrx(log(0)) q[0];\n", 4, "math domain error"),
        ("qubit[1] q;\nrx(sqrt(-1)) q[0];\n", 4, "math domain error"),
        ("qubit[1] q;\nrx(2**1024) q[0];\n", 4, "cannot evaluate"),
        ("qubit[1] q;\nrx(1e308*10) q[0];\n", 4, "is inf, not a finite number"),
        ("qubit[1] q;\nu(1e308*10, 0, -1e308*10) q[0];\n", 4, "not a finite number"),
    ],
)
def test_numbers_that_cannot_be_used_are_refused_with_their_line(
    body: str, line: int, says: str
) -> None:
    with pytest.raises(CircuitError) as caught:
        qasm.loads(HEADER + body)
    assert caught.value.line == line and says in caught.value.message


@pytest.mark.parametrize("brk", ["\u2028", "\u2029", "\x0c", "\x0b", "\x85", "\x1c", "\x1e"])
def test_a_unicode_line_break_does_not_end_a_comment(brk: str) -> None:
    ir = qasm.loads(HEADER + f"qubit[1] q;\n// x is off{brk}x q[0];\nh q[0];\n")
    assert [op.name for op in ir.ops] == ["h"]
    with pytest.raises(CircuitError) as caught:
        qasm.loads(HEADER + f"qubit[1] q;\n{brk}\nfoo q[0];\n")
    assert caught.value.line == 5


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_lines_are_counted_at_each_kind_of_newline(newline: str) -> None:
    text = (HEADER + "qubit[1] q;\n\nfoo q[0];\n").replace("\n", newline)
    with pytest.raises(CircuitError) as caught:
        qasm.loads(text)
    assert caught.value.line == 5

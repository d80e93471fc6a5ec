"""The canonical OpenQASM 3 subset: exact emitted form, tolerant parsing, errors with lines."""

from __future__ import annotations

import pickle

import pytest
from qiskit import QuantumCircuit, qasm2, qasm3
from qiskit.circuit import Parameter
from qiskit.quantum_info import Operator

from circuits import Circuit
from circuits.errors import CircuitError
from circuits.ir import GATES, CircuitIR, Op, depth, two_qubit_gate_count
from circuits.qasm import dumps, loads
from circuits.qiskit_convert import to_qiskit

CANONICAL = """\
OPENQASM 3.0;
include "stdgates.inc";
input float[64] theta_0;
input float[64] gamma;
qubit[3] q;
bit[3] c;
h q[0];
rz(2*theta_0 + 0.5) q[1];
cx q[0], q[1];
U(1.0, gamma, pi/2) q[2];
barrier q[0], q[1];
c[0] = measure q[0];
"""

IR = CircuitIR(
    num_qubits=3,
    num_clbits=3,
    parameters=("theta_0", "gamma"),
    ops=(
        Op("h", (0,)),
        Op("rz", (1,), ("2 * theta_0+0.5",)),
        Op("cx", (0, 1)),
        Op("u", (2,), ("1.0", "gamma", "pi / 2")),
        Op("barrier", (0, 1)),
        Op("measure", (0,), (), (0,)),
    ),
)


def test_dumps_exact_form() -> None:
    assert dumps(IR) == CANONICAL


def test_loads_canonical_and_idempotent() -> None:
    ir = loads(CANONICAL)
    assert ir.parameters == ("theta_0", "gamma")
    assert ir.ops[1] == Op("rz", (1,), ("2*theta_0 + 0.5",))
    assert ir.ops[-1] == Op("measure", (0,), (), (0,))
    assert dumps(ir) == CANONICAL
    assert dumps(loads(dumps(IR))) == dumps(IR)


def test_no_bit_line_without_clbits() -> None:
    text = dumps(CircuitIR(2, 0, (), (Op("cz", (1, 0)),)))
    assert "\nbit[" not in text
    assert text.endswith("qubit[2] q;\ncz q[1], q[0];\n")


MESSY = """\
// a comment line
OPENQASM 3;
include "stdgates.inc";

input float[64] theta_0;   // trailing comment
input float gamma;
/* block
   comment */
qubit[3] qr;
bit[3] out;
h qr[0];
rz( 2 * theta_0+0.5 ) qr[ 1 ];
CX qr[0],qr[1];
U(1.0, gamma, π/2) qr[2];
barrier qr[0], qr[1];
measure qr[0] -> out[0];
"""


def test_variants_give_the_same_circuit_and_hash() -> None:
    assert dumps(loads(MESSY)) == CANONICAL
    assert Circuit(qasm=MESSY).sha256 == Circuit(qasm=CANONICAL).sha256
    without_version = MESSY.replace("OPENQASM 3;", "").replace("CX", "cnot")
    assert Circuit.from_qasm(without_version) == Circuit.from_qasm(CANONICAL)


def test_aliases() -> None:
    text = "qubit[2] q;\nphase(0.5) q[0];\ncphase(0.25) q[0], q[1];\nu3(1, 2, 3) q[1];\n"
    text += "u1(0.1) q[1];\nu2(0.2, 0.3) q[0];\n"
    ops = loads(text).ops
    assert [op.name for op in ops] == ["p", "cp", "u", "p", "u"]
    assert ops[-1].params == ("pi/2", "0.2", "0.3")


def test_qasm2_from_qiskit_dumps_keeps_the_unitary() -> None:
    qc = QuantumCircuit(3)
    qc.h(0)
    qc.cx(0, 1)
    qc.u(0.1, 0.2, 0.3, 2)
    qc.rz(1.25, 1)
    qc.ccx(0, 1, 2)
    qc.cswap(2, 0, 1)
    ir = loads(qasm2.dumps(qc))
    assert Operator(to_qiskit(ir)).equiv(Operator(qc))


def test_qasm3_from_qiskit_dumps_is_accepted() -> None:
    a = Parameter("a")
    qc = QuantumCircuit(2, 2)
    qc.h(0)
    qc.cx(0, 1)
    qc.rz(2 * a, 1)
    qc.measure([0, 1], [0, 1])
    ir = loads(qasm3.dumps(qc))
    assert ir.parameters == ("a",)
    assert ir.ops[2] == Op("rz", (1,), ("2*a",))
    assert ir.num_clbits == 2


def test_qasm2_register_broadcast() -> None:
    text = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q;\nmeasure q -> c;\n'
    ops = loads(text).ops
    assert ops == (
        Op("h", (0,)),
        Op("h", (1,)),
        Op("measure", (0,), (), (0,)),
        Op("measure", (1,), (), (1,)),
    )


HEADER = 'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] alpha;\nqubit[3] q;\nbit[1] c;\n'


@pytest.mark.parametrize(
    ("statement", "words"),
    [
        ("foo q[0];", ["unknown gate 'foo'", "supported gates: ccx, ch, cp"]),
        ("hh q[0];", ["unknown gate 'hh'", "did you mean 'h'"]),
        ("cx q[0];", ["acts on 2 qubit(s), got 1"]),
        ("rx q[0];", ["takes 1 parameter(s), got 0"]),
        ("u(1, 2) q[0];", ["takes 3 parameter(s), got 2"]),
        ("h q[5];", ["qubit index 5 out of range", "size 3"]),
        ("rx(theta) q[0];", ["undeclared parameter 'theta'", "declared inputs: alpha"]),
        ("rx(1 +) q[0];", ["bad expression"]),
        ("rx(os.system(1)) q[0];", ["bad expression"]),
        ("cx q[1], q[1];", ["same qubit more than once"]),
        ("h r[0];", ["unknown qubit register 'r'"]),
        ("c[3] = measure q[0];", ["bit index 3 out of range", "size 1"]),
        ("measure q[0];", ["bad measurement"]),
        ("opaque foo a;", ["only the flat gate subset", "supported gates:"]),
        ("if (c[0]) c[1] = measure q[0];", ["only gates can"]),
        ("for uint i in [0:2] {", ["only the flat gate subset"]),
        ("ctrl @ x q[0], q[1];", ["only the flat gate subset"]),
        ("qubit[2] q;", ["name 'q' is declared twice", "line 8"]),
        ("bit[2] c;", ["name 'c' is declared twice"]),
        ("h q[0]", ["missing ';'"]),
        ("input float[64] pi;", ["reserved"]),
        ("input float[64] alpha;", ["declared twice"]),
        ('include "other.inc";', ["unsupported include"]),
        ("OPENQASM 3.0;", ["must be the first statement"]),
        ("h q[0];;", ["stray ';'"]),
    ],
)
def test_parse_errors_name_the_line(statement: str, words: list[str]) -> None:
    text = HEADER + "h q[0];\n\n" + statement + "\nx q[1];\n"
    with pytest.raises(CircuitError) as info:
        loads(text)
    assert info.value.line == 8
    message = str(info.value)
    assert message.startswith("line 8: ")
    for word in words:
        assert word in message


def test_missing_qubit_declaration() -> None:
    with pytest.raises(CircuitError, match="missing qubit declaration") as info:
        loads('OPENQASM 3.0;\ninclude "stdgates.inc";\nh q[0];\n')
    assert info.value.line == 3
    with pytest.raises(CircuitError, match="missing qubit declaration") as info:
        loads("OPENQASM 3.0;\n")
    assert info.value.line == 1


def test_measure_without_bit_register() -> None:
    with pytest.raises(CircuitError, match="missing bit declaration") as info:
        loads("qubit[1] q;\nc[0] = measure q[0];\n")
    assert info.value.line == 2


def test_multiline_block_comment_keeps_line_numbers() -> None:
    with pytest.raises(CircuitError) as info:
        loads("qubit[1] q;\n/* one\ntwo\n*/ foo q[0];\n")
    assert info.value.line == 4


def test_max_bytes() -> None:
    text = "qubit[1] q;\n" + "h q[0];\n" * 100
    assert len(loads(text).ops) == 100
    with pytest.raises(CircuitError, match="more than the limit of 500"):
        loads(text, max_bytes=500)


def test_error_str_and_pickle() -> None:
    error = CircuitError("unknown gate 'foo'", line=5, hint="supported gates: h")
    assert str(error) == "line 5: unknown gate 'foo'; supported gates: h"
    assert str(CircuitError("bad")) == "bad"
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.message, copy.line, copy.hint) == ("unknown gate 'foo'", 5, "supported gates: h")


def test_dumps_refuses_bad_ir() -> None:
    with pytest.raises(CircuitError, match="undeclared"):
        dumps(CircuitIR(1, 0, (), (Op("rx", (0,), ("theta",)),)))
    with pytest.raises(CircuitError, match="out of range"):
        dumps(CircuitIR(1, 0, (), (Op("cx", (0, 1)),)))
    with pytest.raises(CircuitError, match="unknown gate"):
        dumps(CircuitIR(1, 0, (), (Op("foo", (0,)),)))


def test_every_supported_gate_round_trips_through_text() -> None:
    ops = []
    for name, spec in GATES.items():
        if name in ("measure", "barrier"):
            continue
        width = spec.num_qubits or 1
        params = tuple(f"{k + 1}*a" for k in range(spec.num_params))
        ops.append(Op(name, tuple(range(width)), params))
    ir = CircuitIR(3, 1, ("a",), (*ops, Op("barrier", (0, 2)), Op("measure", (2,), (), (0,))))
    assert loads(dumps(ir)) == ir


def test_depth_and_two_qubit_count_match_qiskit() -> None:
    qc = QuantumCircuit(3, 2)
    qc.h(0)
    qc.cx(0, 1)
    qc.barrier()
    qc.rzz(0.3, 1, 2)
    qc.ccx(0, 1, 2)
    qc.measure(0, 0)
    qc.measure(1, 0)
    ir = Circuit.from_qiskit(qc).ir
    assert depth(ir) == qc.depth()
    assert two_qubit_gate_count(ir) == 2

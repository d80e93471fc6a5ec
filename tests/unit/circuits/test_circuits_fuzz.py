"""Mutated inputs on every public entry point of the circuit boundary (issue 22): 2,000 per
entry point, made from real-looking texts by truncation, token swaps and deletions, huge
registers and broadcasts, deep nesting, long numbers and Unicode line breaks. Each call
either returns or raises ``CircuitError``; no other exception type ever reaches a caller,
and no input makes the parser hold more than a bounded amount of memory."""

from __future__ import annotations

import random
import re
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

from circuits import (
    Circuit,
    CircuitError,
    PauliSum,
    coerce_circuit,
    coerce_observable,
    expressions,
    qasm,
)
from circuits.validation import Limits, check_circuit, check_parameter_values

PER_ENTRY_POINT = 2000
PEAK_BYTES = 64 << 20
"""The most memory one call may hold at its peak (traced by ``tracemalloc``)."""

SEEDS = [
    'OPENQASM 3.0;\ninclude "stdgates.inc";\ninput float[64] theta;\nqubit[3] q;\nbit[3] c;\n'
    "h q[0];\ncx q[0], q[1];\nrz(2*theta + 0.5) q[2];\nbarrier q;\nc[0] = measure q[0];\n"
    "c[1] = measure q[1];\n",
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[4];\ncreg c[4];\nu3(pi/2, 0, pi) q[0];\n'
    "cu1(pi/4) q[0], q[1];\nh q;\nmeasure q -> c;\n",
    "OPENQASM 3;\nqubit[2] r; /* block */\nU(0.1, 0.2, 0.3) r[0]; // comment\nCX r[0], r[1];\n"
    "rxx(sin(pi/3)**2) r[0], r[1];\nreset r[1];\n",
    'OPENQASM 2.0;\ninclude "qelib1.inc";\ngate rzz(param0) q0,q1 { cx q0,q1; u1(param0) q1; '
    "cx q0,q1; }\ngate mine(theta, lambda) a, b\n{\n  u3(theta, 0, lambda) a;\n"
    "  rzz(theta/2) a, b;\n}\nqreg q[4];\ncreg c[4];\nmine(pi/3, 0.2) q[0], q[1];\n"
    "cu3(0.1, 0.2, 0.3) q[1], q[2];\ncsx q[0], q[2];\nc3x q[0], q[1], q[2], q[3];\n"
    "mine(0.1, 0.2) q, q;\nmeasure q -> c;\n",
    'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[3];\ncreg a[1];\ncreg b[2];\n'
    "measure q[0] -> a[0];\nif(a==1) x q[1];\nif (b==3) u1(pi/2) q;\n"
    "if (b[0:1] == 2) { cx q[0], q[1]; h q[2]; }\nif (!a[0]) z q[0];\nelse y q[0];\n",
]
TOKENS = [
    "qubit[100000] q;", "h q;", "barrier q;", "bit[99999] c;", "9" * 5000, "(" * 300,
    ")" * 300, "1e308*10", "1/0", "log(0)", "(-1)**0.5", "2**1024", "\u2028", "\x0c", "\x85",
    "\x1e", "\r", "//", "/*", "*/", "gate g a { h a; }", "if (c == 1) x q[0];", "@", "{", "}",
    "else", "if (c[0]) {", "!", "==", "!=", "c[0:1]", "true", "if (" * 300,
    ";", ",", "q[", "]", "input float[64] h;", "pi" * 50, "\ufeff", "\x00", "é", "θ",
]  # fmt: skip


def mutate(rng: random.Random, text: str) -> str:
    """One mutation (or a few) of ``text``."""
    for _ in range(rng.randint(1, 3)):
        pieces = re.split(r"(\s+|[;,()\[\]])", text)
        kind = rng.randrange(6)
        at = rng.randrange(len(pieces) + 1)
        if kind == 0:
            text = text[: rng.randrange(len(text) + 1)]
        elif kind == 1 and len(pieces) > 2:
            i, j = rng.randrange(len(pieces)), rng.randrange(len(pieces))
            pieces[i], pieces[j] = pieces[j], pieces[i]
            text = "".join(pieces)
        elif kind == 2 and pieces:
            del pieces[rng.randrange(len(pieces))]
            text = "".join(pieces)
        elif kind == 3:
            text = "".join(pieces[:at]) + rng.choice(TOKENS) + "".join(pieces[at:])
        elif kind == 4:
            line = rng.choice(["h q;\n", "barrier q;\n", "cx q, q;\n", "measure q -> c;\n"])
            text = text + line * rng.choices([1, 10, 250, 5000], weights=[40, 40, 16, 4])[0]
        else:
            depth = rng.choices([10, 100, 1000, 20000], weights=[40, 40, 16, 4])[0]
            text = text + f"rx({'(' * depth}0.1{')' * depth}) q[0];\n"
    return text


def _observable(text: str) -> Any:
    return coerce_observable(re.sub(r"[^IXYZ0-9.+* -]", "", text)[:200] or text)


ENTRY_POINTS: dict[str, Callable[[str], Any]] = {
    "qasm.loads": qasm.loads,
    "qasm.parse": lambda t: qasm.parse(t, max_errors=20),
    "check_circuit": lambda t: check_circuit(t, Limits(max_qubits=20)),
    "Circuit.from_qasm": Circuit.from_qasm,
    "coerce_circuit": coerce_circuit,
    "expressions.normalize": lambda t: expressions.normalize(t[-300:]),
    "PauliSum.from_text": lambda t: PauliSum.from_text(t[:500]),
    "coerce_observable": _observable,
    "check_parameter_values": lambda t: check_parameter_values(
        qasm.loads(t), [float(len(t)) % 7] * len(qasm.loads(t).parameters)
    ),
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_only_circuit_errors_come_out(entry: str) -> None:
    call = ENTRY_POINTS[entry]
    rng = random.Random(f"issue-22-{entry}")
    foreign: list[str] = []
    heavy: list[tuple[int, str]] = []
    for n in range(PER_ENTRY_POINT):
        text = mutate(rng, SEEDS[n % len(SEEDS)])
        traced = n % 50 == 0  # tracing slows every call; one in fifty is watched
        if traced:
            tracemalloc.start()
        try:
            call(text)
        except CircuitError:
            pass
        except Exception as exc:  # the test's point: name any other type that escapes
            foreign.append(f"{type(exc).__name__}: {str(exc)[:120]} <- {text[:160]!r}")
        finally:
            if traced:
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                if peak > PEAK_BYTES:
                    heavy.append((peak, text[:160]))
    assert foreign == []
    assert heavy == []

"""Circuit boundary benchmark (issue 22): how fast hostile OpenQASM texts are refused.

The texts of issue 22: ``qubit[100000] q;`` followed by 250 lines of ``h q;`` (1.3 KB, which
once expanded to 25 million operations: 125 s and a MemoryError), checked against a 20-qubit
limit (``check_circuit``, as admission does) and read with no limit (``Circuit.from_qasm``,
refused at 100,000 qubit operands); a 5,000-digit register size; and a 20,000-deep nest of
parentheses. The baseline, in the same run, is the time to read an ordinary 1.3 KB circuit
(20 qubits, 80 gates). Each is the median of 50 calls.

Run from the repository root::

    .venv/bin/python benchmarks/circuit_boundary.py

It writes ``benchmarks/circuit_boundary.json``.
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from circuits import Circuit  # noqa: E402
from circuits.errors import CircuitError  # noqa: E402
from circuits.validation import Limits, check_circuit  # noqa: E402

HEAD = 'OPENQASM 3.0;\ninclude "stdgates.inc";\n'
BROADCAST = HEAD + "qubit[100000] q;\n" + "h q;\n" * 250
ORDINARY = (
    HEAD + "qubit[20] q;\n" + "".join(f"cx q[{i % 20}], q[{(i + 1) % 20}];\n" for i in range(80))
)
CASES: dict[str, tuple[str, Callable[[str], Any]]] = {
    "broadcast, 20-qubit limit": (BROADCAST, lambda t: check_circuit(t, Limits(max_qubits=20))),
    "broadcast, no limit": (BROADCAST, Circuit.from_qasm),
    "5,000-digit register": (HEAD + f"qubit[{'9' * 5000}] q;\n", Circuit.from_qasm),
    "20,000-deep parentheses": (
        HEAD + "qubit[1] q;\n" + f"rx({'(' * 20000}0.1{')' * 20000}) q[0];\n",
        Circuit.from_qasm,
    ),
}


def _median_seconds(text: str, call: Callable[[str], Any], *, refused: bool) -> float:
    times = []
    for _ in range(50):
        start = time.perf_counter()
        try:
            call(text)
            assert not refused, "a hostile text was accepted"
        except CircuitError:
            assert refused, "the ordinary circuit was refused"
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Measure each case against the baseline and write the JSON next to this file."""
    baseline = _median_seconds(ORDINARY, Circuit.from_qasm, refused=False)
    rows = []
    for name, (text, call) in CASES.items():
        seconds = _median_seconds(text, call, refused=True)
        rows.append(
            {
                "case": name,
                "bytes": len(text.encode()),
                "ms": round(seconds * 1000, 3),
                "ratio_to_baseline": round(seconds / baseline, 2),
            }
        )
    result = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "baseline": {
            "case": "ordinary 1.3 KB circuit read",
            "bytes": len(ORDINARY.encode()),
            "ms": round(baseline * 1000, 3),
        },
        "cases": rows,
    }
    (ROOT / "benchmarks" / "circuit_boundary.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

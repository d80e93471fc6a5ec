"""A driver program of proposal A that holds its job open while another tenant hunts.

It submits one quantum task, waits until the file named in its payload appears (the test
creates it once the hunter's job has ended), then submits a second one and ends.
"""

from __future__ import annotations

import os
import time
from typing import Any

from broker.drivers.sdk import Driver

COIN = "\n".join(
    ["OPENQASM 3.0;", 'include "stdgates.inc";', "qubit[1] q;", "bit[1] c;", "h q[0];",
     "c[0] = measure q[0];", ""]
)  # fmt: skip


def run(payload: dict[str, Any]) -> dict[str, Any]:
    """Two tasks, with a wait for ``payload['release']`` between them."""
    driver = Driver.from_env()
    first = driver.run(COIN, shots=100)
    deadline = time.monotonic() + float(payload.get("timeout_s", 300))
    while not os.path.exists(payload["release"]):
        if time.monotonic() > deadline:
            raise TimeoutError("never released")
        time.sleep(0.05)
    second = driver.run(COIN, shots=100)
    return {
        "tasks": 2,
        "counts": [first.items[0].counts, second.items[0].counts],
        "uid": os.getuid(),
    }

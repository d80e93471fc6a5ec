"""What runs on a base install (``pip install qcbroker``: no ``service`` extra) needs none
of it: the embedded runtime, its driver endpoint, and the SDK a driver program uses."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "broker.processes.runtime",
        "broker.drivers.endpoint",
        "broker.drivers.sdk",
        "broker.cli.main",
    ],
)
def test_it_imports_without_the_service_extra(module: str) -> None:
    blocked = ["fastapi", "uvicorn", "starlette", "psycopg", "redis", "flower"]
    code = (
        "import sys\n"
        f"for name in {blocked!r}:\n"
        "    sys.modules[name] = None  # importing it now raises ImportError\n"
        f"import {module}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr

"""The README's service-mode example runs as written, on this test's own Redis, database
name and port (substituted for the README's 6379, ``qcb`` and 8000)."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from broker.stack import RedisServer, drop_database, free_port
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e

README = (ROOT / "README.md").read_text()
SERVICE = README.split("## Service mode", 1)[1]
BLOCK = re.findall(r"```bash\n(.*?)```", SERVICE, re.S)[0]


def test_the_service_example_runs(qcb_home: Path, tmp_path: Path) -> None:
    redis = RedisServer(tmp_path / "redis").start()
    database = f"qcb_readme_{uuid.uuid4().hex[:8]}"
    port = free_port()
    script = (
        BLOCK.replace("127.0.0.1:6379/0", f"127.0.0.1:{redis.port}/0")
        .replace("5432/qcb", f"5432/{database}")
        .replace("8000", str(port))
    )
    assert script != BLOCK and "qcb up" in script and "qcb run" in script
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    (tmp_path / "docker").symlink_to(ROOT / "docker")
    env_bin = str(Path(sys.executable).parent)
    wrapper = f"export PATH=\"{env_bin}:$PATH\"\nset -eo pipefail\ntrap 'kill %1; wait' EXIT\n"
    try:
        proc = subprocess.run(
            ["bash", "-c", wrapper + script], cwd=tmp_path, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
    finally:
        redis.stop()
        drop_database(f"postgresql+psycopg://postgres:postgres@127.0.0.1:5432/{database}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "COMPLETED" in proc.stdout and "-1.13730" in proc.stdout
    assert (tmp_path / "alice.token").read_text().startswith("qcb_")

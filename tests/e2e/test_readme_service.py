"""The README's service-mode example runs as written, on this test's own Redis, database and
port (its own ``env.sh`` for the one ``docker/services/start.sh`` writes, and a port for
8000), each with a password of its own."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from broker.stack import RedisServer, create_database, drop_database, free_port
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e

README = (ROOT / "README.md").read_text()
SERVICE = README.split("## Service mode", 1)[1]
BLOCK = re.findall(r"```bash\n(.*?)```", SERVICE, re.S)[0]


def test_the_service_example_runs(qcb_home: Path, tmp_path: Path) -> None:
    redis = RedisServer(tmp_path / "redis").start()
    database = create_database()
    port = free_port()
    env_sh = tmp_path / "env.sh"
    env_sh.write_text(f"export QCB_DATABASE_URL={database}\nexport QCB_BROKER_URL={redis.url}\n")
    script = BLOCK.replace("/tmp/qcb-services/env.sh", str(env_sh)).replace("8000", str(port))
    assert script != BLOCK and "qcb up" in script and "qcb run" in script
    assert "docker/services/start.sh" in script
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
        drop_database(database)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "COMPLETED" in proc.stdout and "-1.13730" in proc.stdout
    assert (tmp_path / "alice.token").read_text().startswith("qcb_")

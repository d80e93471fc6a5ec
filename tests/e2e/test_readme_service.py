"""The README's service-mode example runs as written, on this test's own Redis, database and
port (its own ``env.sh`` for the one ``docker/services/start.sh`` writes, and a port for
8000), each with a password of its own."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.harness.stack import RedisServer, create_database, drop_database, free_port

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
    proc = subprocess.Popen(
        ["bash", "-c", wrapper + script], cwd=tmp_path, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        _stop_group(proc)  # whatever the script left running (a timeout skips its trap)
        redis.stop()
        drop_database(database)
    assert proc.returncode == 0, stdout + stderr
    assert "Traceback" not in stderr
    assert "COMPLETED" in stdout and "-1.13730" in stdout
    assert (tmp_path / "alice.token").read_text().startswith("qcb_")


def _stop_group(proc: subprocess.Popen[str]) -> None:
    """SIGTERM to the script's whole process group (``qcb up`` and its children), then
    SIGKILL to what is left."""
    for sig, grace in ((signal.SIGTERM, 30.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            continue

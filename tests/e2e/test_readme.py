"""Every example in the README runs as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.examples_run import record_command

pytestmark = pytest.mark.e2e

README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", README, re.S)


def shell_commands() -> list[str]:
    """Each ``qcb`` line of the README's sh blocks, after the set-up lines of its block
    (``docker/...`` scripts, ``. env.sh`` and ``export``s)."""
    commands = []
    for lang, body in BLOCKS:
        if lang != "sh":
            continue
        setup: list[str] = []
        for line in body.splitlines():
            command = line.split("  #")[0].strip()
            if command.startswith(("docker/", ". ", "export ")):
                setup.append(command)
            elif command.startswith("qcb "):
                commands.append(" && ".join([*setup, command]))
    return commands


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    (tmp_path / "docker").symlink_to(ROOT / "docker")
    (tmp_path / "policies").symlink_to(ROOT / "policies")
    return tmp_path


def test_the_readme_has_examples_to_run() -> None:
    assert len(shell_commands()) >= 3
    assert any(lang == "python" for lang, _ in BLOCKS)
    assert "make demo" in README and "make test" in README


@pytest.mark.parametrize("command", shell_commands())
def test_readme_shell_command(command: str, qcb_home: Path, workdir: Path) -> None:
    env_bin = str(Path(sys.executable).parent)
    proc = subprocess.run(
        ["bash", "-c", f'export PATH="{env_bin}:$PATH"; {command}'],
        cwd=workdir, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    record_command(command)


def test_readme_python_examples(qcb_home: Path, workdir: Path) -> None:
    for lang, body in BLOCKS:
        if lang == "python":
            proc = subprocess.run(
                [sys.executable, "-c", body], cwd=workdir, capture_output=True, text=True,
                timeout=300,
            )  # fmt: skip
            assert proc.returncode == 0, proc.stderr
            assert "-1.13" in proc.stdout  # the H2 total energy

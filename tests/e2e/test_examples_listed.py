"""Every example job is listed in the README and run by a test."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import EXAMPLES, ROOT

pytestmark = pytest.mark.e2e


def job_files() -> list[str]:
    """The example job files (YAML documents of kind Job)."""
    found = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        if isinstance(data, dict) and data.get("kind") == "Job":
            found.append(path.name)
    return found


def test_every_example_job_is_in_the_readme_and_run_by_a_test() -> None:
    names = job_files()
    assert len(names) >= 7
    readme = (ROOT / "README.md").read_text()
    this = ROOT / "tests" / "e2e" / "test_examples_listed.py"
    tests = "\n".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py") if p != this)
    for name in names:
        assert f"examples/{name}" in readme or f"`{name}`" in readme, name
        assert name in tests or name in readme_commands(readme), name


def readme_commands(readme: str) -> str:
    """The README's ``qcb run`` lines (run by tests/e2e/test_readme.py)."""
    return "\n".join(line for line in readme.splitlines() if line.startswith("qcb run "))

"""schemathesis (from PyPI) against a live service (API, scheduler, a worker, PostgreSQL and
Redis), as a researcher, a committee member and an admin, with every check: any server error,
response that violates its schema, undocumented status code, wrong ``Allow`` header or
schema-violating request accepted fails the test. ``schemathesis.toml`` beside this file says
which refusals of schema-valid requests are expected, and why.

The number of examples per operation is bounded so that ``make test`` keeps its budget; the
seed is fixed so that a failure is reproducible (``st replay`` needs the same seed; change
it to explore other inputs)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.stack import LocalStack
from tests.integration.service.conftest import logs

pytestmark = pytest.mark.integration

CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES = 40
SEED = 20261206
POLICY = """\
apiVersion: qcbroker/v1
kind: Policy
metadata: {name: schema-test, revision: "1"}
backends:
  aer: {units: [evaluations, shots]}
  local: {units: [core_hours]}
proposals:
  - id: chem
    pi: carol
    members: [alice, carol]
    budgets:
      - {backend: aer, unit: evaluations, amount: 1000000}
      - {backend: aer, unit: shots, amount: 100000000}
      - {backend: local, unit: core_hours, amount: 100}
"""


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A whole service with one worker, under a policy with one proposal."""
    workdir = tmp_path_factory.mktemp("schema")
    (workdir / "policy.yaml").write_text(POLICY)
    settings = {"policy_file": str(workdir / "policy.yaml")}
    with LocalStack(workdir, workers=1, settings=settings) as stack:
        yield stack


@pytest.mark.parametrize(
    ("user", "role"), [("alice", "researcher"), ("erin", "committee"), ("root", "admin")]
)
def test_schemathesis_finds_nothing(service: LocalStack, user: str, role: str) -> None:
    schemathesis = Path(sys.executable).with_name("schemathesis")
    argv = [
        str(schemathesis),
        "--config-file",
        str(CONFIG),
        "run",
        f"{service.url}/v1/openapi.json",
        "--checks",
        "all",
        "--header",
        f"Authorization: Bearer {service.token(user, role)}",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-database",
        "none",
        "--no-color",
    ]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=500, check=False)
    report = run.stdout + run.stderr
    assert run.returncode == 0, f"{report[-12000:]}\n{logs(service)}"
    assert " passed" in report and "failures" not in report.splitlines()[-1], report[-3000:]

"""``qcb policy validate`` and ``qcb policy diff`` as a committee member runs them: exit codes,
messages with paths, JSON output, no tracebacks. Most run in-process (click's runner); two
run the real ``qcb`` command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from broker.cli.main import cli

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "policies" / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))

BAD = """\
apiVersion: qcbroker/v1
kind: Policy
metadata: {name: bad}
backends:
  ibm: {units: [qpu_seconds]}
proposals:
  - id: p1
    pi: ada
    members: [ada]
    colour: blue
    budgets:
      - {backend: ibm, unit: shots, amount: 10}
"""


def qcb(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    return path


def test_the_group_teaches_its_commands() -> None:
    result = qcb("policy", "--help")
    assert result.exit_code == 0
    assert "validate" in result.stdout and "diff" in result.stdout
    assert "policies/examples/" in result.stdout


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=[p.stem for p in EXAMPLE_FILES])
def test_every_example_policy_validates(example: Path) -> None:
    result = qcb("policy", "validate", str(example))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{example}: valid (revision ")
    assert "proposal" in result.stdout


def test_validate_lists_every_error_with_its_path_and_exits_2(bad: Path) -> None:
    good = EXAMPLES / "qcup.yaml"
    result = qcb("policy", "validate", str(good), str(bad))
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{good}: valid (revision qcup-2026@7+")
    assert lines[0].endswith(", 5 proposals)")
    assert lines[1] == f"{bad}: invalid (2 errors)"
    assert lines[2].startswith("  - proposals[0].colour: unknown field; valid fields: id, title")
    assert lines[2].endswith("(line 10)")
    assert lines[3] == (
        "  - proposals[0].budgets[0].unit: backend 'ibm' is counted in qpu_seconds, "
        "not 'shots' (line 12)"
    )


def test_validate_json_gives_one_object_per_file(bad: Path) -> None:
    result = qcb("policy", "validate", "--json", str(EXAMPLES / "incite.yaml"), str(bad))
    assert result.exit_code == 2
    good, wrong = json.loads(result.stdout)
    assert good["valid"] and good["proposals"] == 7 and good["errors"] == []
    assert good["revision"].startswith("incite-2026@3+") and len(good["sha256"]) == 64
    assert not wrong["valid"] and len(wrong["errors"]) == 2
    assert wrong["errors"][0].startswith("proposals[0].colour:")


def test_unreadable_files_are_reported_like_invalid_ones(tmp_path: Path) -> None:
    binary = tmp_path / "blob.yaml"
    binary.write_bytes(bytes(range(256)))
    missing = tmp_path / "missing.yaml"
    result = qcb("policy", "validate", str(missing), str(binary), str(tmp_path))
    assert result.exit_code == 2
    out = result.stdout
    assert f"{missing}: invalid (1 error)\n  - cannot read the file: No such file" in out
    assert f"{binary}: invalid (1 error)\n  - the file is not UTF-8 text" in out
    assert f"{tmp_path}: invalid (1 error)\n  - it is a folder; a policy is a YAML file" in out


def test_diff_prints_each_change_and_exits_0(tmp_path: Path) -> None:
    old = EXAMPLES / "incite.yaml"
    new = tmp_path / "incite-4.yaml"
    new.write_text(
        old.read_text()
        .replace('revision: "3"', 'revision: "4"')
        .replace("amount: 900000, enforcement: soft", "amount: 950000, enforcement: soft")
    )
    result = qcb("policy", "diff", str(old), str(new))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("incite-2026@3+") and "-> incite-2026@4+" in lines[0]
    assert lines[1:] == [
        "2 changes:",
        "  metadata: revision 3 -> 4",
        "  proposal INC26-FUS: budget on slurm, node_hours per allocation year: "
        "amount 900,000 -> 950,000 (+6%)",
    ]
    as_json = json.loads(qcb("policy", "diff", "--json", str(old), str(new)).stdout)
    assert [c["path"] for c in as_json] == [
        "metadata.revision",
        "proposals[INC26-FUS].budgets[slurm/node_hours/allocation_year].amount",
    ]
    same = qcb("policy", "diff", str(old), str(old))
    assert same.exit_code == 0 and same.stdout.splitlines()[-1] == "no changes"


def test_diff_of_an_invalid_file_is_a_user_error(bad: Path) -> None:
    result = qcb("policy", "diff", str(EXAMPLES / "qcup.yaml"), str(bad))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: policy file {bad} has 2 error(s):")
    assert "proposals[0].colour: unknown field" in result.stderr


def _qcb(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "qcb"), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_real_command_exits_2_without_a_traceback(bad: Path) -> None:
    proc = _qcb("policy", "validate", *map(str, EXAMPLE_FILES), str(bad))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stdout.count(": valid (revision ") == len(EXAMPLE_FILES)
    assert f"{bad}: invalid (2 errors)" in proc.stdout
    assert "proposals[0].budgets[0].unit: backend 'ibm'" in proc.stdout


def test_the_real_diff_command_refuses_a_bad_file_on_stderr(bad: Path) -> None:
    proc = _qcb("policy", "diff", str(bad), str(EXAMPLES / "qcup.yaml"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error:") and "Traceback" not in proc.stderr
    assert "proposals[0].colour" in proc.stderr

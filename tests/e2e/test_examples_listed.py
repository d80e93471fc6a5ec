"""Every example job is listed in the README and run by a test.

"Run by a test" means a test executes the example, not that a test names its file. A test
runs an example job in one of the two ways of tests/examples_run.py:

- a call ``run_example(client, "NAME", ...)`` in a test function, with ``run_example``
  imported from tests.examples_run (it submits the file, waits for the job and fails the
  test unless the job completed), and with the file's name written as a literal. The call
  must run whenever the test does: it may sit inside ``with`` blocks, not under a
  condition, a loop, a ``try`` or in a nested function. This is read from the tests'
  source with :mod:`ast`, so that it holds however few tests a session selects;
- a README command ``qcb run examples/NAME``, which tests/e2e/test_readme.py runs, each
  as a test of its own that fails unless the command exits 0 (``qcb run`` exits 1 unless
  the job completed).

Both record what they ran in ``tests.examples_run.RAN``;
:func:`test_run_example_runs_the_file_to_completion_and_records_it` checks with a stand-in
client that ``run_example`` really submits the file and waits for it.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
import yaml

from broker.core.models import JobStatus
from tests import examples_run
from tests.conftest import EXAMPLES, ROOT
from tests.e2e.test_readme import shell_commands
from tests.examples_run import examples_in_command, run_example

pytestmark = pytest.mark.e2e

THIS = Path(__file__).resolve()
RUNNER = "run_example"
# Where a call may not run although the test does: under a condition, in a loop or a try,
# in a function or class defined in the test, or behind a short-circuit.
_CONDITIONAL = (
    ast.If, ast.For, ast.AsyncFor, ast.While, ast.Try, ast.TryStar, ast.Match, ast.IfExp,
    ast.BoolOp, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
)  # fmt: skip


def job_files() -> list[str]:
    """The example job files (YAML documents of kind Job)."""
    found = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        if isinstance(data, dict) and data.get("kind") == "Job":
            found.append(path.name)
    return found


def _imports_runner(tree: ast.Module) -> bool:
    """Whether the module imports ``run_example`` from tests.examples_run, under its own
    name, and defines nothing else by that name."""
    imported = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "tests.examples_run"
        and any(alias.name == RUNNER and alias.asname is None for alias in node.names)
        for node in tree.body
    )
    redefined = any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.name == RUNNER
        for node in ast.walk(tree)
    )
    return imported and not redefined


def _unconditional_calls(nodes: Iterable[ast.AST]) -> Iterator[ast.Call]:
    """The calls within ``nodes`` that run whenever the nodes run."""
    for node in nodes:
        if isinstance(node, _CONDITIONAL):
            continue
        if isinstance(node, ast.Call):
            yield node
        yield from _unconditional_calls(ast.iter_child_nodes(node))


def _example_of(call: ast.Call) -> str | None:
    """The example ``call`` runs, if it calls the runner with the name as a literal."""
    if not (isinstance(call.func, ast.Name) and call.func.id == RUNNER):
        return None
    names = [*call.args[1:2], *(k.value for k in call.keywords if k.arg == "name")]
    if len(names) == 1 and isinstance(names[0], ast.Constant) and isinstance(names[0].value, str):
        return names[0].value
    return None


def runner_tests() -> dict[str, list[str]]:
    """Each example job -> the tests that run it (see the module's docstring)."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        if path == THIS:  # its stand-in runs are no example's
            continue
        tree = ast.parse(path.read_text(), str(path))
        if not _imports_runner(tree):
            continue
        for function in tree.body:
            if isinstance(function, ast.FunctionDef) and function.name.startswith("test_"):
                for call in _unconditional_calls(function.body):
                    name = _example_of(call)
                    if name is not None:
                        found[name].append(f"{path.relative_to(ROOT)}::{function.name}")
    for command in shell_commands():
        for name in examples_in_command(command):
            found[name].append(f"tests/e2e/test_readme.py::test_readme_shell_command: {command}")
    return found


def test_every_example_job_is_in_the_readme_and_run_by_a_test() -> None:
    names = job_files()
    assert len(names) >= 7
    readme = (ROOT / "README.md").read_text()
    runners = runner_tests()
    for name in names:
        assert f"examples/{name}" in readme or f"`{name}`" in readme, name
        assert runners.get(name), f"examples/{name}: no test runs it"


def test_a_runner_call_counts_only_where_it_always_runs() -> None:
    """The static reading of the tests: the calls it counts, and those it does not."""
    source = """
def test_counted(client):
    with open("x"):
        job_id = run_example(client, "a.yaml", timeout=1)
    run_example(client, name="b.yaml", timeout=1)

def test_not_counted(client, flag):
    if flag:
        run_example(client, "c.yaml", timeout=1)
    flag and run_example(client, "d.yaml", timeout=1)
    run_example(client, "e.yaml" if flag else "f.yaml", timeout=1)
    lambda: run_example(client, "g.yaml", timeout=1)
    print("h.yaml")
"""
    functions = [f for f in ast.parse(source).body if isinstance(f, ast.FunctionDef)]
    counted = [[_example_of(call) for call in _unconditional_calls(f.body)] for f in functions]
    assert [[n for n in names if n] for names in counted] == [["a.yaml", "b.yaml"], []]
    imported = ast.parse("from tests.examples_run import run_example")
    assert _imports_runner(imported)
    assert not _imports_runner(ast.parse("from elsewhere import run_example"))
    shadowed = ast.parse("from tests.examples_run import run_example\ndef run_example(): ...")
    assert not _imports_runner(shadowed)


class _StandIn:
    """A client whose jobs end in ``state`` at once; it records what it was asked."""

    def __init__(self, state: str) -> None:
        self.state = state
        self.calls: list[tuple[str, object]] = []

    def submit(self, job: Path) -> str:
        self.calls.append(("submit", job))
        return "job-1"

    def wait(
        self,
        job_id: str,
        timeout: float | None = None,
        on_progress: Callable[[JobStatus], None] | None = None,
    ) -> JobStatus:
        self.calls.append(("wait", job_id))
        return JobStatus.model_construct(id=job_id, state=self.state, message="why")


def test_run_example_runs_the_file_to_completion_and_records_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran: set[str] = set()
    monkeypatch.setattr(examples_run, "RAN", ran)  # this session's record stays true
    client = _StandIn("COMPLETED")
    assert run_example(client, "stand-in.yaml", timeout=1) == "job-1"
    assert client.calls == [("submit", EXAMPLES / "stand-in.yaml"), ("wait", "job-1")]
    assert ran == {"stand-in.yaml"}
    with pytest.raises(AssertionError, match=r"examples/failing\.yaml: FAILED: why"):
        run_example(_StandIn("FAILED"), "failing.yaml", timeout=1)
    assert ran == {"stand-in.yaml"}

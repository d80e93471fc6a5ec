"""The house rules a newcomer can rely on: modules under 400 lines, functions under 60
(migrations aside), and the test harnesses outside the installed packages."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("broker", "backends", "circuits", "policies")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return [
        path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def test_the_packages_have_modules_to_check() -> None:
    assert len(_modules()) > 100


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in _modules()
        if (lines := path.read_text().count("\n")) > MAX_MODULE_LINES
    }
    assert long == {}


def test_no_function_is_over_60_lines() -> None:
    long = {
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name}": size
        for path in _modules()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (size := (node.end_lineno or node.lineno) - node.lineno + 1) > MAX_FUNCTION_LINES
    }
    assert long == {}


def test_no_test_harness_ships_in_the_packages() -> None:
    shipped = [
        str(path.relative_to(ROOT))
        for path in _modules()
        if path.stem in {"stack", "ionq_sim", "conftest"} or path.stem.startswith("test_")
    ]
    assert shipped == []
    assert (ROOT / "tests" / "harness" / "stack.py").is_file()


def _module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name.removesuffix(".__init__")


def _imports(path: Path, known: set[str]) -> set[str]:
    """The package modules ``path`` imports, deferred imports included (those under
    ``if TYPE_CHECKING:`` left out: they never run)."""
    tree = ast.parse(path.read_text())
    typing_only = {
        id(sub)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for sub in ast.walk(node)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in known else node.module)
    return {name for name in found if name in known}


def test_no_two_modules_import_each_other_but_the_client_and_its_remote_form() -> None:
    paths = {_module_name(path): path for path in _modules()}
    known = set(paths)
    graph = {name: _imports(path, known) - {name} for name, path in paths.items()}

    def reaches(start: str, goal: str) -> bool:
        seen, todo = {start}, [start]
        while todo:
            for nxt in graph[todo.pop()]:
                if nxt == goal:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    in_cycles = {name for name in graph if reaches(name, name)}
    # Client(url=...) returns a RemoteClient, a subclass: the one cycle, by design.
    assert in_cycles == {"broker.client", "broker.service.remote"}

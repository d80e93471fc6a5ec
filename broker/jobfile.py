"""Reading job files (YAML): every mistake reported with its line and field path.

Files that a job file names are read here, relative to the job file's folder, and their
content put in the job, so that the job sent to a broker (maybe remote) is self-contained:
``algorithm.inputs.graph_file: PATH`` becomes ``algorithm.inputs.graph`` (see
:mod:`broker.algorithms.qaoa.graphs` for the formats), and a task graph's ``python_path``
folders become absolute.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from broker.algorithms.qaoa.graphs import GraphFileError, load_graph_file
from broker.core.models import JobSpec
from broker.errors import InvalidJob
from broker.limits import document_problems
from policies.loader import format_loc


def _line_of(node: yaml.Node | None, loc: tuple[str | int, ...]) -> int | None:
    """1-based line of the YAML node at ``loc`` (or of its nearest existing parent)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            match = node.value[part] if part < len(node.value) else None
        else:
            match = None
        if match is None:
            break
        node = match
        line = node.start_mark.line + 1
    return line


def _inline_files(data: dict[str, Any], node: yaml.Node | None, source: str, base: Path) -> None:
    """Replace ``algorithm.inputs.graph_file`` by the graph it names (``base``-relative)."""
    algorithm = data.get("algorithm")
    inputs = algorithm.get("inputs") if isinstance(algorithm, dict) else None
    if not isinstance(inputs, dict) or "graph_file" not in inputs:
        return
    line = _line_of(node, ("algorithm", "inputs", "graph_file"))
    where = f"{source}: {f'line {line}, ' if line else ''}algorithm.inputs.graph_file"
    if "graph" in inputs:
        raise InvalidJob(f"{where}: give either graph (inline) or graph_file, not both")
    name = inputs.pop("graph_file")
    if not isinstance(name, str) or not name.strip():
        raise InvalidJob(f"{where}: the path of a graph file, not {name!r}")
    path = Path(name).expanduser()
    try:
        inputs["graph"] = load_graph_file(path if path.is_absolute() else base / path, name)
    except GraphFileError as exc:
        raise InvalidJob(f"{where}: {exc}") from None


def _absolute_paths(data: dict[str, Any], base: Path) -> None:
    """Make a task graph's ``python_path`` folders absolute (``base``-relative), so that its
    programs are found wherever its steps run (the folder must be reachable there)."""
    algorithm = data.get("algorithm")
    inputs = algorithm.get("inputs") if isinstance(algorithm, dict) else None
    steps = inputs.get("steps") if isinstance(inputs, dict) else None
    for step in steps if isinstance(steps, list) else []:
        folders = step.get("python_path") if isinstance(step, dict) else None
        if isinstance(folders, list):
            step["python_path"] = [
                str((base / f).resolve()) if isinstance(f, str) and not Path(f).is_absolute() else f
                for f in folders
            ]


def _check_limits(data: Any, node: yaml.Node | None, source: str) -> None:
    """Refuse what no job may hold (non-finite numbers, control characters, huge integers,
    deep nesting, too many values), each with its line and field path."""
    found = document_problems(data)
    if found:
        lines = []
        for problem in found:
            line = _line_of(node, problem.path) if node is not None else None
            lines.append(f"  {f'line {line}, ' if line else ''}{problem}")
        raise InvalidJob(
            f"{source} is not a valid job ({len(lines)} problem(s)):\n" + "\n".join(lines)
        )


def parse_job(
    text: str,
    source: str = "<job>",
    overrides: dict[str, Any] | None = None,
    base_dir: Path | None = None,
) -> JobSpec:
    """Validate job text; raise :class:`InvalidJob` naming each bad field and its line.

    Files the job names (``graph_file``) are read relative to ``base_dir`` (default: the
    current directory) and inlined.
    """
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidJob(f"{source} is not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise InvalidJob(
            f"{source}: a job file is a mapping with at least proposal, algorithm and backend",
            hint="see examples/vqe_h2.yaml",
        )
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    _check_limits(data, node, source)
    base = base_dir if base_dir is not None else Path.cwd()
    _inline_files(data, node, source, base)
    _absolute_paths(data, base)
    try:
        return JobSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            line = _line_of(node, err["loc"])
            where = f"line {line}, " if line else ""
            problems.append(f"  {where}{format_loc(err['loc'])}: {err['msg']}")
        raise InvalidJob(
            f"{source} is not a valid job ({len(problems)} problem(s)):\n" + "\n".join(problems)
        ) from None


def validate_job(data: dict[str, Any]) -> JobSpec:
    """Validate a job given as data (SDK dict, API body); ``InvalidJob`` names each field."""
    _check_limits(data, None, "the request")
    try:
        return JobSpec.model_validate(data)
    except ValidationError as exc:
        lines = [f"  {format_loc(e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise InvalidJob("the job is not valid:\n" + "\n".join(lines)) from None


def load_job(path: Path, overrides: dict[str, Any] | None = None) -> JobSpec:
    """Read and validate a job file; ``overrides`` replace top-level fields (e.g. backend).
    Files it names are read relative to its folder."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise InvalidJob(f"cannot read job file {path}: {exc.strerror}") from None
    return parse_job(text, str(path), overrides, base_dir=path.parent)

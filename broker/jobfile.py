"""Reading job files (YAML): every mistake reported with its line and field path.

Files that a job file names are read here, relative to the job file's folder, and their
content put in the job, so that the job sent to a broker (maybe remote) is self-contained:
``algorithm.inputs.graph_file: PATH`` becomes ``algorithm.inputs.graph`` (see
:mod:`broker.algorithms.qaoa.graphs` for the formats), and a task graph's ``python_path``
folders become absolute.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from broker import algorithms
from broker.algorithms.qaoa.graphs import GraphFileError, load_graph_file
from broker.core.models import JobSpec
from broker.errors import InvalidJob, Problem
from broker.joberrors import Loc, problems
from broker.limits import document_problems
from broker.textfile import read_text
from policies.errors import format_loc

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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


def _no_files(data: dict[str, Any], node: yaml.Node | None, source: str) -> None:
    """Refuse ``algorithm.inputs.graph_file`` in a job sent from afar."""
    algorithm = data.get("algorithm")
    inputs = algorithm.get("inputs") if isinstance(algorithm, dict) else None
    if isinstance(inputs, dict) and "graph_file" in inputs:
        loc = ("algorithm", "inputs", "graph_file")
        message = (
            "a job sent to the service cannot name a file on it; give the graph inline as "
            "algorithm.inputs.graph (an edge list), or submit the file with qcb submit"
        )
        raise _invalid(source, [Problem(format_loc(loc), message, _line_of(node, loc))])


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
        listed = [
            Problem(format_loc(p.path), p.message, _line_of(node, p.path) if node else None)
            for p in found
        ]
        raise _invalid(source, listed)


def _invalid(source: str, found: list[Problem]) -> InvalidJob:
    """The error listing every problem of a job, one per line."""
    lines = "\n".join(f"  {p}" for p in found)
    head = "the job is not valid" if source == "the job" else f"{source} is not a valid job"
    return InvalidJob(
        f"{head} ({len(found)} problem{'s' * (len(found) != 1)}):\n{lines}",
        problems=found,
        source=source,
    )


def _duplicate_keys(node: yaml.Node | None, loc: Loc = ()) -> list[Problem]:
    """Keys written twice in one mapping (YAML would keep the last silently)."""
    found: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        first: dict[object, int] = {}
        for key, value in node.value:
            name = getattr(key, "value", None)
            line = key.start_mark.line + 1
            if isinstance(name, str) and name in first and name != "<<":
                found.append(
                    Problem(
                        format_loc((*loc, name)),
                        f"written twice (lines {first[name]} and {line}); keep one",
                        line,
                    )
                )
            elif isinstance(name, str):
                first[name] = line
            found.extend(_duplicate_keys(value, (*loc, name if isinstance(name, str) else "?")))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found.extend(_duplicate_keys(item, (*loc, i)))
    return found


def _load_yaml(text: str, source: str) -> tuple[yaml.Node | None, Any]:
    """The document's node tree (for lines) and its data, parsed once."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InvalidJob(f"{source} is not valid YAML{where}: {problem}", source=source) from None
    finally:
        loader.dispose()
    return node, data


def spec_problems(
    data: dict[str, Any], line_of: Callable[[Loc], int | None] | None = None
) -> tuple[JobSpec | None, list[Problem]]:
    """The job as a :class:`JobSpec` (``None`` when invalid) and every problem of it and of
    its algorithm's inputs (their schema; the algorithm's own checks run at submission)."""
    found: list[Problem] = []
    spec: JobSpec | None = None
    try:
        spec = JobSpec.model_validate(data)
    except ValidationError as exc:
        found.extend(problems(JobSpec, exc.errors(), (), line_of))
    algorithm = data.get("algorithm")
    name = algorithm.get("name") if isinstance(algorithm, dict) else None
    inputs = algorithm.get("inputs", {}) if isinstance(algorithm, dict) else None
    if isinstance(name, str) and name in algorithms.KNOWN:
        try:
            model = algorithms.get(name).inputs_model
            model.model_validate(inputs)
        except InvalidJob as exc:  # its package is not installed: said at submission
            found.append(Problem("algorithm.name", exc.message.removeprefix("algorithm.name: ")))
        except ValidationError as exc:
            found.extend(problems(model, exc.errors(), ("algorithm", "inputs"), line_of))
    elif isinstance(name, str):
        close = difflib.get_close_matches(name, list(algorithms.KNOWN), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        line = line_of(("algorithm", "name")) if line_of else None
        known = ", ".join(sorted(algorithms.KNOWN))
        message = f"unknown algorithm {name!r}{hint}; built-in: {known}"
        found.append(Problem("algorithm.name", message, line, close[0] if close else None))
    return (spec if not found else None), sorted(found, key=lambda p: (p.line or 0, p.path))


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
    return _parse(text, source, overrides, base_dir)


def parse_job_text(text: str, source: str = "the job file") -> JobSpec:
    """Validate job text that a remote user sent (the web console): as :func:`parse_job`,
    but a file the job names is refused at its line, since the service's own files are not
    the user's to read; ``python_path`` folders are taken as written, as the API takes
    them."""
    return _parse(text, source, None, None, remote=True)


def _parse(
    text: str,
    source: str,
    overrides: dict[str, Any] | None,
    base_dir: Path | None,
    remote: bool = False,
) -> JobSpec:
    node, data = _load_yaml(text, source)
    if not isinstance(data, dict):
        holds = "the file is empty" if data is None else f"it holds {type(data).__name__}"
        raise InvalidJob(
            f"{source}: a job file is a mapping with at least proposal and algorithm; {holds}",
            hint="see examples/vqe_h2.yaml and docs/jobs.md",
            source=source,
        )
    twice = _duplicate_keys(node)
    if twice:
        raise _invalid(source, twice)
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    _check_limits(data, node, source)
    if remote:
        _no_files(data, node, source)
    else:
        base = base_dir if base_dir is not None else Path.cwd()
        _inline_files(data, node, source, base)
        _absolute_paths(data, base)
    spec, found = spec_problems(data, lambda loc: _line_of(node, loc))
    if spec is None:
        raise _invalid(source, found)
    return spec


def validate_job(data: dict[str, Any]) -> JobSpec:
    """Validate a job given as data (SDK dict, API body); ``InvalidJob`` names each field."""
    _check_limits(data, None, "the request")
    spec, found = spec_problems(data)
    if spec is None:
        raise _invalid("the job", found)
    return spec


def load_job(path: Path, overrides: dict[str, Any] | None = None) -> JobSpec:
    """Read and validate a job file; ``overrides`` replace top-level fields (e.g. backend).
    Files it names are read relative to its folder. The file is refused unread beyond
    :data:`~broker.textfile.MAX_TEXT_FILE_BYTES`, and with its line when it is not UTF-8."""
    text = read_text(path, "job file", hint=None)
    return parse_job(text, str(path), overrides, base_dir=path.parent)

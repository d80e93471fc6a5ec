"""Reading job files (YAML): every mistake reported with its line and field path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from broker.errors import InvalidJob
from broker.models import JobSpec
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


def parse_job(text: str, source: str = "<job>", overrides: dict[str, Any] | None = None) -> JobSpec:
    """Validate job text; raise :class:`InvalidJob` naming each bad field and its line."""
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
    try:
        return JobSpec.model_validate(data)
    except ValidationError as exc:
        lines = [f"  {format_loc(e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise InvalidJob("the job is not valid:\n" + "\n".join(lines)) from None


def load_job(path: Path, overrides: dict[str, Any] | None = None) -> JobSpec:
    """Read and validate a job file; ``overrides`` replace top-level fields (e.g. backend)."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise InvalidJob(f"cannot read job file {path}: {exc.strerror}") from None
    return parse_job(text, str(path), overrides)

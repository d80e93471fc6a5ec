"""Reading a policy file: every error at once, each with its path."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import ValidationError

from policies.errors import PolicyError
from policies.schema import Policy

MAX_POLICY_BYTES = 1 << 20


@dataclass(frozen=True)
class LoadedPolicy:
    """A validated policy and the revision id that every decision under it records."""

    policy: Policy
    revision: str
    sha256: str
    source: str


def format_loc(loc: tuple[str | int, ...]) -> str:
    """``('proposals', 3, 'budgets', 1, 'unit')`` -> ``proposals[3].budgets[1].unit``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_policy(text: str, source: str = "<text>") -> LoadedPolicy:
    """Validate policy text; raise :class:`PolicyError` listing every problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", exc)
        raise PolicyError(source, [f"{where}not valid YAML ({problem})"]) from None
    if not isinstance(data, dict):
        raise PolicyError(source, ["the file must be a mapping with apiVersion, kind, ..."])
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(
            source, [f"{format_loc(e['loc'])}: {e['msg']}" for e in exc.errors()]
        ) from None
    problems = policy.cross_check()
    if problems:
        raise PolicyError(source, problems)
    digest = hashlib.sha256(text.encode()).hexdigest()
    revision = f"{policy.metadata.name}@{policy.metadata.revision}+{digest[:12]}"
    return LoadedPolicy(policy=policy, revision=revision, sha256=digest, source=source)


def load_policy(path: Path) -> LoadedPolicy:
    """Read and validate a policy file."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise PolicyError(str(path), [f"cannot read the file: {exc.strerror}"]) from None
    return parse_policy(text, str(path))

"""Reading a policy file: every error at once, each as ``path: message (line N)``.

Whole-file problems are refused before any validation, each with one clear message: a file
over :data:`MAX_POLICY_BYTES`, text that is not UTF-8, an empty file, text that is not
YAML, YAML that is not a mapping, and YAML built to exhaust memory (aliases that expand to
more than :data:`MAX_VALUES` values, alias cycles, nesting deeper than :data:`MAX_DEPTH`;
:mod:`policies.policy_yaml` reads the YAML). A key given twice in one mapping is an error
(plain YAML silently keeps the last).

Schema errors and the checks between sections are then reported together: an entry with
a schema error is left out (its list items renumbered back to the file's), the rest of the
policy is validated again, and the cross-checks run on what validates.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from policies.errors import Loc, PolicyError, Repairs, describe, format_loc
from policies.policy_yaml import MAX_ALIASES, MAX_DEPTH, MAX_VALUES, Document, read_yaml
from policies.schema import Policy

__all__ = [
    "MAX_ALIASES",
    "MAX_DEPTH",
    "MAX_POLICY_BYTES",
    "MAX_VALUES",
    "LoadedPolicy",
    "PolicyError",
    "format_loc",
    "load_policy",
    "parse_policy",
]

MAX_POLICY_BYTES = 1 << 20
"""The largest policy file read (1 MiB); a real policy is a few kilobytes."""
# Stand-ins for required top-level fields in error, so that the cross-checks still run.
_PLACEHOLDERS = {
    "apiVersion": "qcbroker/v1",
    "kind": "Policy",
    "metadata": {"name": "-"},
    "proposals": [],
}


@dataclass(frozen=True)
class LoadedPolicy:
    """A validated policy, its exact text, and the revision id every decision records."""

    policy: Policy
    revision: str
    sha256: str
    source: str
    text: str


def too_large(size: int) -> str:
    """The message for a file of ``size`` bytes over :data:`MAX_POLICY_BYTES`."""
    return (
        f"the file is {size / 1e6:.1f} MB; a policy file may be at most "
        f"{MAX_POLICY_BYTES // 2**20} MiB"
    )


def _line_of(loc: Loc | None, lines: dict[str, int]) -> int | None:
    """The line of ``loc`` or, for a missing field, of the nearest enclosing entry."""
    if loc is None:
        return None
    for n in range(len(loc), 0, -1):
        line = lines.get(format_loc(loc[:n]))
        if line is not None:
            return line
    return None


def _check(data: dict[str, Any], doc: Document) -> tuple[Policy | None, list[tuple[int, str]]]:
    """The policy (``None`` if it cannot be built) and every schema and cross-section error
    of ``data``, each with its line (0: none)."""
    found: list[tuple[Loc | None, str]] = []
    repairs = Repairs(Policy, _PLACEHOLDERS)
    policy = None
    for _ in range(repairs.MAX_ROUNDS):
        try:
            policy = Policy.model_validate(repairs.apply(data))
            break
        except ValidationError as exc:
            errors = exc.errors()
        locs = [repairs.original(tuple(e["loc"])) for e in errors]
        for error, at in zip(errors, locs, strict=True):
            if not repairs.is_artifact(error["type"], at):
                found.append((at, describe(Policy, error, at)))
        if not repairs.repair(locs):
            break
    if policy is not None:
        found += repairs.translate(policy.cross_check())
    out: list[tuple[int, str]] = []
    said: set[str] = set()
    for where, message in found:
        if message in said:
            continue
        said.add(message)
        line = _line_of(where, doc.lines)
        out.append((line or 0, f"{message} (line {line})" if line else message))
    return policy, out


def _sorted(problems: Iterable[tuple[int, str]]) -> list[str]:
    return [message for _, message in sorted(problems, key=lambda p: p[0])]


def parse_policy(text: str, source: str = "<text>") -> LoadedPolicy:
    """Validate policy text; raise :class:`PolicyError` listing every problem."""
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PolicyError(
            source, [f"the text is not valid Unicode (character {exc.start} is a lone surrogate)"]
        ) from None
    if len(raw) > MAX_POLICY_BYTES:
        raise PolicyError(source, [too_large(len(raw))])
    doc = read_yaml(text, source)
    policy, problems = _check(doc.data, doc)
    problems += doc.duplicates
    if problems or policy is None:  # without problems, nothing was set aside
        raise PolicyError(source, _sorted(problems))
    digest = hashlib.sha256(raw).hexdigest()
    revision = f"{policy.metadata.name}@{policy.metadata.revision}+{digest[:12]}"
    return LoadedPolicy(policy=policy, revision=revision, sha256=digest, source=source, text=text)


_LOOKS_BINARY = re.compile(rb"[\x00-\x08\x0e-\x1f]")


def load_policy(path: Path) -> LoadedPolicy:
    """Read and validate a policy file (its size is checked before it is read)."""
    source = str(path)
    try:
        if path.exists() and not path.is_file():  # a folder, a pipe, a device: never read
            kind = "a folder" if path.is_dir() else "not a regular file"
            raise PolicyError(source, [f"it is {kind}; a policy is a YAML file"])
        size = path.stat().st_size
        if size > MAX_POLICY_BYTES:
            raise PolicyError(source, [too_large(size)])
        with path.open("rb") as f:
            raw = f.read(MAX_POLICY_BYTES + 1)
    except OSError as exc:
        raise PolicyError(source, [f"cannot read the file: {exc.strerror}"]) from None
    if len(raw) > MAX_POLICY_BYTES:  # it grew since stat
        raise PolicyError(source, [too_large(len(raw))])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        binary = " (it looks binary)" if _LOOKS_BINARY.search(raw[:4096]) else ""
        raise PolicyError(
            source,
            [
                f"the file is not UTF-8 text{binary}: byte 0x{raw[exc.start]:02x} at offset "
                f"{exc.start} cannot be decoded; a policy is YAML text saved as UTF-8"
            ],
        ) from None
    return parse_policy(text, source)

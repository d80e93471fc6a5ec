"""A policy file's YAML, read with limits: whole-file problems each get one clear message.

Text that is empty or not YAML, YAML that is not a mapping, and YAML built to exhaust
memory (aliases that expand to more than :data:`MAX_VALUES` values, alias cycles, nesting
deeper than :data:`MAX_DEPTH`) are refused as a :class:`~policies.errors.PolicyError`. The
line of every key and list item is recorded, and so is every key given twice in one
mapping (plain YAML silently keeps the last).
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from policies.errors import Loc, PolicyError, format_loc

MAX_ALIASES = 1000
"""The most YAML aliases (``*name``) a policy may use."""
MAX_VALUES = 250_000
"""The most values (after expanding aliases) a policy may hold: stops alias bombs."""
MAX_DEPTH = 32
"""The deepest nesting of mappings and lists (a policy needs about six levels)."""

EMPTY = "the file is empty; a policy starts with apiVersion: qcbroker/v1 and kind: Policy"
NOT_A_MAPPING = (
    "the file holds {found}, not a mapping; a policy is a mapping that starts with "
    "apiVersion: qcbroker/v1 and kind: Policy"
)
_MERGE = "tag:yaml.org,2002:merge"


class _Refused(yaml.MarkedYAMLError):
    """A YAML document this reader will not build (too many aliases, too deep, a cycle)."""


class _Checks(Composer, SafeConstructor, Resolver):
    """YAML 1.1 safe loading with limits; mapping keys are kept as the text written.

    The parser underneath is libyaml's when PyYAML has it (five times faster), else
    PyYAML's own; composing nodes stays in Python, to count aliases and depth.
    """

    if typing.TYPE_CHECKING:  # provided by the parser class mixed in below

        def peek_event(self) -> yaml.Event: ...

        def dispose(self) -> None: ...

    def _start(self) -> None:
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.aliases = 0
        self.depth = 0
        self.open_anchors: set[str] = set()

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        mark = typing.cast(yaml.Mark, event.start_mark)
        if isinstance(event, yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise _Refused(None, None, f"more than {MAX_ALIASES} aliases (*name)", mark)
            if event.anchor in self.open_anchors:
                raise _Refused(
                    None, None, f"the alias *{event.anchor} is inside its own anchor (a cycle)",
                    mark,
                )  # fmt: skip
            return super().compose_node(parent, index)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Refused(None, None, f"nested deeper than {MAX_DEPTH} levels", mark)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self.open_anchors.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1
            self.open_anchors.discard(anchor or "")

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as e:
            # e.g. 2026-13-45 looks like a date to YAML, or !!int "x"
            raise ConstructorError(
                None, None, f"cannot read the value {node.value!r} ({e})", node.start_mark
            ) from None

    def construct_yaml_timestamp(self, node: ScalarNode) -> Any:
        """A date; text that only looks like one (``2026-13-45``) stays text for the schema
        to refuse with its path."""
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError:
            return node.value

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if not isinstance(node, MappingNode):  # e.g. !!set 0
            raise ConstructorError(None, None, "expected a mapping", node.start_mark)
        self.flatten_mapping(node)
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise ConstructorError(
                    None, None, "a key must be a name, not a list or mapping", key_node.start_mark
                )
            mapping[key_node.value] = self.construct_object(value_node, deep=deep)
        return mapping


_Checks.add_constructor(  # type: ignore[type-var]
    "tag:yaml.org,2002:timestamp", _Checks.construct_yaml_timestamp
)


class _PureReader(Reader, Scanner, Parser, _Checks):
    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        self._start()


_READER: Callable[[str], _Checks] = _PureReader
if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _FastReader(_Checks, CParser):
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            self._start()

    _READER = _FastReader


@dataclass
class Document:
    """A policy file's YAML as plain data, the line of each path, and the keys written
    twice (each with its line and message)."""

    data: Any
    lines: dict[str, int]  # path -> 1-based line of its key or list item
    duplicates: list[tuple[int, str]]


def _expanded_size(node: Node, memo: dict[int, int]) -> int:
    if id(node) not in memo:
        size = 1
        if isinstance(node, SequenceNode):
            size += sum(_expanded_size(child, memo) for child in node.value)
        elif isinstance(node, MappingNode):
            size += sum(_expanded_size(v, memo) + 1 for _, v in node.value)
        memo[id(node)] = size
    return memo[id(node)]


def _walk(reader: _Checks, node: Node, path: Loc, doc: Document, seen: set[int]) -> None:
    """Record each path's line, and every key written twice in one mapping."""
    if isinstance(node, SequenceNode):
        for i, child in enumerate(node.value):
            doc.lines.setdefault(format_loc((*path, i)), child.start_mark.line + 1)
            _walk(reader, child, (*path, i), doc, seen)
    elif isinstance(node, MappingNode):
        if id(node) not in seen:
            seen.add(id(node))
            first: dict[str, int] = {}
            for key, _ in node.value:
                if key.tag == _MERGE or not isinstance(key, ScalarNode):
                    continue
                line = key.start_mark.line + 1
                if key.value in first:
                    doc.duplicates.append(
                        (
                            line,
                            f"{format_loc((*path, key.value))}: the key {key.value!r} is "
                            f"written twice in one mapping (lines {first[key.value]} and "
                            f"{line}); YAML would silently keep only the last, so merge them",
                        )
                    )
                first.setdefault(key.value, line)
        reader.flatten_mapping(node)
        for key, child in node.value:
            if isinstance(key, ScalarNode):
                doc.lines.setdefault(format_loc((*path, key.value)), key.start_mark.line + 1)
                _walk(reader, child, (*path, key.value), doc, seen)


def _yaml_problem(exc: yaml.YAMLError, text: str) -> str:
    if isinstance(exc, yaml.reader.ReaderError):
        # PyYAML counts characters; libyaml counts bytes of the UTF-8 text
        if exc.encoding == "unicode":
            line = text.count("\n", 0, exc.position) + 1
        else:
            line = text.encode().count(b"\n", 0, exc.position) + 1
        return (
            f"the file is not text: it holds the control character U+{exc.character:04X} "
            f"at line {line}; is it a binary file? A policy is YAML text"
        )
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = "; ".join(str(p) for p in (exc.context, exc.problem) if p)
        if "maximum nesting depth" in what:  # PyYAML >= 6.0.3 stops at its own depth limit
            return f"{where}refused: nested deeper than {MAX_DEPTH} levels"
        verb = "refused" if isinstance(exc, _Refused) else "not valid YAML"
        return f"{where}{verb}: {what}"
    return f"not valid YAML: {exc}"


def _is_blank(text: str) -> bool:
    return all(
        not line.strip() or line.lstrip().startswith("#") or line.strip() in ("---", "...")
        for line in text.splitlines()
    )


def read_yaml(text: str, source: str) -> Document:
    """Parse YAML text into plain data, or raise :class:`PolicyError` for the whole file."""
    if _is_blank(text):
        raise PolicyError(source, [EMPTY])
    doc = Document(None, {}, [])
    try:
        reader = _READER(text)
        try:
            root = reader.get_single_node()
            if root is not None:
                if _expanded_size(root, {}) > MAX_VALUES:
                    raise PolicyError(
                        source,
                        [
                            f"the file expands to more than {MAX_VALUES} values (with its "
                            "aliases); a policy needs far fewer; is it a 'billion laughs' file?"
                        ],
                    )
                _walk(reader, root, (), doc, set())
                try:
                    doc.data = reader.construct_document(root)
                except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
                    # a safety net: the constructors above already name most such values
                    problem = f"cannot read a value ({exc})"
                    raise ConstructorError(None, None, problem, root.start_mark) from None
        finally:
            reader.dispose()
    except yaml.YAMLError as exc:
        raise PolicyError(source, [_yaml_problem(exc, text)]) from None
    except RecursionError:
        deep = f"the file nests too deeply (over {MAX_DEPTH} levels)"
        raise PolicyError(source, [deep]) from None
    if not isinstance(doc.data, dict):
        found = {type(None): "nothing (null)", list: "a list"}.get(type(doc.data), "one value")
        raise PolicyError(source, [NOT_A_MAPPING.format(found=found)])
    return doc

"""A strict YAML reader for definition files (flows, segments): every value keeps its line,
duplicate keys are caught, anchors and aliases are refused (no alias bombs), only plain
scalars, lists and mappings are allowed, and a file reports all of its problems at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from connector.engine.common import (
    EXAMPLES,
    DurationError,
    did_you_mean,
    duration_from_parts,
    parse_duration,
)

T = TypeVar("T")

MAX_FILE_BYTES = 256 * 1024
MAX_DEPTH = 32


class DefinitionError(ValueError):
    """One problem in one definition file; str() is "path:line: message"."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        super().__init__(path, line, message)
        self.path = path
        self.line = line
        self.message = message

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


class DefinitionErrors(ValueError):
    """Every problem found in a file or a directory, by file and then by line."""

    def __init__(self, errors: list[DefinitionError]) -> None:
        super().__init__(errors)
        self.errors = errors

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self.errors)


CORE = "tag:yaml.org,2002:"
ALLOWED_TAGS = {
    CORE + t for t in ("str", "int", "float", "bool", "null", "timestamp", "map", "seq")
}
TYPE_NAMES = {"str": "a string", "int": "an integer", "float": "a number", "bool": "a boolean"}


class Refused(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors, aliases and deep nesting, and reads only true/false
    as booleans."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line + 1
        anchor = getattr(event, "anchor", None)
        if anchor is not None:  # AliasEvent carries the name it refers to as `anchor` too
            raise Refused(line, f"YAML anchors and aliases are not allowed ('{anchor}')")
        if self.depth >= MAX_DEPTH:  # the composer recurses; a flow needs a handful of levels
            raise Refused(line, f"YAML nesting is deeper than {MAX_DEPTH} levels")
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


# YAML 1.1 reads yes/no/on/off as booleans (`country: NO` would be False); keep 1.2's rule.
StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != CORE + "bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
StrictLoader.add_implicit_resolver(
    CORE + "bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


@dataclass
class YamlMap:
    """A YAML mapping with plain-string keys: key nodes (for lines) and value nodes."""

    node: MappingNode
    keys: dict[str, Node] = field(default_factory=dict)
    values: dict[str, Node] = field(default_factory=dict)


class Context:
    """Errors found so far in one source, and the YAML machinery to read it."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: list[DefinitionError] = []
        self._constructor = StrictLoader("")

    def error(self, where: Node | int | None, message: str) -> None:
        line = line_of(where) if isinstance(where, Node) else where
        self.errors.append(DefinitionError(self.source, line, message))

    def sorted_errors(self) -> list[DefinitionError]:
        return sorted(self.errors, key=lambda error: error.line or 0)

    def scalar(self, node: ScalarNode) -> Any:
        if node.tag == CORE + "timestamp":
            return node.value  # a date in a flow is text to compare, not a datetime
        return self._constructor.construct_object(node)

    def compose(self, text: str) -> Node | None:
        try:
            root = compose(text)
        except Refused as exc:
            self.error(exc.line, exc.message)
            return None
        except yaml.reader.ReaderError as exc:
            line = text.count("\n", 0, exc.position) + 1
            self.error(line, f"YAML syntax error: unacceptable character #x{exc.character:04x}")
            return None
        except yaml.MarkedYAMLError as exc:
            self.error(syntax_line(exc), f"YAML syntax error: {syntax_problem(exc)}")
            return None
        if root is None:
            self.error(None, "the file is empty; expected a mapping with name, trigger and steps")
            return None
        unsupported = [node for node in walk(root) if node.tag not in ALLOWED_TAGS]
        for node in unsupported:
            self.error(node, f"unsupported YAML tag '{node.tag.replace(CORE, '!!')}'")
        return None if unsupported else root


def compose(text: str) -> Node | None:
    loader = StrictLoader(text)  # checks for unprintable characters right away
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def syntax_line(exc: yaml.MarkedYAMLError) -> int | None:
    mark = exc.problem_mark or exc.context_mark
    return None if mark is None else int(mark.line) + 1


def syntax_problem(exc: yaml.MarkedYAMLError) -> str:
    context = exc.context or ""
    start, end = exc.context_mark, exc.problem_mark
    # "while scanning a quoted scalar": say where that scalar began, if not on this line.
    if context.startswith("while ") and start and end and start.line != end.line:
        context += f" started on line {start.line + 1}"
    return ", ".join(part for part in (context, exc.problem) if part)


def walk(root: Node) -> list[Node]:
    nodes, stack = [], [root]
    while stack:  # iterative: the tree may be deep
        node = stack.pop()
        nodes.append(node)
        if isinstance(node, SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, MappingNode):
            stack.extend(child for pair in node.value for child in pair)
    return nodes


def mapping(ctx: Context, node: Node, prefix: str, expected: str = "a mapping") -> YamlMap | None:
    if not isinstance(node, MappingNode):
        ctx.error(node, f"{prefix}expected {expected}, got {describe(node)}")
        return None
    result = YamlMap(node)
    for key_node, value_node in node.value:
        # Keys are read as written: `on:` or `1:` is the word, not a boolean or a number.
        if not isinstance(key_node, ScalarNode) or not key_node.value:
            ctx.error(key_node, f"{prefix}keys must be plain words, got {describe(key_node)}")
        elif key_node.value in result.keys:
            first = line_of(result.keys[key_node.value])
            ctx.error(key_node, f"{prefix}duplicate key '{key_node.value}' (first on line {first})")
        else:
            result.keys[key_node.value] = key_node
            result.values[key_node.value] = value_node
    return result


def unknown_keys(
    ctx: Context, mapping: YamlMap, allowed: tuple[str, ...], prefix: str, what: str = ""
) -> None:
    for key, key_node in mapping.keys.items():
        if key not in allowed:
            ctx.error(key_node, f"{prefix}unknown key '{key}'{what}{did_you_mean(key, allowed)}")


def required(ctx: Context, mapping: YamlMap, key: str, prefix: str) -> Node | None:
    node = mapping.values.get(key)
    if node is None:
        ctx.error(mapping.node, f"{prefix}missing required key '{key}'")
    return node


def string(ctx: Context, node: Node | None, label: str, expected: str) -> str | None:
    if node is None:
        return None
    value = ctx.scalar(node) if isinstance(node, ScalarNode) else None
    if not isinstance(value, str) or not value.strip():
        ctx.error(node, f"{label}: expected {expected}, got {describe(node)}")
        return None
    return value


def flag(ctx: Context, node: Node, label: str) -> bool | None:
    value = ctx.scalar(node) if isinstance(node, ScalarNode) else None
    if not isinstance(value, bool):
        ctx.error(node, f"{label}: expected true or false, got {describe(node)}")
        return None
    return value


def is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == CORE + "null"


def describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if is_null(node):
        return "nothing"
    kind = node.tag.removeprefix(CORE)
    shown = node.value if len(node.value) <= 40 else node.value[:37] + "..."
    if kind in ("str", "timestamp"):
        return f"a string '{shown}'" if shown.strip() else "an empty string"
    return f"{TYPE_NAMES.get(kind, 'a value')} {shown}"


def line_of(node: Node) -> int:
    return int(node.start_mark.line) + 1


def too_large(size: int, limit: int = MAX_FILE_BYTES) -> str:
    return f"the file is too large ({size} bytes; the limit is {limit // 1024} KiB)"


def read_duration(ctx: Context, node: Node, label: str) -> timedelta | None:
    """A positive duration: "1d12h" or {days: 1, hours: 12}."""
    parts = mapping(ctx, node, f"{label}: ") if isinstance(node, MappingNode) else None
    try:
        if parts is not None:
            amounts: dict[str, object] = {}
            for unit, part in parts.values.items():
                amount = ctx.scalar(part) if isinstance(part, ScalarNode) else None
                if isinstance(amount, bool) or not isinstance(amount, int):
                    message = f"'{unit}' must be a whole number, got {describe(part)}"
                    raise DurationError(message, key=unit)
                amounts[unit] = amount
            return duration_from_parts(amounts)
        text = ctx.scalar(node) if isinstance(node, ScalarNode) else None
        if isinstance(text, int | float) and not isinstance(text, bool):
            raise DurationError(f"{node.value} needs a unit ({EXAMPLES})")
        if not isinstance(text, str):
            raise DurationError(f"expected a duration ({EXAMPLES}), got {describe(node)}")
        return parse_duration(text)
    except DurationError as exc:
        where = parts.keys[exc.key] if parts is not None and exc.key in parts.keys else node
        ctx.error(where, f"{label}: {exc.message}")
        return None


def definition_key(
    ctx: Context, node: Node | None, *, kind: str, pattern: re.Pattern[str]
) -> tuple[str | None, int | None]:
    """A flow's or segment's key: its `id:` or else the file's stem; returns (key, line)."""
    if node is None:
        stem = Path(ctx.source).stem
        if not pattern.fullmatch(stem):
            ctx.error(
                None,
                f"the file name '{stem}' is not a valid {kind} id "
                "(lowercase letters, digits and '-'); rename the file or add 'id:'",
            )
        return stem, None
    key = string(ctx, node, "id", f"a {kind} id")
    if key is not None and not pattern.fullmatch(key):
        ctx.error(node, f"id: invalid {kind} id '{key}' (lowercase letters, digits and '-')")
    return key, line_of(node)


def read_text(path: Path, ctx: Context) -> str | None:
    """A definition file's text; too large (checked before reading) or not UTF-8 is an
    error reported through ctx."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        ctx.error(None, too_large(size))
        return None
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        ctx.error(raw.count(b"\n", 0, exc.start) + 1, "the file is not UTF-8 text")
        return None


def load_folder(directory: Path, load: Callable[[Mapping[str, str]], T]) -> T:
    """`load` of the *.yaml / *.yml files of `directory` (not recursive; dot-files are
    editor leftovers, ".#welcome.yaml"), by path; DefinitionErrors with every problem of
    every file, those that cannot be read and those `load` finds, in file and line order."""
    errors: list[DefinitionError] = []
    texts: dict[str, str] = {}
    for path in sorted(directory.iterdir()):
        if path.suffix not in (".yaml", ".yml") or path.name.startswith(".") or not path.is_file():
            continue
        ctx = Context(str(path))
        text = read_text(path, ctx)
        if text is None:
            errors.extend(ctx.sorted_errors())
        else:
            texts[str(path)] = text
    try:
        loaded = load(texts)
    except DefinitionErrors as exc:
        errors.extend(exc.errors)
    if errors:
        raise DefinitionErrors(sorted(errors, key=lambda e: (e.path, e.line or 0)))
    return loaded


def compose_document(ctx: Context, text: str, expected: str) -> Node | None:
    """The YAML node tree of a whole document, or None after reporting why not."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FILE_BYTES:
        ctx.error(None, too_large(size))
        return None
    before = len(ctx.errors)
    root = ctx.compose(text)
    if root is None and len(ctx.errors) == before + 1 and ctx.errors[-1].line is None:
        # Context.compose words an empty document for flows; say what this one needs.
        ctx.errors[-1] = DefinitionError(
            ctx.source, None, f"the document is empty; expected {expected}"
        )
    return root

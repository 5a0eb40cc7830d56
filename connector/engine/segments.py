"""Segment definitions: a named rule per file in `segments/` (`segments/vip.yaml`), loaded
and checked together (every in_segment reference resolves, no cycles) and evaluated for
one contact in dependency order. Pure: reading the directory is the only I/O.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path, PurePath

from yaml.nodes import MappingNode, Node, ScalarNode

from connector.engine.common import did_you_mean
from connector.engine.facts import ContactFacts
from connector.engine.rules import (
    SEGMENT_ID,
    Rule,
    evaluate,
    parse_rule,
    recheck_at,
    referenced_segments,
    rule_to_dict,
)
from connector.engine.yamlnodes import (
    Context,
    DefinitionError,
    DefinitionErrors,
    compose_document,
    definition_key,
    line_of,
    mapping,
    read_text,
    required,
    string,
    unknown_keys,
    walk,
)

TOP_KEYS = ("id", "name", "description", "rule")
EXPECTED = "a mapping with name and rule"


@dataclass(frozen=True)
class Segment:
    """A named rule. `version` hashes the key and the rule (not the wording), so it changes
    exactly when membership may."""

    key: str
    name: str
    rule: Rule
    version: str
    source: str
    description: str = ""
    requires: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "requires", referenced_segments(self.rule))

    @classmethod
    def create(cls, key: str, name: str, rule: Rule, source: str, description: str = "") -> Segment:
        canonical = json.dumps({"key": key, "rule": rule_to_dict(rule)}, sort_keys=True)
        version = hashlib.sha256(canonical.encode()).hexdigest()[:16]
        return cls(key, name, rule, version, source, description)


@dataclass(frozen=True)
class _Parsed:
    segment: Segment
    id_line: int | None
    references: dict[str, int]  # in_segment key -> its line


def parse_segment(text: str, source: str) -> Segment:
    """Parse one segment file; its key is `id:` or else the stem of `source`."""
    ctx = Context(source)
    parsed = _parse(text, ctx)
    if parsed is None:
        raise DefinitionErrors(ctx.sorted_errors())
    return parsed.segment


def load_segments(directory: Path) -> dict[str, Segment]:
    """Every *.yaml / *.yml segment in `directory` (not recursive), by key, sorted; a
    missing directory has none. Raises DefinitionErrors with every problem of every file:
    syntax, ids used twice, in_segment naming an unknown segment, reference cycles."""
    directory = Path(directory)
    if not directory.is_dir():
        return {}
    errors: list[DefinitionError] = []
    texts: dict[str, str] = {}
    unreadable: set[str] = set()
    for path in sorted(directory.iterdir()):
        if path.suffix not in (".yaml", ".yml") or path.name.startswith(".") or not path.is_file():
            continue
        ctx = Context(str(path))
        text = read_text(path, ctx)
        if text is None:
            errors.extend(ctx.sorted_errors())
            unreadable.add(str(path))
        texts[str(path)] = text or ""
    return load_segment_texts(texts, errors=errors, unreadable=unreadable)


def load_segment_texts(
    texts: Mapping[str, str],
    *,
    errors: list[DefinitionError] | None = None,
    unreadable: set[str] | None = None,
) -> dict[str, Segment]:
    """The segments of `texts` (source -> YAML), as load_segments; `errors` and
    `unreadable` carry what reading the files already found."""
    errors = list(errors or [])
    parsed: dict[str, _Parsed] = {}
    broken: set[str] = set()  # stems of unreadable files: references to them are not news
    for source in sorted(texts):
        stem = PurePath(source).stem
        if unreadable and source in unreadable:
            broken.add(stem)
            continue
        ctx = Context(source)
        found = _parse(texts[source], ctx)
        if found is None:
            errors.extend(ctx.sorted_errors())
            broken.add(stem)
        elif found.segment.key in parsed:
            other = parsed[found.segment.key].segment.source
            message = f"duplicate segment id '{found.segment.key}' (also in {other})"
            errors.append(DefinitionError(source, found.id_line, message))
        else:
            parsed[found.segment.key] = found
    errors.extend(_reference_errors(parsed, broken))
    if errors:
        raise DefinitionErrors(errors)
    return {key: parsed[key].segment for key in sorted(parsed)}


def evaluation_order(segments: Mapping[str, Segment]) -> list[str]:
    """Segment keys, each after the segments it references (then by key); ValueError on
    a cycle. References to segments not in the mapping are ignored."""
    waiting = {key: set(seg.requires) & segments.keys() for key, seg in segments.items()}
    users: dict[str, list[str]] = {key: [] for key in segments}
    for key, needs in waiting.items():
        for need in needs:
            users[need].append(key)
    ready = [key for key, needs in waiting.items() if not needs]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        key = heapq.heappop(ready)
        order.append(key)
        for user in users[key]:
            waiting[user].discard(key)
            if not waiting[user]:
                heapq.heappush(ready, user)
    if len(order) != len(segments):
        stuck = sorted(set(segments) - set(order))
        raise ValueError(f"in_segment references form a cycle among: {', '.join(stuck)}")
    return order


def evaluate_all(
    segments: Mapping[str, Segment], facts: ContactFacts, now: datetime
) -> dict[str, tuple[bool, datetime | None]]:
    """Every segment's membership and recheck time for one contact. Segments are evaluated
    dependencies first, each answer feeding facts.segments for the segments after it; a
    segment's recheck time includes those of the segments it references."""
    results: dict[str, tuple[bool, datetime | None]] = {}
    for key in evaluation_order(segments):
        segment = segments[key]
        member = evaluate(segment.rule, facts, now)
        times = [recheck_at(segment.rule, facts, now)]
        times.extend(results[need][1] for need in segment.requires if need in results)
        results[key] = (member, min((t for t in times if t is not None), default=None))
        if member != (key in facts.segments):
            changed = facts.segments | {key} if member else facts.segments - {key}
            facts = replace(facts, segments=changed)
    return results


# -- files ------------------------------------------------------------------------------


def _parse(text: str, ctx: Context) -> _Parsed | None:
    root = compose_document(ctx, text, EXPECTED)
    doc = None if root is None else mapping(ctx, root, "", EXPECTED)
    if doc is None:
        return None
    unknown_keys(ctx, doc, TOP_KEYS, "")
    key, id_line = _key(ctx, doc.values.get("id"))
    name = string(ctx, required(ctx, doc, "name", ""), "name", "a segment name")
    description = string(ctx, doc.values.get("description"), "description", "text")
    rule_node = required(ctx, doc, "rule", "")
    rule = None if rule_node is None else parse_rule(ctx, rule_node, "rule")
    if ctx.errors or key is None or name is None or rule is None or rule_node is None:
        return None
    segment = Segment.create(key, name.strip(), rule, ctx.source, (description or "").strip())
    return _Parsed(segment, id_line, _reference_lines(rule_node, segment.requires))


def _key(ctx: Context, node: Node | None) -> tuple[str | None, int | None]:
    return definition_key(ctx, node, kind="segment", pattern=SEGMENT_ID)


def _reference_lines(rule_node: Node, references: frozenset[str]) -> dict[str, int]:
    """The line of each referenced segment's first `in_segment:` in the YAML."""
    lines: dict[str, int] = {}
    for node in walk(rule_node):
        if isinstance(node, MappingNode):
            for key, value in node.value:
                ref = value.value if isinstance(value, ScalarNode) else None
                if key.value == "in_segment" and ref in references:
                    # walk() is depth first, not in line order: keep the smallest line
                    lines[ref] = min(line_of(value), lines.get(ref, line_of(value)))
    return lines


def _reference_errors(parsed: Mapping[str, _Parsed], broken: set[str]) -> list[DefinitionError]:
    errors = []
    for key in sorted(parsed):
        found = parsed[key]
        for ref, line in sorted(found.references.items(), key=lambda item: item[1]):
            if ref not in parsed and ref not in broken:
                hint = did_you_mean(ref, sorted(parsed)) if parsed else ""
                message = f"rule: in_segment: unknown segment '{ref}'{hint}"
                errors.append(DefinitionError(found.segment.source, line, message))
    for cycle in _cycles(parsed):
        first, second = cycle[0], cycle[1]
        line = parsed[first].references[second]
        message = (
            f"rule: in_segment: segments reference each other in a cycle: {' -> '.join(cycle)}"
        )
        errors.append(DefinitionError(parsed[first].segment.source, line, message))
    return errors


def _cycles(parsed: Mapping[str, _Parsed]) -> list[list[str]]:
    """Each cycle once, starting from its smallest key and closing on it."""
    cycles: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    done: set[str] = set()

    def visit(key: str, trail: list[str]) -> None:
        if key in trail:
            loop = trail[trail.index(key) :]
            if frozenset(loop) not in seen:
                seen.add(frozenset(loop))
                start = loop.index(min(loop))
                cycles.append([*loop[start:], *loop[:start], min(loop)])
            return
        if key in done:
            return
        for ref in sorted(parsed[key].references):
            if ref in parsed:
                visit(ref, [*trail, key])
        done.add(key)

    for key in sorted(parsed):
        visit(key, [])
    return cycles

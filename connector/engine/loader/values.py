"""Readers for the values a flow file holds (names, durations, times, filters, JSON), each
reporting problems through the Context with the node's line, and returning None on error.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import time, timedelta
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from connector.engine.common import (
    EVENT_NAME,
    EVENT_NAME_RULE,
    DurationError,
    did_you_mean,
    event_reference,
    parse_duration,
)
from connector.engine.flows import WEEKDAYS
from connector.engine.rules import Rule, parse_rule
from connector.engine.yamlnodes import Context, YamlMap, describe, is_null, mapping, string

FLOW_ID = re.compile(r"[a-z0-9-]{1,64}")
STEP_ID = re.compile(r"[a-z0-9_-]{1,64}")
TEMPLATE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
PROPERTY_PATH = re.compile(r"[^.\s]+(?:\.[^.\s]+)*")
PROPERTY_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")
KEY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")  # segments, campaigns, variants
TIME_OF_DAY = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_ZERO = re.compile(r"[+-]?0+[wdhms]?")


INVALID: Any = object()


def name(
    ctx: Context, node: Node | None, label: str, pattern: re.Pattern[str], what: str, rule: str
) -> str | None:
    """A string that must fullmatch `pattern`; `rule` says what is allowed."""
    article = "an" if what[0] in "aeiou" else "a"
    value = string(ctx, node, label, f"{article} {what}")
    if value is not None and not pattern.fullmatch(value):
        ctx.error(node, f"{label}: invalid {what} '{value}' ({rule})")
        return None
    return value


def event_name(ctx: Context, node: Node | None, label: str) -> str | None:
    return name(ctx, node, label, EVENT_NAME, "event name", EVENT_NAME_RULE)


def key_name(ctx: Context, node: Node | None, label: str, what: str) -> str | None:
    return name(ctx, node, label, KEY_NAME, what, "letters, digits, '.', '_', ':' and '-'")


def segment_key(ctx: Context, node: Node | None, label: str) -> str | None:
    # The segment ids of segments/*.yaml (rules.syntax_leaves.SEGMENT_ID).
    return name(ctx, node, label, FLOW_ID, "segment id", "lowercase letters, digits and '-'")


def property_name(ctx: Context, node: Node | None, label: str) -> str | None:
    return name(
        ctx, node, label, PROPERTY_NAME, "property name", "a letter, then letters, digits, '_'"
    )


def property_path(ctx: Context, node: Node | None, label: str) -> str | None:
    return name(ctx, node, label, PROPERTY_PATH, "property path", "names joined by '.'")


def single_line(ctx: Context, node: Node | None, label: str, what: str) -> str | None:
    value = string(ctx, node, label, what)
    if value is None:
        return None
    value = value.strip()  # block scalars (">") end with a newline
    if "\n" in value or "\r" in value:
        ctx.error(node, f"{label}: must be a single line")
        return None
    return value


def offset(ctx: Context, node: Node, label: str) -> timedelta | None:
    """A signed duration, zero allowed: "-3d", "+1d12h", "0", 0."""
    raw = ctx.scalar(node) if isinstance(node, ScalarNode) else None
    if raw == 0 and not isinstance(raw, bool):
        return timedelta(0)
    if not isinstance(raw, str):
        ctx.error(node, f"{label}: expected an offset such as '-3d' or '12h', got {describe(node)}")
        return None
    text = raw.strip()
    if _ZERO.fullmatch(text):
        return timedelta(0)
    sign = -1 if text.startswith("-") else 1
    try:
        return sign * parse_duration(text.lstrip("+-"))
    except DurationError as exc:
        ctx.error(node, f"{label}: {exc.message.replace(repr(text.lstrip('+-')), repr(text))}")
        return None


def time_of_day(ctx: Context, node: Node, label: str) -> time | None:
    """ "HH:MM" on a 24-hour clock. The raw text is read: YAML 1.1 would turn an unquoted
    21:00 into the number 1260 (base 60)."""
    text = node.value.strip() if isinstance(node, ScalarNode) else None
    match = TIME_OF_DAY.fullmatch(text) if text is not None else None
    if match is None:
        ctx.error(node, f"{label}: expected a time such as '09:00' (HH:MM), got {describe(node)}")
        return None
    return time(int(match.group(1)), int(match.group(2)))


def weekdays(ctx: Context, node: Node, label: str) -> frozenset[int] | None:
    if not isinstance(node, SequenceNode):
        ctx.error(
            node, f"{label}: expected a list of days such as [mon, fri], got {describe(node)}"
        )
        return None
    if not node.value:
        ctx.error(node, f"{label}: needs at least one day (leave it out for any day)")
        return None
    days: set[int] = set()
    for item in node.value:
        day = ctx.scalar(item) if isinstance(item, ScalarNode) else None
        if not isinstance(day, str) or day.lower() not in WEEKDAYS:
            shown = day if isinstance(day, str) else describe(item)
            ctx.error(
                item, f"{label}: unknown weekday '{shown}'{did_you_mean(str(shown), WEEKDAYS)}"
            )
            return None
        days.add(WEEKDAYS.index(day.lower()))
    return frozenset(days)


def number(ctx: Context, node: Node, label: str) -> float | int | None:
    value = ctx.scalar(node) if isinstance(node, ScalarNode) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        ctx.error(node, f"{label}: expected a number, got {describe(node)}")
        return None
    return value


def scalar_value(ctx: Context, node: Node, label: str) -> Any:
    """One plain value (text, number, true/false, null); INVALID on error."""
    if not isinstance(node, ScalarNode):
        ctx.error(node, f"{label}: expected one value, got {describe(node)}")
        return INVALID
    value = ctx.scalar(node)
    if isinstance(value, float) and not math.isfinite(value):
        ctx.error(node, f"{label}: expected a finite number, got {describe(node)}")
        return INVALID
    return value


def json_value(ctx: Context, node: Node, label: str) -> Any:
    """Any JSON value written in YAML; INVALID on error."""
    if isinstance(node, MappingNode):
        fields = mapping(ctx, node, f"{label}: ")
        if fields is None:
            return INVALID
        out = {k: json_value(ctx, v, f"{label}: {k}") for k, v in fields.values.items()}
        return INVALID if any(v is INVALID for v in out.values()) else out
    if isinstance(node, SequenceNode):
        items = [json_value(ctx, item, label) for item in node.value]
        return INVALID if any(v is INVALID for v in items) else items
    return scalar_value(ctx, node, label)


def where(ctx: Context, node: Node | None, label: str, references: bool) -> dict[str, Any]:
    """Exact-match filters {path: value}; `references` allows "{{ event.<path> }}"."""
    filters = None if node is None or is_null(node) else mapping(ctx, node, f"{label}: ")
    if filters is None:
        return {}
    result: dict[str, Any] = {}
    for path, value_node in filters.values.items():
        if not PROPERTY_PATH.fullmatch(path):
            ctx.error(filters.keys[path], f"{label}: invalid property path '{path}'")
        elif isinstance(value_node, MappingNode):
            inner = next((k.value for k, _ in value_node.value if isinstance(k, ScalarNode)), "x")
            ctx.error(
                value_node,
                f"{label}: '{path}': nested mappings are not matched; "
                f"use dotted keys such as '{path}.{inner}'",
            )
        elif not isinstance(value_node, ScalarNode):
            ctx.error(
                value_node,
                f"{label}: '{path}': expected one value to match exactly, "
                f"got {describe(value_node)}",
            )
        else:
            value = ctx.scalar(value_node)
            reference = event_reference(value)
            if reference is not None and not references:
                ctx.error(
                    value_node,
                    f"{label}: '{path}': {{{{ event.* }}}} refers to the trigger event, "
                    "which only steps can see",
                )
            elif reference is not None:
                value = f"{{{{ event.{reference} }}}}"  # one spelling, one version
            result[path] = value
    return result


def rule(ctx: Context, node: Node, label: str) -> Rule | None:
    """A rule of the shared rule language (connector.engine.rules reports its own errors)."""
    return parse_rule(ctx, node, label)


def close_to(word: str, choices: tuple[str, ...]) -> str | None:
    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.75)
    return found[0] if found else None


class Fields:
    """Reads the keys of one YAML mapping with per-key readers, remembering whether any
    failed, so a builder reads everything (all errors at once) and then checks `failed`."""

    def __init__(self, ctx: Context, data: YamlMap, prefix: str) -> None:
        self.ctx, self.data, self.prefix = ctx, data, prefix
        self.failed = False

    def node(self, key: str) -> Node | None:
        return self.data.values.get(key)

    def get(
        self,
        key: str,
        read: Callable[..., Any],
        *args: Any,
        required: bool = False,
        default: Any = None,
        nullable: bool = False,
    ) -> Any:
        node = self.data.values.get(key)
        if node is None:
            if required:
                self.ctx.error(self.data.node, f"{self.prefix}missing required key '{key}'")
                self.failed = True
            return default
        value = read(self.ctx, node, f"{self.prefix}{key}", *args)
        if value is INVALID or (value is None and not nullable):
            self.failed = True
            return default
        return value


@dataclass
class StepScope:
    """What a step builder needs: the context, the step's mapping and label prefix, and a
    list collecting the step ids it refers to (checked once every step is read)."""

    ctx: Context
    step: YamlMap
    prefix: str  # "step 3: "
    targets: list[tuple[str, Node, str]] = field(default_factory=list)

    def fields(self, node: Node, key: str, example: str) -> Fields | None:
        """The options mapping under `key:`, or None (reported) if it is not one."""
        options = mapping(self.ctx, node, f"{self.prefix}{key}: ", f"a mapping such as {example}")
        return None if options is None else Fields(self.ctx, options, f"{self.prefix}{key}: ")

    def target(self, ctx: Context, node: Node, label: str) -> str | None:
        """A step id this step may go to (a Fields reader)."""
        value = name(ctx, node, label, STEP_ID, "step id", "lowercase letters, digits, '-' and '_'")
        if value is not None:
            self.targets.append((value, node, label))
        return value

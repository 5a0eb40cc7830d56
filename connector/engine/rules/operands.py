"""Reading property conditions from YAML nodes: paths, operators and their operands,
and durations."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from connector.engine.common import did_you_mean
from connector.engine.rules.leaves import PropertyRule
from connector.engine.rules.values import (
    DATE_OPERATORS,
    OPERATORS,
    WINDOW_OPERATORS,
    as_instant_ms,
    as_number,
)
from connector.engine.yamlnodes import (
    Context,
    describe,
    flag,
    is_null,
    mapping,
    read_duration,
    string,
)

# No quotes, backslashes or spaces: paths are also SQL JSON paths (connector/segment_sql.py).
PROPERTY_PATH = re.compile(r"[^\s.\"\\]+(?:\.[^\s.\"\\]+)*")
DATE_EXAMPLE = "an ISO date or date-time such as 2026-01-31 or 2026-01-31T09:00:00Z"


def read_operand(ctx: Context, op: str, node: Node, label: str) -> Any:
    return OPERAND_READERS[op](ctx, node, label)


def _value(ctx: Context, node: Node, label: str, ordered: bool = False) -> Any:
    """A scalar to compare with: text, a number, or (for eq/in/contains) true/false."""
    value = ctx.scalar(node) if isinstance(node, ScalarNode) else None
    expected = "a number or text" if ordered else "text, a number or true/false"
    if is_null(node):
        ctx.error(node, f"{label}: expected {expected}, got nothing (use exists: false)")
        return None
    if value == "":
        ctx.error(node, f"{label}: expected {expected}, got an empty string (use exists: false)")
        return None
    allowed = (str, int, float) if ordered else (str, int, float, bool)
    if not isinstance(value, allowed) or (ordered and isinstance(value, bool)):
        ctx.error(node, f"{label}: expected {expected}, got {describe(node)}")
        return None
    return value


def _ordered(ctx: Context, node: Node, label: str) -> Any:
    return _value(ctx, node, label, ordered=True)


def _values(ctx: Context, node: Node, label: str) -> tuple[Any, ...] | None:
    if not isinstance(node, SequenceNode) or not node.value:
        got = "an empty list" if isinstance(node, SequenceNode) else describe(node)
        ctx.error(node, f"{label}: expected a list of values such as [lead, customer], got {got}")
        return None
    values = [_value(ctx, item, f"{label}[{i}]") for i, item in enumerate(node.value)]
    return None if any(value is None for value in values) else tuple(values)


def _range(ctx: Context, node: Node, label: str) -> tuple[Any, Any] | None:
    if not isinstance(node, SequenceNode) or len(node.value) != 2:
        ctx.error(node, f"{label}: expected [low, high], got {describe(node)}")
        return None
    low, high = (_ordered(ctx, item, f"{label}[{i}]") for i, item in enumerate(node.value))
    if low is None or high is None:
        return None
    numbers = as_number(low), as_number(high)
    if (numbers[0] is None) != (numbers[1] is None):
        ctx.error(node, f"{label}: low and high must both be numbers or both be text")
        return None
    if (numbers[0] if numbers[0] is not None else low) > (
        numbers[1] if numbers[1] is not None else high
    ):
        ctx.error(node, f"{label}: low {low!r} is above high {high!r}")
        return None
    return low, high


def _date(ctx: Context, node: Node, label: str) -> str | None:
    value = ctx.scalar(node) if isinstance(node, ScalarNode) else None
    if not isinstance(value, str) or as_instant_ms(value) is None or as_number(value) is not None:
        ctx.error(node, f"{label}: expected {DATE_EXAMPLE}, got {describe(node)}")
        return None
    return value


OPERAND_READERS: dict[str, Callable[[Context, Node, str], Any]] = {
    "eq": _value,
    "neq": _value,
    "contains": _value,
    "in": _values,
    "not_in": _values,
    "gt": _ordered,
    "gte": _ordered,
    "lt": _ordered,
    "lte": _ordered,
    "between": _range,
    "exists": flag,
    **{op: _date for op in DATE_OPERATORS},
    **{op: read_duration for op in WINDOW_OPERATORS},
}


def read_path(ctx: Context, node: Node, label: str) -> str | None:
    path = string(ctx, node, label, "a property name")
    if path is not None and (len(path) > 200 or not PROPERTY_PATH.fullmatch(path)):
        ctx.error(node, f"{label}: invalid property path '{path}' (names joined by '.', no spaces)")
        return None
    return path


def read_conditions(ctx: Context, node: Node, label: str) -> tuple[PropertyRule, ...] | None:
    """`{category: shoes, total: {gt: 10, lt: 100}}`: a bare value means eq."""
    found = mapping(ctx, node, f"{label}: ", "a mapping of properties such as {category: shoes}")
    if found is None:
        return None
    conditions: list[PropertyRule] = []
    for name, value in found.values.items():
        where = f"{label}.{name}"
        if not PROPERTY_PATH.fullmatch(name):
            ctx.error(found.keys[name], f"{label}: invalid property path '{name}'")
        elif isinstance(value, MappingNode):
            conditions.extend(_operators(ctx, value, name, where))
        elif isinstance(value, ScalarNode) and not is_null(value):
            operand = read_operand(ctx, "eq", value, where)
            if operand is not None:
                conditions.append(PropertyRule(name, "eq", operand))
        else:
            hint = " (use {in: [...]})" if isinstance(value, SequenceNode) else ""
            hint = " (use {exists: false})" if is_null(value) else hint
            ctx.error(value, f"{where}: expected a value or operators, got {describe(value)}{hint}")
    return tuple(conditions)


def _operators(ctx: Context, node: MappingNode, name: str, label: str) -> list[PropertyRule]:
    found = mapping(ctx, node, f"{label}: ")
    if found is None:
        return []
    if not found.keys:
        ctx.error(node, f"{label}: expected at least one operator such as {{eq: shoes}}")
    conditions = []
    for op, value in found.values.items():
        if op not in OPERATORS:
            ctx.error(
                found.keys[op], f"{label}: unknown operator '{op}'{did_you_mean(op, OPERATORS)}"
            )
            continue
        operand = read_operand(ctx, op, value, f"{label}.{op}")
        if operand is not None:
            conditions.append(PropertyRule(name, op, operand))
    return conditions

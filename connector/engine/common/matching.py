"""Exact-match filters over event properties (`where:` of event triggers and wait_for).

A filter value may also be the reference "{{ event.<path> }}": equal to that property of
the event that started the enrollment (so a wait for `order.shipped` matches THIS order).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MISSING: Any = object()
EVENT_REF = re.compile(r"\{\{\s*event\.([^\s{}]+)\s*\}\}")


def lookup(properties: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path ("customer.tier"), or MISSING.

    A literal key containing dots wins over the nested path, since some sources flatten
    their properties that way.
    """
    if path in properties:
        return properties[path]
    current: Any = properties
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return MISSING
        current = current[part]
    return current


def same(expected: Any, actual: Any) -> bool:
    """Exact match, type included: True must not match 1, nor "1" match 1. Numbers compare
    by value (2 matches 2.0). A missing property matches nothing, not even null."""
    if actual is MISSING or expected is MISSING:
        return False
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return bool(expected == actual)
    return type(expected) is type(actual) and bool(expected == actual)


def where_matches(where: Mapping[str, Any], properties: Mapping[str, Any]) -> bool:
    return all(same(value, lookup(properties, path)) for path, value in where.items())


def event_reference(value: Any) -> str | None:
    """The path of a "{{ event.<path> }}" filter value, else None."""
    if isinstance(value, str):
        match = EVENT_REF.fullmatch(value.strip())
        if match:
            return match.group(1)
    return None


def resolve_where(where: Mapping[str, Any], event: Mapping[str, Any]) -> dict[str, Any]:
    """`where` with event references replaced by the trigger event's values; a reference
    to a property that event lacks becomes MISSING (and then matches nothing)."""
    resolved = {}
    for path, value in where.items():
        reference = event_reference(value)
        resolved[path] = value if reference is None else lookup(event, reference)
    return resolved

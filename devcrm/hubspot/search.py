"""CRM search semantics, pure: filter groups (OR of ANDs), operators, sorts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from devcrm.hubspot.errors import validation_error
from devcrm.hubspot.records import to_ms

OPERATORS = ("EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN",
             "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN")
MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 6, 18


def check_filter_groups(groups: list[dict[str, Any]]) -> None:
    if len(groups) > MAX_GROUPS:
        raise validation_error(f"Too many filter groups: {len(groups)} > {MAX_GROUPS}")
    total = 0
    for group in groups:
        filters = group.get("filters", [])
        total += len(filters)
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise validation_error(f"Too many filters in a group: {len(filters)} > "
                                   f"{MAX_FILTERS_PER_GROUP}")
        for f in filters:
            if f.get("operator") not in OPERATORS or not f.get("propertyName"):
                raise validation_error(f"Invalid filter: {f}")
    if total > MAX_FILTERS:
        raise validation_error(f"Too many filters: {total} > {MAX_FILTERS}")


def _key(value: str) -> tuple[int, float | str]:
    """Numbers and dates (epoch ms or ISO) compare as numbers, the rest case-insensitively."""
    ms = to_ms(value)
    return (0, ms) if ms is not None else (1, value.lower())


def _compare(actual: str, op: str, wanted: str) -> bool:
    a, w = _key(actual), _key(wanted)
    if a[0] != w[0]:
        a, w = (1, actual.lower()), (1, wanted.lower())
    if op == "EQ":
        return a == w
    if op == "NEQ":
        return a != w
    if op == "LT":
        return a < w
    if op == "LTE":
        return a <= w
    if op == "GT":
        return a > w
    return a >= w  # GTE


def matches_filter(props: dict[str, str], f: dict[str, Any]) -> bool:
    op, name = f["operator"], f["propertyName"]
    actual = props.get(name) or ""
    if op == "HAS_PROPERTY":
        return actual != ""
    if op == "NOT_HAS_PROPERTY":
        return actual == ""
    if op == "NEQ":
        return actual == "" or _compare(actual, op, str(f.get("value", "")))
    if actual == "":
        return False
    if op in ("IN", "NOT_IN"):
        inside = any(_key(actual) == _key(str(v)) for v in f.get("values", []))
        return inside if op == "IN" else not inside
    if op == "BETWEEN":
        return (_compare(actual, "GTE", str(f.get("value", "")))
                and _compare(actual, "LTE", str(f.get("highValue", ""))))
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        token = str(f.get("value", "")).lower().strip("*")
        found = token in actual.lower()
        return found if op == "CONTAINS_TOKEN" else not found
    return _compare(actual, op, str(f.get("value", "")))


def matches(props: dict[str, str], groups: list[dict[str, Any]]) -> bool:
    if not groups:
        return True
    return any(all(matches_filter(props, f) for f in group.get("filters", []))
               for group in groups)


def matches_query(props: dict[str, str], query: str | None) -> bool:
    if not query:
        return True
    needle = query.lower()
    return any(needle in (props.get(name) or "").lower()
               for name in ("email", "firstname", "lastname", "phone", "company"))


def sort_records(records: list[dict[str, Any]], sorts: list[Any]) -> list[dict[str, Any]]:
    ordered = sorted(records, key=lambda r: int(r["id"]))
    for spec in reversed(sorts or []):
        name = spec if isinstance(spec, str) else spec.get("propertyName", "")
        descending = not isinstance(spec, str) and spec.get("direction") == "DESCENDING"
        ordered.sort(key=_sort_key(name), reverse=descending)
    return ordered


def _sort_key(name: str) -> Callable[[dict[str, Any]], tuple[int, float | str]]:
    return lambda record: _key(record["properties"].get(name) or "")

"""Property rules: every operator, the coercions of CRM values, missing properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from connector.engine.facts import ContactFacts
from connector.engine.rules import as_instant_ms, as_number, evaluate, parse_rule_text
from connector.engine.rules.values import lookup

NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
JAN_1_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def holds(rule: str, properties: dict[str, Any], now: datetime = NOW) -> bool:
    facts = ContactFacts(email="a@example.com", suppressed=False, properties=properties)
    return evaluate(parse_rule_text(rule, "rule.yaml"), facts, now)


CASES: list[tuple[str, Any, bool]] = [
    # eq: numbers and numeric strings compare as numbers, text exactly, booleans loosely
    ("{property: p, eq: customer}", "customer", True),
    ("{property: p, eq: customer}", "Customer", False),
    ("{property: p, eq: customer}", "customer ", False),
    ("{property: p, eq: 59}", "59.00", True),
    ("{property: p, eq: 59}", 59.0, True),
    ("{property: p, eq: '59.0'}", 59, True),
    ("{property: p, eq: 100}", "1e2", True),
    ("{property: p, eq: 59}", " 59", False),  # not a numeric string: spaces
    ("{property: p, eq: 59}", "abc", False),
    ("{property: p, eq: 1}", True, False),  # a boolean is not the number 1
    ("{property: p, eq: true}", True, True),
    ("{property: p, eq: true}", "true", True),
    ("{property: p, eq: true}", "TRUE", True),
    ("{property: p, eq: true}", "yes", False),
    ("{property: p, eq: 'true'}", True, True),
    ("{property: p, eq: false}", False, True),
    ("{property: p, eq: false}", True, False),
    ("{property: p, eq: x}", ["x"], False),
    ("{property: p, eq: x}", {"x": 1}, False),
    ("{property: p, eq: 2026-01-05}", "2026-01-05", True),  # a YAML date stays text
    # neq / not_in are exact negations
    ("{property: p, neq: customer}", "lead", True),
    ("{property: p, neq: customer}", "customer", False),
    ("{property: p, neq: 59}", "59.00", False),
    ("{property: p, in: [lead, customer]}", "customer", True),
    ("{property: p, in: [lead, 5]}", "5.0", True),
    ("{property: p, in: [lead, 5]}", "other", False),
    ("{property: p, not_in: [lead, customer]}", "other", True),
    ("{property: p, not_in: [lead, customer]}", "lead", False),
    # contains: substring of text, element of a list
    ("{property: p, contains: shoe}", "red shoes", True),
    ("{property: p, contains: Shoe}", "red shoes", False),
    ("{property: p, contains: a}", ["a", "b"], True),
    ("{property: p, contains: 2}", ["1", "2.0"], True),
    ("{property: p, contains: a}", ["ab"], False),
    ("{property: p, contains: a}", 5, False),
    # ordering: numbers when the operand is a number, code points for text
    ("{property: p, gt: 59}", "59.01", True),
    ("{property: p, gt: 59}", "59.00", False),
    ("{property: p, gte: 59}", "59.00", True),
    ("{property: p, lt: 10}", "9", True),  # numerically, though "9" > "10" as text
    ("{property: p, lte: 10}", 10, True),
    ("{property: p, gt: 5}", "abc", False),  # text never orders against a number
    ("{property: p, gt: 0}", True, False),
    ("{property: p, lt: b}", "apple", True),
    ("{property: p, lt: b}", "Banana", True),  # 'B' < 'b' in code points
    ("{property: p, gt: b}", "ápple", True),
    ("{property: p, gt: b}", 7, False),
    ("{property: p, between: [50, 100]}", "50", True),
    ("{property: p, between: [50, 100]}", 100, True),
    ("{property: p, between: [50, 100]}", "100.01", False),
    ("{property: p, between: [a, c]}", "b", True),
    ("{property: p, between: [a, c]}", "d", False),
    # exists
    ("{property: p, exists: true}", "x", True),
    ("{property: p, exists: true}", 0, True),
    ("{property: p, exists: true}", False, True),
    ("{property: p, exists: true}", [], True),
    ("{property: p, exists: true}", "", False),
    ("{property: p, exists: false}", "", True),
    ("{property: p, exists: false}", None, True),
    # dates: epoch ms / s (numbers or strings), ISO dates and date-times, naive = UTC
    ("{property: p, before: 2026-01-02}", str(JAN_1_MS), True),
    ("{property: p, before: 2026-01-01}", str(JAN_1_MS), False),
    ("{property: p, after: 2025-12-31}", JAN_1_MS // 1000, True),
    ("{property: p, after: 2025-12-31}", str(JAN_1_MS // 1000), True),
    ("{property: p, after: '2026-01-01T00:00:00Z'}", "2026-01-01T01:00:00+01:00", False),
    ("{property: p, after: '2026-01-01T00:00:00Z'}", "2026-01-01T01:00:00+0059", True),
    ("{property: p, after: '2026-01-01T00:00:00Z'}", "2026-01-01 00:00:00.001", True),
    ("{property: p, before: '2026-01-01T00:00:00.001Z'}", "2026-01-01T00:00:00.0009999", True),
    ("{property: p, before: 2026-03-01}", "2026-02-30", False),  # not a real date
    ("{property: p, before: 2026-03-01}", "Jan 5 2026", False),
    ("{property: p, before: 2026-03-01}", "20260105", True),  # epoch seconds: 1970-08-23
    ("{property: p, after: 2026-03-01}", "20260105", False),
    ("{property: p, before: 2026-03-01}", True, False),
    ("{property: p, within_last: 30d}", "2026-01-05", True),
    ("{property: p, within_last: 30d}", "2026-01-01T12:00:00Z", False),  # exactly 30 days
    ("{property: p, within_last: 30d}", "2026-01-01T12:00:00.001Z", True),
    ("{property: p, within_last: 30d}", "2026-02-05", False),  # the future is not "last"
    ("{property: p, within_last: 30d}", "2026-01-31T12:00:00Z", True),  # now itself
    ("{property: p, more_than_ago: 30d}", "2026-01-01T12:00:00Z", True),
    ("{property: p, more_than_ago: 30d}", "2026-01-01T12:00:00.001Z", False),
    ("{property: p, more_than_ago: {days: 30}}", "2025-06-01", True),
]


@pytest.mark.parametrize(("rule", "value", "expected"), CASES)
def test_operator(rule: str, value: Any, expected: bool) -> None:
    assert holds(rule, {"p": value}) is expected


MISSING = [
    ("eq: x", False),
    ("neq: x", True),
    ("in: [x]", False),
    ("not_in: [x]", True),
    ("contains: x", False),
    ("gt: 1", False),
    ("gte: a", False),
    ("lt: 1", False),
    ("lt: zzz", False),  # "" would sort first: it must count as missing instead
    ("lte: 1", False),
    ("between: [0, 1]", False),
    ("exists: true", False),
    ("exists: false", True),
    ("before: 2030-01-01", False),
    ("after: 2000-01-01", False),
    ("within_last: 3650d", False),
    ("more_than_ago: 1d", False),
]


@pytest.mark.parametrize(("operator", "expected"), MISSING)
@pytest.mark.parametrize(
    "properties", [{}, {"p": None}, {"p": ""}], ids=["absent", "null", "empty"]
)
def test_missing_property(operator: str, expected: bool, properties: dict[str, Any]) -> None:
    assert holds(f"{{property: p, {operator}}}", properties) is expected


def test_dotted_paths_reach_into_nested_values() -> None:
    properties = {"address": {"city": "Berlin"}, "items": [{"sku": "A1"}], "flat": "x"}
    assert holds("{property: address.city, eq: Berlin}", properties)
    assert holds("{property: items.0.sku, eq: A1}", properties)
    assert not holds("{property: items.1.sku, exists: true}", properties)
    assert not holds("{property: flat.deeper, exists: true}", properties)
    assert holds("{property: address.zip, exists: false}", properties)


def test_coercion_helpers() -> None:
    assert as_number("59.00") == 59.0
    assert as_number("-5") == -5
    assert as_number(".5") == 0.5
    assert as_number("1E3") == 1000.0
    assert as_number(True) is None
    assert as_number("nan") is None
    assert as_number("1_000") is None
    assert as_number("٣") is None  # only ASCII digits
    assert as_instant_ms("1704067200000") == 1_704_067_200_000
    assert as_instant_ms(1_704_067_200) == 1_704_067_200_000
    assert as_instant_ms(-86_400) == -86_400_000  # seconds before 1970
    assert as_instant_ms("2026-01-01") == JAN_1_MS
    assert as_instant_ms("2026-01-01T01:00:00+01:00") == JAN_1_MS
    assert as_instant_ms("2026-01-01T00:00:00.1239Z") == JAN_1_MS + 123  # ms, truncated
    assert as_instant_ms(date(2026, 1, 1)) == JAN_1_MS
    assert as_instant_ms(datetime(2026, 1, 1)) == JAN_1_MS  # naive is UTC
    assert as_instant_ms(datetime(2026, 1, 1, 1, tzinfo=UTC) - timedelta(hours=1)) == JAN_1_MS
    assert as_instant_ms(10**20) is None  # beyond year 9999
    assert as_instant_ms("2026-13-01") is None
    assert lookup({"a": {"b": ""}}, ("a", "b")) is None

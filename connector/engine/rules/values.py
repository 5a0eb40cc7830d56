"""How rules read and compare CRM values: coercion, property paths and operator tests.

CRM values are mostly text: HubSpot sends numbers as "59.00", dates as epoch milliseconds
("1704067200000") or ISO text ("2026-01-05"), booleans as "true". The rules therefore
coerce per comparison:

- numbers: when both sides are numbers or numeric strings ([+-]digits[.digits][e±n], no
  spaces), they compare as numbers, so "59.00" eq 59 and "100" gt 99;
- booleans: when either side is a boolean, both are read as booleans (true, "true",
  "TRUE"); anything else is unequal;
- otherwise text, case-sensitive and exact (eq "Customer" does not match "customer");
  gt/lt on text use code-point order, and a number never orders against text;
- dates (before, after, within_last, more_than_ago): epoch numbers or numeric strings
  (milliseconds when |n| >= 1e11, else seconds), or ISO text `YYYY-MM-DD` (midnight UTC)
  or `YYYY-MM-DD[T ]HH:MM[:SS[.fraction]]` with an optional `Z`, `±HH:MM` or `±HHMM`
  offset (naive is UTC). Instants have millisecond precision (finer digits are dropped),
  so that SQL pushdown (connector/segment_sql.py) gives the same answers; other text is not
  a date.

A missing property (absent, null or "") fails every operator except the negative ones:
`neq`, `not_in` and `exists: false` are exactly the negation of `eq`, `in` and
`exists: true`, so a contact without the property is in `neq` and `not_in`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

# connector/segment_sql.py uses these patterns too; keep them in step.
NUMBER_PATTERN = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"
INTEGER_PATTERN = r"[+-]?[0-9]+"
DATE_PATTERN = (
    r"[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?)?"
    r"(Z|[+-](0[0-9]|1[0-4]):?[0-5][0-9])?)?"
)
NUMBER = re.compile(NUMBER_PATTERN)
INTEGER = re.compile(INTEGER_PATTERN)
DATE_TEXT = re.compile(DATE_PATTERN)
_DATE_PARTS = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d+))?)?"
    r"(Z|([+-])(\d\d):?(\d\d))?)?"
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_MS_FROM = 100_000_000_000  # |n| >= 1e11 is milliseconds (1973 on); below, seconds
MIN_MS = -62_135_596_800_000  # 0001-01-01
MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999
MS = timedelta(milliseconds=1)
US = timedelta(microseconds=1)

Scalar = str | int | float | bool


def path_of(dotted: str) -> tuple[str, ...]:
    return tuple(dotted.split("."))


def lookup(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value at a dotted path, or None when absent, null or "" (all read as missing).

    A digits-only segment indexes a list ("items.0.sku").
    """
    value: Any = data
    for key in path:
        if isinstance(value, Mapping):
            value = value.get(key)
        elif isinstance(value, list | tuple) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    return None if value == "" else value


def as_number(value: Any) -> int | float | None:
    """The number a value stands for: a number or a numeric string; never a boolean."""
    kind = type(value)
    if kind is int or kind is float:
        return value  # type: ignore[no-any-return]
    if kind is str and NUMBER.fullmatch(value):
        return int(value) if INTEGER.fullmatch(value) else float(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return None


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    return None


def as_instant_ms(value: Any) -> int | None:
    """Milliseconds since the epoch for a date value (see the module docstring), else None."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return (aware - EPOCH) // MS
    if isinstance(value, date):
        return (datetime(value.year, value.month, value.day, tzinfo=UTC) - EPOCH) // MS
    if isinstance(value, str) and DATE_TEXT.fullmatch(value):
        return _parse_date_text(value)
    number = as_number(value)
    if number is None or number != number:  # NaN
        return None
    millis = number if abs(number) >= EPOCH_MS_FROM else number * 1000
    if not MIN_MS <= millis <= MAX_MS:
        return None
    return int(millis)  # toward zero, like SQL's CAST(... AS INTEGER)


def _parse_date_text(text: str) -> int | None:
    parts = _DATE_PARTS.fullmatch(text)
    assert parts is not None  # DATE_TEXT matched
    year, month, day, hour, minute, second, fraction, _zone, sign, off_h, off_m = parts.groups()
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0")[:3].ljust(3, "0")) * 1000,
            tzinfo=UTC,
        )
    except ValueError:  # February 30th and the like
        return None
    if sign is not None:
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        moment = moment - offset if sign == "+" else moment + offset
    return (moment - EPOCH) // MS


def instant(millis: int) -> datetime | None:
    try:
        return EPOCH + timedelta(milliseconds=millis)
    except OverflowError:
        return None


def equals(value: Any, operand: Any) -> bool:
    """eq as documented above: booleans, then numbers, then exact text."""
    if value is operand or (type(value) is str and value == operand):
        return value is not None
    if isinstance(value, bool) or isinstance(operand, bool):
        left = as_bool(value)
        return left is not None and left == as_bool(operand)
    left_number = as_number(value)
    if left_number is not None:
        right_number = as_number(operand)
        return right_number is not None and left_number == right_number
    return False  # distinct text, or a list or mapping


def order(value: Any, operand: Any) -> int | None:
    """-1, 0 or 1 as value is below, equal to or above operand; None if not comparable."""
    right = as_number(operand)
    if right is not None and not isinstance(value, bool):
        left = as_number(value)
        if left is None:
            return None
        return (left > right) - (left < right)
    if isinstance(value, str) and isinstance(operand, str):
        return (value > operand) - (value < operand)
    return None


def contains(value: Any, operand: Any) -> bool:
    if isinstance(value, str):
        return str(operand) in value
    if isinstance(value, list | tuple):
        return any(equals(item, operand) for item in value)
    return False


def micros(moment: datetime) -> int:
    return (moment - EPOCH) // US


# -- operator tests: (present value or None, now) -> bool, built once per rule ------------

Test = Callable[[Any, datetime], bool]


def _compared(accept: Callable[[int], bool]) -> Callable[[Any], Test]:
    def build(operand: Any) -> Test:
        def test(value: Any, now: datetime) -> bool:
            sign = None if value is None else order(value, operand)
            return sign is not None and accept(sign)

        return test

    return build


def _eq(operand: Any) -> Test:
    return lambda value, now: value is not None and equals(value, operand)


def _in(operand: Sequence[Any]) -> Test:
    return lambda value, now: value is not None and any(equals(value, o) for o in operand)


def _contains(operand: Any) -> Test:
    return lambda value, now: value is not None and contains(value, operand)


def _between(operand: Sequence[Any]) -> Test:
    low, high = operand

    def test(value: Any, now: datetime) -> bool:
        if value is None:
            return False
        above, below = order(value, low), order(value, high)
        return above is not None and below is not None and above >= 0 and below <= 0

    return test


def _exists(operand: bool) -> Test:
    return lambda value, now: (value is not None) == operand


def _instant_test(accept: Callable[[int, int, int], bool]) -> Callable[[Any], Test]:
    """A date test: accept(value_ms * 1000, operand, now in µs); exact in integers."""

    def build(operand: Any) -> Test:
        def test(value: Any, now: datetime) -> bool:
            millis = None if value is None else as_instant_ms(value)
            return millis is not None and accept(millis * 1000, operand, micros(now))

        return test

    return build


def _window_us(operand: Any) -> int:
    return int(operand.total_seconds()) * 1_000_000 if isinstance(operand, timedelta) else 0


BUILDERS: dict[str, Callable[[Any], Test]] = {
    "eq": _eq,
    "in": _in,
    "contains": _contains,
    "gt": _compared(lambda sign: sign > 0),
    "gte": _compared(lambda sign: sign >= 0),
    "lt": _compared(lambda sign: sign < 0),
    "lte": _compared(lambda sign: sign <= 0),
    "between": _between,
    "exists": _exists,
    # operands: before/after hold the ISO text's milliseconds, windows a timedelta
    "before": _instant_test(lambda v, ms, now: v < ms * 1000),
    "after": _instant_test(lambda v, ms, now: v > ms * 1000),
    "within_last": _instant_test(lambda v, d, now: now - _window_us(d) < v <= now),
    "more_than_ago": _instant_test(lambda v, d, now: v <= now - _window_us(d)),
}
NEGATIONS: dict[str, str] = {"neq": "eq", "not_in": "in"}
OPERATORS: tuple[str, ...] = (
    "eq", "neq", "in", "not_in", "contains", "gt", "gte", "lt", "lte", "between", "exists",
    "before", "after", "within_last", "more_than_ago",
)  # fmt: skip
DATE_OPERATORS = ("before", "after")
WINDOW_OPERATORS = ("within_last", "more_than_ago")


def build_test(op: str, operand: Any) -> Test:
    """The test for one operator and its (parsed) operand."""
    if op in NEGATIONS:
        positive = BUILDERS[NEGATIONS[op]](operand)
        return lambda value, now: not positive(value, now)
    return BUILDERS[op](operand)


def window_change(op: str, window: timedelta, value: Any, now: datetime) -> datetime | None:
    """When a within_last / more_than_ago answer flips with time alone, if it ever does."""
    millis = None if value is None else as_instant_ms(value)
    moment = None if millis is None else instant(millis)
    if moment is None:
        return None
    if op == "within_last" and moment > now:
        return moment  # a future date enters the window when it arrives
    try:
        leaves = moment + window
    except OverflowError:
        return None
    return leaves if leaves > now else None

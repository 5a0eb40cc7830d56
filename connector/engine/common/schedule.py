"""Wall-clock arithmetic in a contact's timezone: times of day, weekdays, quiet hours and
date properties. Pure: `now` always comes in; every datetime that goes out is in UTC.

Timezones are IANA names read with zoneinfo; an unknown or malformed name falls back to
UTC (a contact record with a bad timezone still gets its emails, at UTC times). A local
time that does not exist (the hour skipped when DST starts) moves forward by the gap; one
that exists twice (when DST ends) is the first of the two.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_AT = time(9, 0)  # dates without a time of day are taken at 09:00 local
_EPOCH_MS = re.compile(r"-?\d+")
_DAY_MS = 86_400_000


def format_time(value: time) -> str:
    """ "HH:MM", the stored form of a time of day."""
    return value.strftime("%H:%M")


def parse_time(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


@lru_cache(maxsize=512)
def zone(name: str | None) -> tzinfo:
    """The timezone called `name`, or UTC when it is missing or unknown."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def at_local(day: date, at: time, tz: tzinfo) -> datetime:
    """The UTC instant of local time `at` on `day` in `tz`."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def local_to_utc(naive: datetime, tz: tzinfo) -> datetime:
    return naive.replace(tzinfo=tz).astimezone(UTC)


def next_local_time(
    now: datetime, tz: tzinfo, at: time, weekdays: frozenset[int] | None = None
) -> datetime:
    """The first `at` strictly after `now`, on one of `weekdays` (0 = Monday) if given."""
    today = now.astimezone(tz).date()
    for days in range(8):  # today, then a week: always enough
        day = today + timedelta(days=days)
        if weekdays is not None and day.weekday() not in weekdays:
            continue
        candidate = at_local(day, at, tz)
        if candidate > now:
            return candidate
    raise ValueError("no weekday given")  # unreachable with a non-empty weekday set


def quiet_until(now: datetime, tz: tzinfo, start: time, end: time) -> datetime | None:
    """When the quiet window around `now` ends (UTC), or None if `now` is outside it."""
    local = now.astimezone(tz).time()
    inside = start <= local < end if start < end else (local >= start or local < end)
    return next_local_time(now, tz, end) if inside else None


def parse_date_value(value: object) -> date | datetime | None:
    """A date property as the CRM sends it, or None if it is missing or unreadable.

    Accepted: an ISO date ("2024-05-01") -> date; an ISO datetime -> aware datetime (naive
    ones are taken as UTC); epoch milliseconds as a number or digit string (HubSpot) ->
    datetime, except exactly midnight UTC, which is how HubSpot stores a date property,
    -> date. date and datetime objects are taken as they are.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return value
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and _EPOCH_MS.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, int):
        try:
            if value % _DAY_MS == 0:
                return date(1970, 1, 1) + timedelta(days=value // _DAY_MS)
            return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=value)
        except OverflowError:
            return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def local_day(value: date | datetime, tz: tzinfo) -> date:
    """The calendar day of a date property for a contact in `tz`."""
    return value.astimezone(tz).date() if isinstance(value, datetime) else value


def date_target(
    value: date | datetime, tz: tzinfo, offset: timedelta, at: time | None, years: int = 0
) -> datetime:
    """When a date property (+ offset) falls due, in UTC.

    With `at`, or for a plain date: the local day at `at` (09:00 by default) plus the offset
    in wall-clock terms, so "-3d at 09:00" stays 09:00 across a DST change. Without `at`, a
    datetime keeps its own local time of day: delivered at 14:32 + 7d is 14:32 a week later.
    """
    if isinstance(value, datetime) and at is None:
        local = value.astimezone(tz).replace(tzinfo=None)
    else:
        local = datetime.combine(local_day(value, tz), at or DEFAULT_AT)
    if years:
        local = datetime.combine(anniversary(local.date(), local.year + years), local.time())
    return local_to_utc(local + offset, tz)


def anniversary(day: date, year: int) -> date:
    """`day` in `year`; 29 February falls on the 28th in common years."""
    try:
        return day.replace(year=year)
    except ValueError:
        return day.replace(year=year, day=28)

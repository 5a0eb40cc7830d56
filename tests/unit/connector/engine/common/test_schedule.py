"""Wall-clock helpers: timezones, date values, times of day, quiet windows."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from connector.engine.common import next_local_time, parse_date_value, quiet_until, zone

NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize("name", [None, "", "Mars/Base", "../etc/passwd", "America/New_York "])
def test_unknown_timezones_are_utc(name: str | None) -> None:
    assert zone(name) is UTC


def test_known_timezone() -> None:
    assert zone("America/New_York") == NY


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-05-01", date(2026, 5, 1)),
        (" 2026-05-01 ", date(2026, 5, 1)),
        ("2026-05-01T10:00:00Z", datetime(2026, 5, 1, 10, tzinfo=UTC)),
        ("2026-05-01T10:00:00", datetime(2026, 5, 1, 10, tzinfo=UTC)),  # naive is UTC
        (
            "2026-05-01T10:00:00+02:00",
            datetime(2026, 5, 1, 10, tzinfo=timezone(timedelta(hours=2))),
        ),
        (1_777_593_600_000, date(2026, 5, 1)),  # midnight UTC: a HubSpot date
        ("1777593600000", date(2026, 5, 1)),
        (1_777_593_600_000.0, date(2026, 5, 1)),
        (1_777_593_600_001, datetime(2026, 5, 1, 0, 0, 0, 1000, tzinfo=UTC)),
        (0, date(1970, 1, 1)),
        (date(2026, 5, 1), date(2026, 5, 1)),
        (datetime(2026, 5, 1, 10), datetime(2026, 5, 1, 10, tzinfo=UTC)),
        (None, None),
        (True, None),
        ("", None),
        ("next tuesday", None),
        ("2026-13-01", None),
        (10**30, None),
        ([2026, 5, 1], None),
    ],
)
def test_parse_date_value(value: object, expected: object) -> None:
    assert parse_date_value(value) == expected


def test_next_local_time_is_strictly_after_now() -> None:
    nine = datetime(2026, 1, 5, 9, tzinfo=NY)
    assert next_local_time(nine, NY, time(9)) == datetime(2026, 1, 6, 9, tzinfo=NY)
    assert next_local_time(nine - timedelta(seconds=1), NY, time(9)) == nine


def test_next_local_time_on_one_weekday_is_at_most_a_week_away() -> None:
    monday = datetime(2026, 1, 5, 10, tzinfo=NY)
    assert next_local_time(monday, NY, time(9), frozenset({0})) == datetime(
        2026, 1, 12, 9, tzinfo=NY
    )


def test_quiet_until() -> None:
    night = (time(21), time(8))
    assert quiet_until(datetime(2026, 1, 5, 20, 59, tzinfo=NY), NY, *night) is None
    assert quiet_until(datetime(2026, 1, 5, 21, tzinfo=NY), NY, *night) == datetime(
        2026, 1, 6, 8, tzinfo=NY
    )
    assert quiet_until(datetime(2026, 1, 6, 8, tzinfo=NY), NY, *night) is None

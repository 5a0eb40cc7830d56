"""next_fire_time(): when date and inactivity triggers fire for a contact."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from connector.engine.entry import next_fire_time
from connector.engine.flows import (
    ContactCreated,
    DateTrigger,
    Flow,
    InactivityTrigger,
    SendStep,
    Trigger,
)
from tests.unit.connector.engine.factories import NOW, facts, make_flow


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def flow(trigger: Trigger) -> Flow:
    return make_flow(SendStep("s", "t"), trigger=trigger)


def fire(
    trigger: Trigger, value: object, after: datetime = NOW, tz: str = "UTC"
) -> datetime | None:
    contact = facts(timezone=tz, properties={"day": value})
    return next_fire_time(flow(trigger), contact, after)


YEARLY = DateTrigger("day", yearly=True)
EPOCH_MAY_1 = int(utc(2026, 5, 1).timestamp() * 1000)


@pytest.mark.parametrize(
    ("value", "after", "expected"),
    [
        ("1990-07-14", NOW, utc(2026, 7, 14, 9)),
        ("1990-01-05", NOW, utc(2027, 1, 5, 9)),  # today's 09:00 is not after NOW (09:00)
        ("1990-01-05", NOW - timedelta(seconds=1), utc(2026, 1, 5, 9)),
        # 29 February falls on the 28th in common years, and on the 29th in leap years
        ("2000-02-29", NOW, utc(2026, 2, 28, 9)),
        ("2000-02-29", utc(2027, 3, 1), utc(2028, 2, 29, 9)),
        # the date itself is not an anniversary
        ("2026-01-10", NOW, utc(2027, 1, 10, 9)),
    ],
)
def test_yearly(value: str, after: datetime, expected: datetime) -> None:
    assert fire(YEARLY, value, after) == expected


def test_yearly_with_an_offset_across_a_leap_day() -> None:
    before = DateTrigger("day", offset=timedelta(days=-3), yearly=True)
    assert fire(before, "2000-03-01", utc(2027, 1, 1)) == utc(2027, 2, 26, 9)
    assert fire(before, "2000-03-01", utc(2027, 3, 1)) == utc(2028, 2, 27, 9)


def test_yearly_with_an_offset_of_more_than_a_year() -> None:
    early = DateTrigger("day", offset=timedelta(days=-400), yearly=True)
    assert fire(early, "2000-06-15") == utc(2026, 5, 11, 9)


def test_yearly_keeps_the_local_time_across_dst() -> None:
    # 8 March 2026 is the day New York moves to summer time; in 2027 it is a week later.
    assert fire(YEARLY, "1985-03-08", tz="America/New_York") == utc(2026, 3, 8, 13)
    assert fire(YEARLY, "1985-03-08", utc(2026, 3, 9), "America/New_York") == utc(2027, 3, 8, 14)


def test_a_local_time_that_does_not_exist_moves_forward() -> None:
    at_2_30 = DateTrigger("day", at=time(2, 30))
    # 02:30 does not exist on 8 March 2026 in New York: 03:30 EDT, 07:30 UTC
    assert fire(at_2_30, "2026-03-08", tz="America/New_York") == utc(2026, 3, 8, 7, 30)
    # 01:30 exists twice on 1 November: the first one (EDT)
    assert fire(DateTrigger("day", at=time(1, 30)), "2026-11-01", tz="America/New_York") == (
        utc(2026, 11, 1, 5, 30)
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # HubSpot date properties are epoch ms at midnight UTC: the same calendar day
        (EPOCH_MAY_1, utc(2026, 5, 1, 13)),
        (str(EPOCH_MAY_1), utc(2026, 5, 1, 13)),
        # an instant is taken on the contact's calendar: 02:00 UTC is the evening before
        (EPOCH_MAY_1 + 2 * 3_600_000, utc(2026, 4, 30, 13)),
        ("2026-05-01T02:00:00Z", utc(2026, 4, 30, 13)),
        ("2026-05-01T02:00:00.000+0000", utc(2026, 4, 30, 13)),
        ("2026-05-01", utc(2026, 5, 1, 13)),
    ],
)
def test_date_values_as_crms_send_them(value: object, expected: datetime) -> None:
    assert fire(DateTrigger("day"), value, tz="America/New_York") == expected


def test_offsets_and_times() -> None:
    trigger = DateTrigger("day", offset=timedelta(days=-3), at=time(18, 15))
    assert fire(trigger, "2026-02-01") == utc(2026, 1, 29, 18, 15)
    half_day = DateTrigger("day", offset=timedelta(hours=12))
    assert fire(half_day, "2026-02-01") == utc(2026, 2, 1, 21)


@pytest.mark.parametrize("value", ["2026-01-01", "2026-01-05", None, "", "soon", True, [1]])
def test_a_past_missing_or_unreadable_date_never_fires(value: object) -> None:
    assert fire(DateTrigger("day"), value) is None


@pytest.mark.parametrize("yearly", [False, True])
def test_dates_at_the_edge_of_the_calendar_never_fire(yearly: bool) -> None:
    late = DateTrigger("day", offset=timedelta(days=30), yearly=yearly)
    assert fire(late, "9999-12-30") is None


def test_an_unknown_timezone_is_utc() -> None:
    assert fire(DateTrigger("day"), "2026-02-01", tz="Nowhere/Special") == utc(2026, 2, 1, 9)


INACTIVE = flow(InactivityTrigger(timedelta(days=90)))


def test_inactivity_counts_from_the_last_activity() -> None:
    active = facts(last_active_at=NOW - timedelta(days=10), created_at=NOW - timedelta(days=500))
    assert next_fire_time(INACTIVE, active, NOW) == NOW + timedelta(days=80)


def test_inactivity_falls_back_to_the_creation_time() -> None:
    new = facts(created_at=NOW - timedelta(days=1))
    assert next_fire_time(INACTIVE, new, NOW) == NOW + timedelta(days=89)
    assert next_fire_time(INACTIVE, facts(), NOW) is None


def test_inactivity_fires_once_per_quiet_spell() -> None:
    quiet = facts(last_active_at=NOW - timedelta(days=100))
    fired = NOW - timedelta(days=10)
    assert next_fire_time(INACTIVE, quiet, fired) is None  # it fired for this spell
    # an earlier `after` catches up a contact already quiet: due in the past means now
    assert next_fire_time(INACTIVE, quiet, NOW - timedelta(days=365)) == fired


def test_other_triggers_are_not_scheduled() -> None:
    assert next_fire_time(flow(ContactCreated()), facts(), NOW) is None

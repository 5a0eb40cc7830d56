"""Quiet hours and the frequency cap: when a marketing send has to wait, and until when."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from connector.engine.facts import SendFact
from connector.engine.flows import QuietHours, SendStep
from connector.engine.run import Policy, Send, Sleep, decide
from tests.unit.connector.engine.factories import NOW, facts, make_flow, state

NY = ZoneInfo("America/New_York")
NIGHT = QuietHours(start=time(21), end=time(8))
SEND = SendStep("news", "newsletter")
CAP = Policy(frequency_cap=(2, timedelta(days=1)))
IN_NY = {"timezone": "America/New_York"}


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY)


@pytest.mark.parametrize(
    ("local_now", "wake_local"),
    [
        (ny(2026, 1, 5, 22, 0), ny(2026, 1, 6, 8, 0)),  # before midnight
        (ny(2026, 1, 6, 1, 0), ny(2026, 1, 6, 8, 0)),  # after midnight: the same morning
        (ny(2026, 1, 6, 21, 0), ny(2026, 1, 7, 8, 0)),  # the window starts at 21:00
        # the night clocks go forward (8 March 2026): 08:00 EDT is 12:00 UTC
        (ny(2026, 3, 8, 1, 30), ny(2026, 3, 8, 8, 0)),
    ],
)
def test_quiet_hours_across_midnight_in_new_york(local_now: datetime, wake_local: datetime) -> None:
    flow = make_flow(SEND, quiet_hours=NIGHT)
    decision = decide(flow, state(), facts(**IN_NY), local_now)
    assert decision == Sleep("news", wake_local.astimezone(UTC), 0, "quiet hours")


@pytest.mark.parametrize("local_now", [ny(2026, 1, 6, 8, 0), ny(2026, 1, 5, 20, 59)])
def test_outside_quiet_hours_the_send_goes(local_now: datetime) -> None:
    flow = make_flow(SEND, quiet_hours=NIGHT)
    assert decide(flow, state(), facts(**IN_NY), local_now) == Send(
        "news", "newsletter", None, None, 1
    )


def test_quiet_hours_within_one_day() -> None:
    lunch = QuietHours(start=time(12), end=time(14))
    flow = make_flow(SEND, quiet_hours=lunch)
    assert decide(flow, state(), facts(), datetime(2026, 1, 5, 13, tzinfo=UTC)) == Sleep(
        "news", datetime(2026, 1, 5, 14, tzinfo=UTC), 0, "quiet hours"
    )
    assert isinstance(decide(flow, state(), facts(), datetime(2026, 1, 5, 14, tzinfo=UTC)), Send)


def test_transactional_flows_ignore_quiet_hours_and_the_cap() -> None:
    flow = make_flow(SEND, quiet_hours=NIGHT, transactional=True)
    busy = facts(**IN_NY, sends=tuple(SendFact(NOW, "x", False) for _ in range(5)))
    assert isinstance(decide(flow, state(), busy, ny(2026, 1, 5, 23, 0), CAP), Send)


def sent(*hours_ago: float, transactional: bool = False) -> tuple[SendFact, ...]:
    return tuple(SendFact(NOW - timedelta(hours=h), "other", transactional) for h in hours_ago)


def test_frequency_cap_sleeps_until_the_oldest_counted_send_leaves_the_window() -> None:
    contact = facts(sends=sent(30, 20, 2) + sent(1, transactional=True))
    decision = decide(make_flow(SEND), state(), contact, NOW, CAP)
    # 30 h ago is outside the day, the receipt does not count: 20 h ago leaves in 4 h
    assert decision == Sleep("news", NOW + timedelta(hours=4), 0, "frequency cap")


def test_frequency_cap_over_the_limit_waits_until_there_is_room_for_one() -> None:
    contact = facts(sends=sent(23, 20, 2))
    decision = decide(make_flow(SEND), state(), contact, NOW, CAP)
    assert decision == Sleep("news", NOW + timedelta(hours=4), 0, "frequency cap")


@pytest.mark.parametrize(
    ("sends", "policy", "flow_cap"),
    [
        (sent(20), CAP, True),  # under the limit
        (sent(24, 25), CAP, True),  # a send exactly one window ago has left it
        (sent(20, 2), Policy(), True),  # no deployment-wide cap
        (sent(20, 2), CAP, False),  # this flow is exempt
    ],
)
def test_frequency_cap_lets_the_send_go(
    sends: tuple[SendFact, ...], policy: Policy, flow_cap: bool
) -> None:
    flow = make_flow(SEND, frequency_cap=flow_cap)
    assert isinstance(decide(flow, state(), facts(sends=sends), NOW, policy), Send)


def test_cap_and_quiet_hours_give_one_wake_up() -> None:
    # The cap lifts at 22:00 in New York, inside the quiet hours: wake at 08:00.
    now = ny(2026, 1, 5, 12, 0)
    contact = facts(
        **IN_NY, sends=tuple(SendFact(ny(2026, 1, 4, 22, h), None, False) for h in (0, 1))
    )
    decision = decide(make_flow(SEND, quiet_hours=NIGHT), state(), contact, now, CAP)
    assert decision == Sleep("news", ny(2026, 1, 6, 8, 0).astimezone(UTC), 0, "frequency cap")


def test_policy_is_validated() -> None:
    with pytest.raises(ValueError, match="limit >= 1"):
        Policy(frequency_cap=(0, timedelta(days=1)))
    with pytest.raises(ValueError, match="positive window"):
        Policy(frequency_cap=(3, timedelta(0)))

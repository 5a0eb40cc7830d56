"""Durations for wait steps: every accepted form and every kind of garbage."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connector.engine.common import (
    DurationError,
    duration_from_parts,
    format_duration,
    parse_duration,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("3d", timedelta(days=3)),
        ("1w", timedelta(weeks=1)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1d 12h", timedelta(days=1, hours=12)),
        ("1w2d3h4m5s", timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
        ("90m", timedelta(minutes=90)),
        (" 2d ", timedelta(days=2)),
        ("0d1h", timedelta(hours=1)),
    ],
)
def test_parse_duration_accepts(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "invalid duration '' (e.g. '30s', '15m', '2h', '3d', '1w' or '1d12h')"),
        ("2", "invalid duration '2' (e.g. '30s', '15m', '2h', '3d', '1w' or '1d12h')"),
        ("2 days", "invalid duration '2 days' (e.g. '30s', '15m', '2h', '3d', '1w' or '1d12h')"),
        ("1.5h", "invalid duration '1.5h' (e.g. '30s', '15m', '2h', '3d', '1w' or '1d12h')"),
        ("2y", "invalid duration '2y' (e.g. '30s', '15m', '2h', '3d', '1w' or '1d12h')"),
        ("-2d", "duration '-2d' is negative; it must be longer than zero"),
        ("0d", "duration '0d' is zero; it must be longer than zero"),
        (
            "0s0m",
            "invalid duration '0s0m': use each unit once, largest first "
            "(e.g. '30s', '15m', '2h', '3d', '1w' or '1d12h')",
        ),
        (
            "1h1d",
            "invalid duration '1h1d': use each unit once, largest first "
            "(e.g. '30s', '15m', '2h', '3d', '1w' or '1d12h')",
        ),
        (
            "1d1d",
            "invalid duration '1d1d': use each unit once, largest first "
            "(e.g. '30s', '15m', '2h', '3d', '1w' or '1d12h')",
        ),
        ("9999999999999999999999w", "duration '9999999999999999999999w' is longer than 3650 days"),
    ],
)
def test_parse_duration_rejects(text: str, message: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(text)
    assert caught.value.message == message


def test_duration_from_parts() -> None:
    assert duration_from_parts({"days": 1, "hours": 2}) == timedelta(days=1, hours=2)
    assert duration_from_parts({"weeks": 1, "minutes": 0, "seconds": 5}) == timedelta(
        weeks=1, seconds=5
    )


@pytest.mark.parametrize(
    ("parts", "message", "key"),
    [
        (
            {},
            "empty duration (e.g. '30s', '15m', '2h', '3d', '1w' or '1d12h', "
            "or {days: 1, hours: 2})",
            None,
        ),
        ({"hourz": 2}, "unknown duration unit 'hourz' (did you mean 'hours'?)", "hourz"),
        (
            {"years": 2},
            "unknown duration unit 'years' (expected one of: weeks, days, hours, minutes, seconds)",
            "years",
        ),
        ({"days": -1}, "'days' is negative; it must be longer than zero", "days"),
        ({"days": 1.5}, "'days' must be a whole number, got 1.5", "days"),
        ({"days": True}, "'days' must be a whole number, got True", "days"),
        (
            {"days": 0, "hours": 0},
            "duration {days: 0, hours: 0} is zero; it must be longer than zero",
            None,
        ),
    ],
)
def test_duration_from_parts_rejects(parts: dict[str, object], message: str, key: str) -> None:
    with pytest.raises(DurationError) as caught:
        duration_from_parts(parts)
    assert (caught.value.message, caught.value.key) == (message, key)


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (timedelta(hours=36), "1d12h"),
        (timedelta(weeks=1), "1w"),
        (timedelta(days=2), "2d"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(0), "0s"),
    ],
)
def test_format_duration_is_canonical(duration: timedelta, text: str) -> None:
    assert format_duration(duration) == text
    if duration:
        assert parse_duration(text) == duration

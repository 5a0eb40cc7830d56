"""Wait durations: "30s", "15m", "2h", "3d", "1w", combinations such as "1d12h", or a
mapping such as {days: 1, hours: 2}.

Parsing is strict so that a typo never turns into a zero or a surprising wait.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from datetime import timedelta

UNIT_SECONDS: dict[str, int] = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
PART_NAMES: dict[str, str] = {
    "weeks": "w",
    "days": "d",
    "hours": "h",
    "minutes": "m",
    "seconds": "s",
}
# No drip waits years; a longer value is a typo (and keeps timedelta far from overflow).
MAX_DURATION = timedelta(days=3650)
EXAMPLES = "e.g. '30s', '15m', '2h', '3d', '1w' or '1d12h'"

_TEXT = re.compile(r"\d+[wdhms](?: ?\d+[wdhms])*")
_PART = re.compile(r"(\d+)([wdhms])")


class DurationError(ValueError):
    """A duration that cannot be used; `key` names the offending mapping key, if any."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.key = key


def parse_duration(text: str) -> timedelta:
    """Parse the compact text form; units go from largest to smallest, each at most once."""
    compact = text.strip()
    if compact.startswith("-"):
        raise DurationError(f"duration '{text}' is negative; it must be longer than zero")
    if not _TEXT.fullmatch(compact):
        raise DurationError(f"invalid duration '{text}' ({EXAMPLES})")
    units = [unit for _, unit in _PART.findall(compact)]
    order = list(UNIT_SECONDS)
    if [order.index(u) for u in units] != sorted({order.index(u) for u in units}):
        raise DurationError(
            f"invalid duration '{text}': use each unit once, largest first ({EXAMPLES})"
        )
    seconds = sum(int(amount) * UNIT_SECONDS[unit] for amount, unit in _PART.findall(compact))
    return _checked(seconds, repr(text))


def duration_from_parts(parts: Mapping[str, object]) -> timedelta:
    """Build a duration from a mapping such as {days: 1, hours: 2}."""
    if not parts:
        raise DurationError(f"empty duration ({EXAMPLES}, or {{days: 1, hours: 2}})")
    seconds = 0
    for name, amount in parts.items():
        if name not in PART_NAMES:
            raise DurationError(
                f"unknown duration unit '{name}'{did_you_mean(name, PART_NAMES)}", key=name
            )
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise DurationError(f"'{name}' must be a whole number, got {amount!r}", key=name)
        if amount < 0:
            raise DurationError(f"'{name}' is negative; it must be longer than zero", key=name)
        seconds += amount * UNIT_SECONDS[PART_NAMES[name]]
    return _checked(seconds, "{" + ", ".join(f"{k}: {v}" for k, v in parts.items()) + "}")


def format_duration(duration: timedelta) -> str:
    """Canonical compact text for a duration, e.g. timedelta(hours=36) -> "1d12h"."""
    remaining = int(duration.total_seconds())
    if remaining <= 0:
        return "0s"
    parts = []
    for unit, size in UNIT_SECONDS.items():
        amount, remaining = divmod(remaining, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A hint for a misspelt word: the closest choice, else the whole list."""
    options = list(choices)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f" (expected one of: {', '.join(options)})"


def _checked(seconds: int, shown: str) -> timedelta:
    if seconds <= 0:
        raise DurationError(f"duration {shown} is zero; it must be longer than zero")
    if seconds > MAX_DURATION.total_seconds():
        raise DurationError(f"duration {shown} is longer than {MAX_DURATION.days} days")
    return timedelta(seconds=seconds)

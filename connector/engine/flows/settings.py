"""Per-flow settings: re-entry, status, quiet hours, the frequency cap, goals and exit
criteria, as read from a flow file's `settings:` section."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time, timedelta
from typing import Any, Literal, TypeAlias, get_args

from connector.engine.common import format_time, parse_time
from connector.engine.flows.steps import SECOND
from connector.engine.rules import Rule, rule_from_dict, rule_to_dict

Status: TypeAlias = Literal["active", "paused", "archived"]
STATUSES: tuple[str, ...] = get_args(Status)
REENTRY_MODES: tuple[str, ...] = ("once", "always")


@dataclass(frozen=True)
class Cooldown:
    """Re-entry allowed once `period` has passed since the contact last entered."""

    period: timedelta

    def __post_init__(self) -> None:
        if self.period <= timedelta(0):
            raise ValueError("a re-entry cooldown must be positive")


Reentry: TypeAlias = Literal["once", "always"] | Cooldown


@dataclass(frozen=True)
class QuietHours:
    """No marketing sends from `start` to `end` in the contact's timezone (may span
    midnight)."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError("quiet hours need different start and end times")


@dataclass(frozen=True)
class Goal:
    """A named rule; once met (since entering) the enrollment exits with `goal:<name>`."""

    name: str
    when: Rule


@dataclass(frozen=True)
class FlowSettings:
    """Per-flow behaviour switches; all optional in YAML."""

    transactional: bool = False  # exempt from quiet hours and the frequency cap
    exit_on_unsubscribe: bool = True
    reentry: Reentry = "once"
    status: Status = "active"  # the YAML default; operators override it at run time
    quiet_hours: QuietHours | None = None
    frequency_cap: bool = True  # False exempts this marketing flow from the cap
    goals: tuple[Goal, ...] = ()
    exit_when: tuple[Rule, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "goals", tuple(self.goals))
        object.__setattr__(self, "exit_when", tuple(self.exit_when))
        if not isinstance(self.reentry, Cooldown) and self.reentry not in REENTRY_MODES:
            raise ValueError("reentry must be once, always or a Cooldown")
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        names = [goal.name for goal in self.goals]
        if len(set(names)) != len(names):
            raise ValueError(f"goal names repeat: {', '.join(names)}")

    def to_dict(self) -> dict[str, Any]:
        reentry: Any = self.reentry
        if isinstance(reentry, Cooldown):
            reentry = {"cooldown_seconds": reentry.period // SECOND}
        data: dict[str, Any] = {
            "transactional": self.transactional,
            "exit_on_unsubscribe": self.exit_on_unsubscribe,
            "reentry": reentry,
        }
        if self.status != "active":
            data["status"] = self.status
        if self.quiet_hours is not None:
            start, end = self.quiet_hours.start, self.quiet_hours.end
            data["quiet_hours"] = {"start": format_time(start), "end": format_time(end)}
        if not self.frequency_cap:
            data["frequency_cap"] = False
        if self.goals:
            data["goals"] = [{"name": g.name, "when": rule_to_dict(g.when)} for g in self.goals]
        if self.exit_when:
            data["exit_when"] = [rule_to_dict(rule) for rule in self.exit_when]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FlowSettings:
        reentry = data.get("reentry", "once")
        if isinstance(reentry, Mapping):
            reentry = Cooldown(timedelta(seconds=reentry["cooldown_seconds"]))
        quiet = data.get("quiet_hours")
        return cls(
            transactional=data.get("transactional", False),
            exit_on_unsubscribe=data.get("exit_on_unsubscribe", True),
            reentry=reentry,
            status=data.get("status", "active"),
            quiet_hours=None
            if quiet is None
            else QuietHours(parse_time(quiet["start"]), parse_time(quiet["end"])),
            frequency_cap=data.get("frequency_cap", True),
            goals=tuple(Goal(g["name"], rule_from_dict(g["when"])) for g in data.get("goals", ())),
            exit_when=tuple(rule_from_dict(rule) for rule in data.get("exit_when", ())),
        )

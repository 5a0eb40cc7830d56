"""Flow definitions: immutable values parsed from YAML and stored per version.

Triggers and steps are tagged unions: each kind is a frozen dataclass with a `kind` tag,
registered in TRIGGER_KINDS / STEP_KINDS (defined in trigger_defs, step_defs, wait_defs
and route_defs). Serialization, loading and execution dispatch on the kind, so a new kind is
a new class plus a registration, never a new branch elsewhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from typing import Any, Literal, TypeAlias, get_args

from connector.engine.frozen import FrozenMap, canonical_json
from connector.engine.route_defs import (
    BranchCase,
    BranchStep,
    HoldoutStep,
    SplitStep,
    SplitVariant,
)
from connector.engine.rules import Rule, rule_from_dict, rule_to_dict
from connector.engine.schedule import format_time, parse_time
from connector.engine.step_defs import (
    SECOND,
    CreateTaskStep,
    ExitStep,
    GotoStep,
    SendStep,
    UpdatePropertyStep,
    WebhookStep,
)
from connector.engine.trigger_defs import (
    ANY,
    TRIGGER_KINDS,
    ContactCreated,
    DateTrigger,
    EngagementTrigger,
    EventTrigger,
    InactivityTrigger,
    PropertyChanged,
    SegmentEntered,
    SegmentLeft,
    Trigger,
)
from connector.engine.wait_defs import (
    WEEKDAYS,
    WaitForStep,
    WaitStep,
    WaitUntilDateStep,
    WaitUntilStep,
)

# Of flow_to_dict(). 2 added optional keys only, so format 1 is still read; keys at their
# default are left out, which keeps the version of a flow that does not use them.
FORMAT = 2
READABLE_FORMATS = (1, 2)

Status: TypeAlias = Literal["active", "paused", "archived"]
STATUSES: tuple[str, ...] = get_args(Status)
REENTRY_MODES: tuple[str, ...] = ("once", "always")

Step: TypeAlias = (
    SendStep
    | WaitStep
    | WaitUntilStep
    | WaitUntilDateStep
    | WaitForStep
    | BranchStep
    | SplitStep
    | HoldoutStep
    | UpdatePropertyStep
    | CreateTaskStep
    | WebhookStep
    | GotoStep
    | ExitStep
)
STEP_KINDS: dict[str, type[Step]] = {
    k.kind: k
    for k in (
        SendStep,
        WaitStep,
        WaitUntilStep,
        WaitUntilDateStep,
        WaitForStep,
        BranchStep,
        SplitStep,
        HoldoutStep,
        UpdatePropertyStep,
        CreateTaskStep,
        WebhookStep,
        GotoStep,
        ExitStep,
    )
}


# -- settings ---------------------------------------------------------------------------


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


# -- flows ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flow:
    """One version of a flow. `source` and `lines` (where each part was written: "trigger",
    "step:<id>", "goal:<name>", "exit_when:<n>") are for messages only: they are not
    compared and not part of the version."""

    key: str
    name: str
    version: str
    trigger: Trigger
    steps: tuple[Step, ...]
    settings: FlowSettings
    source: str
    description: str = ""
    lines: Mapping[str, int] = field(default_factory=FrozenMap, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        object.__setattr__(self, "lines", FrozenMap(self.lines))
        if not self.steps:
            raise ValueError(f"flow {self.key!r} has no steps")
        ids = [step.id for step in self.steps]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"flow {self.key!r} repeats step ids: {', '.join(duplicates)}")
        known = set(ids)
        for step in self.steps:
            for target in step.jumps():
                if target not in known:
                    raise ValueError(f"step {step.id!r} goes to unknown step {target!r}")

    def __hash__(self) -> int:  # the version stands for the definition
        return hash((self.key, self.version))

    @classmethod
    def create(
        cls,
        *,
        key: str,
        name: str,
        trigger: Trigger,
        steps: Iterable[Step],
        settings: FlowSettings | None = None,
        source: str = "<memory>",
        description: str = "",
        lines: Mapping[str, int] | None = None,
    ) -> Flow:
        """Build a flow whose version is derived from its definition."""
        steps = tuple(steps)
        settings = settings or FlowSettings()
        definition = _definition(key, name, description, trigger, steps, settings)
        version = hashlib.sha256(canonical_json(definition).encode()).hexdigest()[:16]
        return cls(key, name, version, trigger, steps, settings, source, description, lines or {})

    def step_index(self, step_id: str) -> int:
        """Position of a step (the cursor that runs it); KeyError if this version lacks it."""
        for index, step in enumerate(self.steps):
            if step.id == step_id:
                return index
        raise KeyError(f"flow {self.key!r} version {self.version} has no step {step_id!r}")


def flow_to_dict(flow: Flow) -> dict[str, Any]:
    """A JSON-serialisable form, stored per version; flow_from_dict() reverses it."""
    definition = _definition(
        flow.key, flow.name, flow.description, flow.trigger, flow.steps, flow.settings
    )
    stored = {"format": FORMAT, "version": flow.version, "source": flow.source, **definition}
    return stored | {"lines": dict(flow.lines)}


def flow_from_dict(data: Mapping[str, Any]) -> Flow:
    """Rebuild a flow stored by flow_to_dict() (format 1 or 2); the version is kept as is."""
    if data.get("format") not in READABLE_FORMATS:
        raise ValueError(f"unsupported stored flow format {data.get('format')!r}")
    try:
        trigger = TRIGGER_KINDS[data["trigger"]["type"]].from_dict(data["trigger"])
        steps = tuple(STEP_KINDS[s["kind"]].from_dict(s) for s in data["steps"])
        return Flow(
            key=data["key"],
            name=data["name"],
            version=data["version"],
            trigger=trigger,
            steps=steps,
            settings=FlowSettings.from_dict(data["settings"]),
            source=data["source"],
            description=data.get("description", ""),
            lines=data.get("lines") or {},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed stored flow: {exc!r}") from exc


def _definition(
    key: str,
    name: str,
    description: str,
    trigger: Trigger,
    steps: tuple[Step, ...],
    settings: FlowSettings,
) -> dict[str, Any]:
    # Everything that defines behaviour or is shown to people; not the file path nor the
    # lines, so a moved or reformatted file keeps its version.
    return {
        "key": key,
        "name": name,
        "description": description,
        "trigger": trigger.to_dict(),
        "settings": settings.to_dict(),
        "steps": [step.to_dict() for step in steps],
    }


__all__ = [
    "ANY",
    "FORMAT",
    "REENTRY_MODES",
    "STATUSES",
    "STEP_KINDS",
    "TRIGGER_KINDS",
    "WEEKDAYS",
    "BranchCase",
    "BranchStep",
    "ContactCreated",
    "Cooldown",
    "CreateTaskStep",
    "DateTrigger",
    "EngagementTrigger",
    "EventTrigger",
    "ExitStep",
    "Flow",
    "FlowSettings",
    "Goal",
    "GotoStep",
    "HoldoutStep",
    "InactivityTrigger",
    "PropertyChanged",
    "QuietHours",
    "Reentry",
    "SegmentEntered",
    "SegmentLeft",
    "SendStep",
    "SplitStep",
    "SplitVariant",
    "Status",
    "Step",
    "Trigger",
    "UpdatePropertyStep",
    "WaitForStep",
    "WaitStep",
    "WaitUntilDateStep",
    "WaitUntilStep",
    "WebhookStep",
    "flow_from_dict",
    "flow_to_dict",
]

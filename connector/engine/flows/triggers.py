"""Trigger kinds: what starts a flow for a contact.

Each kind is a frozen dataclass with a `kind` tag and to_dict()/from_dict(), registered in
TRIGGER_KINDS. Every trigger may carry a `condition` (YAML `if:`), a rule checked at entry.
Optional keys are written only when set, so the stored form (and the version hash) of a
flow that does not use them stays what it was before they existed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from typing import Any, ClassVar, Literal, TypeAlias

from connector.engine.common import DEFAULT_AT, FrozenMap, format_time, parse_time, thaw
from connector.engine.rules import Rule, rule_from_dict, rule_to_dict

EngagementAction: TypeAlias = Literal["clicked", "opened"]


class _AnyValue:
    """`from`/`to` left out of a property.changed trigger: any value matches."""

    def __repr__(self) -> str:
        return "ANY"


ANY: Any = _AnyValue()


def _out(trigger: Any, data: dict[str, Any]) -> dict[str, Any]:
    if trigger.condition is not None:
        data["if"] = rule_to_dict(trigger.condition)
    return data


def _condition(data: Mapping[str, Any]) -> Rule | None:
    return None if data.get("if") is None else rule_from_dict(data["if"])


@dataclass(frozen=True)
class ContactCreated:
    """Enrol a contact when it first appears in the CRM."""

    condition: Rule | None = None
    kind: ClassVar[str] = "contact.created"

    def to_dict(self) -> dict[str, Any]:
        return _out(self, {"type": self.kind})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ContactCreated:
        return cls(condition=_condition(data))


@dataclass(frozen=True)
class PropertyChanged:
    """Enrol when a CRM property changes, optionally from and/or to given values."""

    property: str
    from_value: Any = ANY
    to_value: Any = ANY
    condition: Rule | None = None
    kind: ClassVar[str] = "property.changed"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.kind, "property": self.property}
        if self.from_value is not ANY:
            data["from"] = self.from_value
        if self.to_value is not ANY:
            data["to"] = self.to_value
        return _out(self, data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PropertyChanged:
        return cls(
            property=data["property"],
            from_value=data.get("from", ANY),
            to_value=data.get("to", ANY),
            condition=_condition(data),
        )


@dataclass(frozen=True)
class SegmentEntered:
    """Enrol when the contact enters a segment."""

    segment: str
    condition: Rule | None = None
    kind: ClassVar[str] = "segment.entered"

    def to_dict(self) -> dict[str, Any]:
        return _out(self, {"type": self.kind, "segment": self.segment})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SegmentEntered:
        return cls(segment=data["segment"], condition=_condition(data))


@dataclass(frozen=True)
class SegmentLeft:
    """Enrol when the contact leaves a segment."""

    segment: str
    condition: Rule | None = None
    kind: ClassVar[str] = "segment.left"

    def to_dict(self) -> dict[str, Any]:
        return _out(self, {"type": self.kind, "segment": self.segment})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SegmentLeft:
        return cls(segment=data["segment"], condition=_condition(data))


@dataclass(frozen=True)
class EventTrigger:
    """Enrol on a behaviour event; `where` holds exact-match filters (keys may be dotted);
    `dedup` names an event property whose value enrols a contact once."""

    event: str
    where: Mapping[str, Any] = field(default_factory=FrozenMap)
    dedup: str | None = None
    condition: Rule | None = None
    kind: ClassVar[str] = "event"

    def __post_init__(self) -> None:
        object.__setattr__(self, "where", FrozenMap(self.where))

    def to_dict(self) -> dict[str, Any]:
        data = {"type": self.kind, "event": self.event, "where": thaw(self.where)}
        if self.dedup is not None:
            data["dedup"] = self.dedup
        return _out(self, data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EventTrigger:
        return cls(
            event=data["event"],
            where=data.get("where") or {},
            dedup=data.get("dedup"),
            condition=_condition(data),
        )


@dataclass(frozen=True)
class DateTrigger:
    """Enrol on a date property (+ offset) at `at` in the contact's timezone; scheduled by
    the services through next_fire_time(), never matched against signals."""

    property: str
    offset: timedelta = timedelta(0)
    yearly: bool = False
    at: time = DEFAULT_AT
    condition: Rule | None = None
    kind: ClassVar[str] = "date"

    def to_dict(self) -> dict[str, Any]:
        return _out(
            self,
            {
                "type": self.kind,
                "property": self.property,
                "offset_seconds": self.offset // timedelta(seconds=1),
                "yearly": self.yearly,
                "at": format_time(self.at),
            },
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DateTrigger:
        return cls(
            property=data["property"],
            offset=timedelta(seconds=data["offset_seconds"]),
            yearly=data["yearly"],
            at=parse_time(data["at"]),
            condition=_condition(data),
        )


@dataclass(frozen=True)
class InactivityTrigger:
    """Enrol a contact with no open, click or behaviour event for `period`; scheduled."""

    period: timedelta
    condition: Rule | None = None
    kind: ClassVar[str] = "inactivity"

    def to_dict(self) -> dict[str, Any]:
        return _out(self, {"type": self.kind, "seconds": self.period // timedelta(seconds=1)})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InactivityTrigger:
        return cls(period=timedelta(seconds=data["seconds"]), condition=_condition(data))


@dataclass(frozen=True)
class EngagementTrigger:
    """Enrol when the contact opens or clicks one of our emails; every filter is optional
    and `link` (a glob, `*` = anything) applies to clicks only."""

    action: EngagementAction
    template: str | None = None
    flow: str | None = None
    step: str | None = None
    campaign: str | None = None
    link: str | None = None
    condition: Rule | None = None
    kind: ClassVar[str] = "engagement"

    def __post_init__(self) -> None:
        if self.action not in ("clicked", "opened"):
            raise ValueError(f"engagement action must be clicked or opened, not {self.action!r}")
        if self.link is not None and self.action != "clicked":
            raise ValueError("an engagement link filter needs action 'clicked'")

    def to_dict(self) -> dict[str, Any]:
        filters = ("template", "flow", "step", "campaign", "link")
        data = {"type": self.kind, "action": self.action}
        data |= {name: getattr(self, name) for name in filters if getattr(self, name) is not None}
        return _out(self, data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EngagementTrigger:
        return cls(
            action=data["action"],
            template=data.get("template"),
            flow=data.get("flow"),
            step=data.get("step"),
            campaign=data.get("campaign"),
            link=data.get("link"),
            condition=_condition(data),
        )


Trigger: TypeAlias = (
    ContactCreated
    | PropertyChanged
    | SegmentEntered
    | SegmentLeft
    | EventTrigger
    | DateTrigger
    | InactivityTrigger
    | EngagementTrigger
)
TRIGGER_KINDS: dict[str, type[Trigger]] = {
    k.kind: k
    for k in (
        ContactCreated,
        PropertyChanged,
        SegmentEntered,
        SegmentLeft,
        EventTrigger,
        DateTrigger,
        InactivityTrigger,
        EngagementTrigger,
    )
}
SCHEDULED_TRIGGERS: tuple[type[Trigger], ...] = (DateTrigger, InactivityTrigger)

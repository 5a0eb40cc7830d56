"""Trigger matching: which flows does a contact signal start?

Pure: a Signal (built by the events worker from a CRM webhook or a behaviour event) is
matched against each flow's trigger by a per-kind matcher registered on the trigger class.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import singledispatch
from types import MappingProxyType
from typing import Any, Literal

from connector.engine.definitions import ContactCreated, EventTrigger, Flow, Trigger

_MISSING = object()


@dataclass(frozen=True)
class Signal:
    """Something that happened to a contact: it was created, or it did `name`."""

    kind: Literal["contact.created", "event"]
    name: str | None = None
    properties: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if self.kind == "event" and not self.name:
            raise ValueError("an event signal needs a name")


def flows_triggered(flows: Iterable[Flow], signal: Signal) -> list[Flow]:
    """The flows whose trigger matches `signal`, sorted by key (a stable enrolment order)."""
    return sorted(
        (flow for flow in flows if trigger_matches(flow.trigger, signal)),
        key=lambda flow: flow.key,
    )


@singledispatch
def trigger_matches(trigger: Trigger, signal: Signal) -> bool:
    """Whether `trigger` fires for `signal`; one registered matcher per trigger kind."""
    raise TypeError(f"no matcher for trigger kind {type(trigger).__name__}")


@trigger_matches.register
def _contact_created(trigger: ContactCreated, signal: Signal) -> bool:
    return signal.kind == "contact.created"


@trigger_matches.register
def _event(trigger: EventTrigger, signal: Signal) -> bool:
    if signal.kind != "event" or signal.name != trigger.event:
        return False
    properties = signal.properties
    return all(_same(value, _lookup(properties, path)) for path, value in trigger.where.items())


def _lookup(properties: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path ("customer.tier"), or _MISSING.

    A literal key containing dots wins over the nested path, since some sources flatten
    their properties that way.
    """
    if path in properties:
        return properties[path]
    current: Any = properties
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return _MISSING
        current = current[part]
    return current


def _same(expected: Any, actual: Any) -> bool:
    # Exact match, type included: True must not match 1, nor "1" match 1. Numbers compare
    # by value (2 matches 2.0). A missing property matches nothing, not even null.
    if actual is _MISSING:
        return False
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return bool(expected == actual)
    return type(expected) is type(actual) and bool(expected == actual)

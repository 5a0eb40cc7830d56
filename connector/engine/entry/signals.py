"""Signals: something that happened to a contact (an event, a property change, a segment
entered or left, an engagement), the input of trigger matching."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from connector.engine.common import FrozenMap

SignalKind: TypeAlias = Literal[
    "contact.created", "event", "property.changed", "segment.entered", "segment.left", "engagement"
]
NAMED_KINDS = ("event", "property.changed", "segment.entered", "segment.left")


@dataclass(frozen=True)
class Signal:
    """Something that happened to a contact.

    event: name = event name, properties = event properties. property.changed: name =
    property, properties = {"from": old, "to": new}. segment.entered / .left: name =
    segment key. engagement: properties = {"action": "open"|"click", "template", "flow",
    "step", "campaign", "url"}.
    """

    kind: SignalKind
    name: str | None = None
    properties: Mapping[str, Any] = field(default_factory=FrozenMap)

    def __post_init__(self) -> None:
        object.__setattr__(self, "properties", FrozenMap(self.properties))
        if self.kind in NAMED_KINDS and not self.name:
            noun = "an event" if self.kind == "event" else f"a {self.kind}"
            raise ValueError(f"{noun} signal needs a name")
        if self.kind == "engagement" and self.properties.get("action") not in ("open", "click"):
            raise ValueError("an engagement signal needs action 'open' or 'click'")

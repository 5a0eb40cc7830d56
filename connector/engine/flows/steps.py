"""Step kinds: sends, actions on the CRM, goto and exit (waits and routing have their own
modules, waits.py and routes.py; flow.py registers them all in STEP_KINDS).

Each kind is a frozen dataclass with a `kind` tag and to_dict()/from_dict(). `jumps()` names
the steps it may go to and `falls_through()` whether it may go on to the next one:
validation, lint and reachability read the step graph from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar

from connector.engine.common import FrozenMap, thaw

SECOND = timedelta(seconds=1)


class StepBase:
    """Graph defaults: no jumps, goes on to the next step, takes no time."""

    waits: ClassVar[bool] = False

    def jumps(self) -> tuple[str, ...]:
        return ()

    def falls_through(self) -> bool:
        return True


@dataclass(frozen=True)
class SendStep(StepBase):
    """Send the named template, optionally overriding its subject and sender."""

    id: str
    template: str
    subject: str | None = None
    sender: str | None = None
    kind: ClassVar[str] = "send"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "id": self.id, "template": self.template}
        data["subject"] = self.subject
        if self.sender is not None:
            data["sender"] = self.sender
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SendStep:
        return cls(data["id"], data["template"], data.get("subject"), data.get("sender"))


@dataclass(frozen=True)
class UpdatePropertyStep(StepBase):
    """Write one CRM property of the contact (through the write-back outbox)."""

    id: str
    property: str
    value: str | int | float | bool | None
    kind: ClassVar[str] = "update_property"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "property": self.property, "value": self.value}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UpdatePropertyStep:
        return cls(id=data["id"], property=data["property"], value=data["value"])


@dataclass(frozen=True)
class CreateTaskStep(StepBase):
    """Create a CRM task for the contact's owner."""

    id: str
    subject: str
    body: str | None = None
    due_in: timedelta | None = None
    kind: ClassVar[str] = "create_task"

    def to_dict(self) -> dict[str, Any]:
        due = None if self.due_in is None else self.due_in // SECOND
        return {
            "kind": self.kind,
            "id": self.id,
            "subject": self.subject,
            "body": self.body,
            "due_in_seconds": due,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CreateTaskStep:
        seconds = data["due_in_seconds"]
        due_in = None if seconds is None else timedelta(seconds=seconds)
        return cls(id=data["id"], subject=data["subject"], body=data["body"], due_in=due_in)


@dataclass(frozen=True)
class WebhookStep(StepBase):
    """POST a JSON body to an https URL (signed by the services)."""

    id: str
    url: str
    body: Mapping[str, Any] = field(default_factory=FrozenMap)
    kind: ClassVar[str] = "webhook"

    def __post_init__(self) -> None:
        object.__setattr__(self, "body", FrozenMap(self.body))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "url": self.url, "body": thaw(self.body)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WebhookStep:
        return cls(id=data["id"], url=data["url"], body=data["body"])


@dataclass(frozen=True)
class GotoStep(StepBase):
    """Continue at another step."""

    id: str
    target: str
    kind: ClassVar[str] = "goto"

    def jumps(self) -> tuple[str, ...]:
        return (self.target,)

    def falls_through(self) -> bool:
        return False

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "target": self.target}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GotoStep:
        return cls(id=data["id"], target=data["target"])


@dataclass(frozen=True)
class ExitStep(StepBase):
    """Leave the flow here (counted as an exit, not a completion)."""

    id: str
    reason: str | None = None
    kind: ClassVar[str] = "exit"

    def falls_through(self) -> bool:
        return False

    def to_dict(self) -> dict[str, Any]:
        data = {"kind": self.kind, "id": self.id}
        if self.reason is not None:
            data["reason"] = self.reason
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExitStep:
        return cls(id=data["id"], reason=data.get("reason"))

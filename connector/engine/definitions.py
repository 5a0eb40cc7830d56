"""Flow definitions: immutable values parsed from YAML and stored per version.

Triggers and steps are tagged unions: each kind is a frozen dataclass with a `kind` tag,
registered in TRIGGER_KINDS / STEP_KINDS. Serialization, loading and execution dispatch on
the kind, so a new kind is a new class plus a registration, never a new branch elsewhere.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Any, ClassVar, Literal, TypeAlias, get_args

FORMAT = 1  # of flow_to_dict(); bump when the stored shape changes

Reentry: TypeAlias = Literal["once", "always"]
REENTRY_MODES: tuple[str, ...] = get_args(Reentry)


# -- triggers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ContactCreated:
    """Enrol a contact when it first appears in the CRM."""

    kind: ClassVar[str] = "contact.created"

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ContactCreated:
        return cls()


@dataclass(frozen=True)
class EventTrigger:
    """Enrol on a behaviour event; `where` holds exact-match filters (keys may be dotted)."""

    event: str
    where: Mapping[str, Any] = field(default_factory=dict)
    kind: ClassVar[str] = "event"

    def __post_init__(self) -> None:
        object.__setattr__(self, "where", MappingProxyType(dict(self.where)))

    def __hash__(self) -> int:  # the read-only mapping itself is not hashable
        return hash((self.event, _canonical_json(dict(self.where))))

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "event": self.event, "where": dict(self.where)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EventTrigger:
        return cls(event=data["event"], where=data.get("where") or {})


Trigger: TypeAlias = ContactCreated | EventTrigger
TRIGGER_KINDS: dict[str, type[Trigger]] = {k.kind: k for k in (ContactCreated, EventTrigger)}


# -- steps ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendStep:
    """Send the named template, optionally overriding its subject."""

    id: str
    template: str
    subject: str | None = None
    kind: ClassVar[str] = "send"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "template": self.template,
            "subject": self.subject,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SendStep:
        return cls(id=data["id"], template=data["template"], subject=data.get("subject"))


@dataclass(frozen=True)
class WaitStep:
    """Pause the enrollment for a fixed, positive, whole-second duration."""

    id: str
    duration: timedelta
    kind: ClassVar[str] = "wait"

    def __post_init__(self) -> None:
        if self.duration <= timedelta(0) or self.duration % timedelta(seconds=1):
            raise ValueError(f"step {self.id!r}: a wait must be a positive number of seconds")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "seconds": self.duration // timedelta(seconds=1)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WaitStep:
        return cls(id=data["id"], duration=timedelta(seconds=data["seconds"]))


@dataclass(frozen=True)
class ExitStep:
    """Leave the flow here (counted as an exit, not a completion)."""

    id: str
    kind: ClassVar[str] = "exit"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExitStep:
        return cls(id=data["id"])


Step: TypeAlias = SendStep | WaitStep | ExitStep
STEP_KINDS: dict[str, type[Step]] = {k.kind: k for k in (SendStep, WaitStep, ExitStep)}


# -- flows ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlowSettings:
    """Per-flow behaviour switches; all optional in YAML."""

    transactional: bool = False  # later: exempt from frequency caps
    exit_on_unsubscribe: bool = True
    reentry: Reentry = "once"

    def __post_init__(self) -> None:
        if self.reentry not in REENTRY_MODES:
            raise ValueError(f"reentry must be one of {', '.join(REENTRY_MODES)}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "transactional": self.transactional,
            "exit_on_unsubscribe": self.exit_on_unsubscribe,
            "reentry": self.reentry,
        }


@dataclass(frozen=True)
class Flow:
    """One version of a flow. `source` is where it came from, for messages only."""

    key: str
    name: str
    version: str
    trigger: Trigger
    steps: tuple[Step, ...]
    settings: FlowSettings
    source: str
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        if not self.steps:
            raise ValueError(f"flow {self.key!r} has no steps")
        ids = [step.id for step in self.steps]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"flow {self.key!r} repeats step ids: {', '.join(duplicates)}")

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
    ) -> Flow:
        """Build a flow whose version is derived from its definition."""
        steps = tuple(steps)
        settings = settings or FlowSettings()
        definition = _definition(key, name, description, trigger, steps, settings)
        version = hashlib.sha256(_canonical_json(definition).encode()).hexdigest()[:16]
        return cls(key, name, version, trigger, steps, settings, source, description)

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
    return {"format": FORMAT, "version": flow.version, "source": flow.source, **definition}


def flow_from_dict(data: Mapping[str, Any]) -> Flow:
    """Rebuild a flow stored by flow_to_dict(); the stored version is kept as is."""
    if data.get("format") != FORMAT:
        raise ValueError(f"unsupported stored flow format {data.get('format')!r}")
    try:
        trigger = TRIGGER_KINDS[data["trigger"]["type"]].from_dict(data["trigger"])
        steps = tuple(STEP_KINDS[s["kind"]].from_dict(s) for s in data["steps"])
        settings = FlowSettings(**data["settings"])
        return Flow(
            key=data["key"],
            name=data["name"],
            version=data["version"],
            trigger=trigger,
            steps=steps,
            settings=settings,
            source=data["source"],
            description=data.get("description", ""),
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"malformed stored flow: {exc!r}") from exc


def _definition(
    key: str,
    name: str,
    description: str,
    trigger: Trigger,
    steps: tuple[Step, ...],
    settings: FlowSettings,
) -> dict[str, Any]:
    # Everything that defines behaviour or is shown to people; not the file path, so a
    # moved file keeps its version.
    return {
        "key": key,
        "name": name,
        "description": description,
        "trigger": trigger.to_dict(),
        "settings": settings.to_dict(),
        "steps": [step.to_dict() for step in steps],
    }


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

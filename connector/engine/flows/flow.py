"""A flow: one immutable version of a flow definition (trigger, steps, settings), its
version hash, and the stored JSON form kept per version.

Triggers and steps are tagged unions: each kind is a frozen dataclass with a `kind` tag,
registered in TRIGGER_KINDS (triggers.py) and STEP_KINDS (here, over steps.py, waits.py
and routes.py). Serialization, loading and execution dispatch on the kind, so a new kind is
a new class plus a registration, never a new branch elsewhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from connector.engine.common import FrozenMap, canonical_json
from connector.engine.flows.routes import BranchStep, HoldoutStep, SplitStep
from connector.engine.flows.settings import FlowSettings
from connector.engine.flows.steps import (
    CreateTaskStep,
    ExitStep,
    GotoStep,
    SendStep,
    UpdatePropertyStep,
    WebhookStep,
)
from connector.engine.flows.triggers import TRIGGER_KINDS, Trigger
from connector.engine.flows.waits import WaitForStep, WaitStep, WaitUntilDateStep, WaitUntilStep

# Of flow_to_dict(). 2 added optional keys only, so format 1 is still read; keys at their
# default are left out, which keeps the version of a flow that does not use them.
FORMAT = 2
READABLE_FORMATS = (1, 2)

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

"""Flow definitions: versions, the stored dict form, and the invariants of a Flow."""

from __future__ import annotations

import hashlib
import json
from datetime import time, timedelta
from pathlib import Path

import pytest

from connector.engine.flows import (
    ContactCreated,
    EventTrigger,
    ExitStep,
    Flow,
    FlowSettings,
    Goal,
    GotoStep,
    HoldoutStep,
    QuietHours,
    SendStep,
    SplitStep,
    SplitVariant,
    WaitForStep,
    WaitStep,
    WaitUntilDateStep,
    WaitUntilStep,
    flow_from_dict,
    flow_to_dict,
)
from connector.engine.loader import parse_flow
from tests.unit.connector.engine.factories import rule

BASE = """\
name: Welcome series
trigger:
  type: contact.created
steps:
  - id: hello
    send: welcome
  - wait: 2d
  - send: getting-started
"""


def version_of(text: str, source: str = "flows/welcome.yaml") -> str:
    return parse_flow(text, source).version


def test_version_hashes_the_canonical_definition() -> None:
    flow = parse_flow(BASE, "flows/welcome.yaml")
    stored = flow_to_dict(flow)
    stored_only = ("format", "version", "source", "lines")
    definition = {k: v for k, v in stored.items() if k not in stored_only}
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert flow.version == hashlib.sha256(canonical.encode()).hexdigest()[:16]
    # If this changes, every stored flow gets a new version on the next deploy: only on
    # purpose, together with definitions.FORMAT.
    assert flow.version == "9060d4a8fee28202"


def test_layout_comments_and_spelling_do_not_change_the_version() -> None:
    rewritten = """\
# The welcome series, reformatted.
name: "Welcome series"   # same name, quoted
trigger: {type: contact.created}

steps: [{send: welcome, id: hello}, {wait: 48h}, {send: getting-started}]
"""
    as_mapping = BASE.replace("wait: 2d", "wait: {days: 1, hours: 24}")
    with_defaults = BASE.replace("steps:", "settings: {reentry: once}\nsteps:")
    assert version_of(rewritten) == version_of(BASE)
    assert version_of(as_mapping) == version_of(BASE)
    assert version_of(with_defaults) == version_of(BASE)
    assert version_of(BASE, "elsewhere/welcome.yml") == version_of(BASE)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("send: getting-started", "send: getting-started-v2"),
        ("wait: 2d", "wait: 3d"),
        ("id: hello", "id: hi"),
        ("    send: welcome", "    send: welcome\n    subject: Hi"),
        ("name: Welcome series", "name: Welcome"),
        ("type: contact.created", "type: event\n  event: signup"),
        ("steps:", "settings: {exit_on_unsubscribe: false}\nsteps:"),
        ("steps:", "id: welcome-2\nsteps:"),
    ],
)
def test_a_changed_definition_changes_the_version(old: str, new: str) -> None:
    changed = BASE.replace(old, new)
    assert changed != BASE
    assert version_of(changed) != version_of(BASE)


def test_steps_swapped_change_the_version() -> None:
    swapped = BASE.replace("  - wait: 2d\n  - send: getting-started\n", "") + (
        "  - send: getting-started\n  - wait: 2d\n"
    )
    assert version_of(swapped) != version_of(BASE)


FULL = """\
id: vip
name: VIP orders
description: Big orders only.
trigger:
  type: event
  event: order.completed
  where: {currency: EUR, customer.tier: gold, total: 250.5, gift: false, note: null}
settings: {transactional: true, exit_on_unsubscribe: false, reentry: always}
steps:
  - send: order-thanks
    subject: Thanks!
  - wait: 1d12h30m15s
  - send: order-survey
  - exit: {}
"""


@pytest.mark.parametrize("text", [BASE, FULL], ids=["minimal", "full"])
def test_dict_round_trip_is_exact(text: str) -> None:
    flow = parse_flow(text, "flows/welcome.yaml")
    stored = json.loads(json.dumps(flow_to_dict(flow)))  # as it comes back from a JSON column

    again = flow_from_dict(stored)

    assert again == flow
    assert again.version == flow.version
    assert again.source == flow.source
    assert flow_to_dict(again) == flow_to_dict(flow)
    assert hash(again) == hash(flow)


def test_stored_dict_shape() -> None:
    flow = parse_flow(FULL, "flows/vip.yaml")
    assert flow_to_dict(flow) == {
        "format": 2,
        "version": flow.version,
        "source": "flows/vip.yaml",
        "key": "vip",
        "name": "VIP orders",
        "description": "Big orders only.",
        "trigger": {
            "type": "event",
            "event": "order.completed",
            "where": {
                "currency": "EUR",
                "customer.tier": "gold",
                "total": 250.5,
                "gift": False,
                "note": None,
            },
        },
        "settings": {"transactional": True, "exit_on_unsubscribe": False, "reentry": "always"},
        "steps": [
            {"kind": "send", "id": "step-1", "template": "order-thanks", "subject": "Thanks!"},
            {"kind": "wait", "id": "step-2", "seconds": 131_415},
            {"kind": "send", "id": "step-3", "template": "order-survey", "subject": None},
            {"kind": "exit", "id": "step-4"},
        ],
        "lines": {
            "trigger": 4,
            "step:step-1": 10,
            "step:step-2": 12,
            "step:step-3": 13,
            "step:step-4": 14,
        },
    }


def test_from_dict_rejects_what_it_cannot_read() -> None:
    stored = flow_to_dict(parse_flow(BASE, "flows/welcome.yaml"))
    with pytest.raises(ValueError, match="unsupported stored flow format 3"):
        flow_from_dict({**stored, "format": 3})
    with pytest.raises(ValueError, match="malformed stored flow"):
        flow_from_dict({**stored, "steps": [{"kind": "teleport", "id": "x"}]})
    with pytest.raises(ValueError, match="malformed stored flow"):
        flow_from_dict({k: v for k, v in stored.items() if k != "trigger"})


def test_create_builds_the_same_flow_as_the_loader() -> None:
    flow = Flow.create(
        key="welcome",
        name="Welcome series",
        trigger=ContactCreated(),
        steps=[
            SendStep(id="hello", template="welcome"),
            WaitStep(id="step-2", duration=timedelta(days=2)),
            SendStep(id="step-3", template="getting-started"),
        ],
        source="flows/welcome.yaml",
    )
    assert flow == parse_flow(BASE, "flows/welcome.yaml")


def test_step_index() -> None:
    flow = parse_flow(BASE, "flows/welcome.yaml")
    assert [flow.step_index(s) for s in ("hello", "step-2", "step-3")] == [0, 1, 2]
    with pytest.raises(KeyError, match="has no step 'gone'"):
        flow.step_index("gone")


def test_flow_invariants() -> None:
    send = SendStep(id="a", template="welcome")
    with pytest.raises(ValueError, match="has no steps"):
        Flow.create(key="x", name="x", trigger=ContactCreated(), steps=[])
    with pytest.raises(ValueError, match="repeats step ids: a"):
        Flow.create(key="x", name="x", trigger=ContactCreated(), steps=[send, send])
    with pytest.raises(ValueError, match="positive number of seconds"):
        WaitStep(id="w", duration=timedelta(0))
    with pytest.raises(ValueError, match="positive number of seconds"):
        WaitStep(id="w", duration=timedelta(seconds=1.5))
    with pytest.raises(ValueError, match="reentry must be once, always or a Cooldown"):
        FlowSettings(reentry="sometimes")  # type: ignore[arg-type]


def test_definitions_are_immutable() -> None:
    trigger = EventTrigger(event="order.completed", where={"currency": "EUR"})
    flow = Flow.create(key="x", name="x", trigger=trigger, steps=[ExitStep(id="bye")])
    with pytest.raises(AttributeError):
        flow.name = "y"  # type: ignore[misc]
    with pytest.raises(TypeError):
        trigger.where["currency"] = "USD"  # type: ignore[index]
    assert isinstance(flow.steps, tuple)
    assert hash(trigger) == hash(EventTrigger(event="order.completed", where={"currency": "EUR"}))


EVERYTHING = (Path(__file__).parents[1] / "full_flow.yaml").read_text()


def test_every_construct_round_trips_exactly() -> None:
    flow = parse_flow(EVERYTHING, "flows/browse.yaml")
    stored = json.loads(json.dumps(flow_to_dict(flow)))

    again = flow_from_dict(stored)

    assert again == flow
    assert again.steps == flow.steps and again.settings == flow.settings
    assert again.trigger == flow.trigger
    assert flow_to_dict(again) == stored
    assert again.lines == flow.lines
    assert hash(again) == hash(flow)


def test_the_version_ignores_layout_and_lines_but_not_content() -> None:
    flow = parse_flow(EVERYTHING, "flows/browse.yaml")
    shifted = parse_flow("# a comment\n\n" + EVERYTHING, "flows/browse.yaml")
    assert parse_flow(EVERYTHING, "elsewhere/browse.yml").version == flow.version
    assert shifted.version == flow.version
    assert shifted == flow
    assert shifted.lines != flow.lines
    edited = EVERYTHING.replace("percent: 10", "percent: 15")
    assert parse_flow(edited, "flows/browse.yaml").version != flow.version


def test_format_1_stored_flows_are_still_read() -> None:
    flow = parse_flow(FULL, "flows/vip.yaml")
    stored = {**flow_to_dict(flow), "format": 1}
    del stored["lines"]
    again = flow_from_dict(stored)
    assert again == flow
    assert again.lines == {}


def test_new_keys_are_written_only_when_used() -> None:
    # So flows that use none of them kept their version when they were added.
    stored = flow_to_dict(parse_flow(BASE, "flows/welcome.yaml"))
    assert stored["settings"] == {
        "transactional": False,
        "exit_on_unsubscribe": True,
        "reentry": "once",
    }
    assert stored["trigger"] == {"type": "contact.created"}
    assert all("sender" not in step for step in stored["steps"])


def test_new_definition_invariants() -> None:
    with pytest.raises(ValueError, match="goes to unknown step 'nowhere'"):
        Flow.create(key="x", name="x", trigger=ContactCreated(), steps=[GotoStep("g", "nowhere")])
    with pytest.raises(ValueError, match="between 0 and 100"):
        HoldoutStep("h", 100)
    with pytest.raises(ValueError, match="positive weight"):
        SplitStep("s", (SplitVariant("a", 0, "x"),))
    with pytest.raises(ValueError, match="exactly one of event, segment"):
        WaitForStep("w", timedelta(days=1))
    with pytest.raises(ValueError, match="need an event"):
        WaitForStep("w", timedelta(days=1), segment="vip", where={"a": 1})
    with pytest.raises(ValueError, match="exactly one of property, event_property"):
        WaitUntilDateStep("w")
    with pytest.raises(ValueError, match=r"non-empty set of 0\.\.6"):
        WaitUntilStep("w", time(9), frozenset({7}))
    with pytest.raises(ValueError, match="different start and end"):
        QuietHours(time(9), time(9))
    with pytest.raises(ValueError, match="goal names repeat"):
        FlowSettings(goals=(Goal("a", rule("{in_segment: x}")), Goal("a", rule("{in_segment: y}"))))
    with pytest.raises(ValueError, match="status must be one of"):
        FlowSettings(status="live")  # type: ignore[arg-type]

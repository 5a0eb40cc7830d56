"""The `trigger:` section of a flow file: one syntax per trigger type (its keys and a
builder); every type also takes `if:`, a rule checked at entry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from yaml.nodes import Node

from connector.engine.common import DEFAULT_AT, did_you_mean
from connector.engine.flows import (
    ANY,
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
from connector.engine.loader.values import (
    FLOW_ID,
    STEP_ID,
    TEMPLATE_NAME,
    Fields,
    event_name,
    key_name,
    name,
    offset,
    property_name,
    property_path,
    rule,
    scalar_value,
    segment_key,
    single_line,
    time_of_day,
    where,
)
from connector.engine.yamlnodes import (
    Context,
    flag,
    mapping,
    read_duration,
    required,
    string,
    unknown_keys,
)

P = "trigger: "
NAMES = "letters, digits, '.', '_', ':' and '-'"


@dataclass(frozen=True)
class TriggerSyntax:
    keys: tuple[str, ...]  # allowed besides `type` and `if`
    build: Callable[[Fields], Trigger | None]


def parse_trigger(ctx: Context, node: Node | None) -> Trigger | None:
    if node is None:
        return None
    trigger = mapping(ctx, node, P, "a mapping such as {type: contact.created}")
    if trigger is None:
        return None
    type_node = required(ctx, trigger, "type", P)
    kind = string(ctx, type_node, "trigger: type", "a trigger type")
    if type_node is None or kind is None:
        return None
    syntax = TRIGGER_SYNTAX.get(kind)
    if syntax is None:
        hint = did_you_mean(kind, TRIGGER_SYNTAX)
        ctx.error(type_node, f"{P}unsupported trigger type '{kind}'{hint}")
        return None
    unknown_keys(ctx, trigger, ("type", *syntax.keys, "if"), P, f" for trigger type '{kind}'")
    fields = Fields(ctx, trigger, P)
    built = syntax.build(fields)
    condition = fields.get("if", rule)
    if built is None or fields.failed:
        return None
    return built if condition is None else replace(built, condition=condition)


def _contact_created(fields: Fields) -> Trigger | None:
    return ContactCreated()


def _property_changed(fields: Fields) -> Trigger | None:
    prop = fields.get("property", property_name, required=True)
    old = fields.get("from", scalar_value, default=ANY, nullable=True)
    new = fields.get("to", scalar_value, default=ANY, nullable=True)
    return None if fields.failed else PropertyChanged(prop, from_value=old, to_value=new)


def _segment(kind: type[SegmentEntered | SegmentLeft]) -> Callable[[Fields], Trigger | None]:
    def build(fields: Fields) -> Trigger | None:
        segment = fields.get("segment", segment_key, required=True)
        return None if fields.failed else kind(segment)

    return build


def _event(fields: Fields) -> Trigger | None:
    event = fields.get("event", event_name, required=True)
    filters = where(fields.ctx, fields.node("where"), "trigger: where", references=False)
    dedup = fields.get("dedup", property_path)
    return None if fields.failed else EventTrigger(event=event, where=filters, dedup=dedup)


def _date(fields: Fields) -> Trigger | None:
    prop = fields.get("property", property_name, required=True)
    shift = fields.get("offset", offset, default=timedelta(0))
    yearly = fields.get("yearly", flag, default=False)
    at = fields.get("at", time_of_day, default=DEFAULT_AT)
    return None if fields.failed else DateTrigger(prop, offset=shift, yearly=yearly, at=at)


def _inactivity(fields: Fields) -> Trigger | None:
    period = fields.get("for", read_duration, required=True)
    return None if fields.failed else InactivityTrigger(period=period)


def _engagement(fields: Fields) -> Trigger | None:
    action = fields.get("action", string, "clicked or opened", required=True)
    if action is not None and action not in ("clicked", "opened"):
        fields.ctx.error(
            fields.node("action"),
            f"{P}action: unsupported value '{action}' (expected one of: clicked, opened)",
        )
        return None
    template = fields.get(
        "template", name, TEMPLATE_NAME, "template name", "letters, digits, '-' and '_'"
    )
    flow = fields.get("flow", name, FLOW_ID, "flow id", "lowercase letters, digits and '-'")
    step = fields.get(
        "step", name, STEP_ID, "step id", "lowercase letters, digits, '-' and '_', at most 64"
    )
    campaign = fields.get("campaign", key_name, "campaign key")
    link = fields.get("link", single_line, "a link such as 'https://shop.example/p/*'")
    if fields.node("link") is not None and action == "opened":
        fields.ctx.error(
            fields.node("link"), f"{P}link: only clicks have a link; use action: clicked"
        )
        return None
    if fields.failed:
        return None
    return EngagementTrigger(action, template, flow, step, campaign, link)


TRIGGER_SYNTAX: dict[str, TriggerSyntax] = {
    ContactCreated.kind: TriggerSyntax((), _contact_created),
    PropertyChanged.kind: TriggerSyntax(("property", "from", "to"), _property_changed),
    SegmentEntered.kind: TriggerSyntax(("segment",), _segment(SegmentEntered)),
    SegmentLeft.kind: TriggerSyntax(("segment",), _segment(SegmentLeft)),
    EventTrigger.kind: TriggerSyntax(("event", "where", "dedup"), _event),
    DateTrigger.kind: TriggerSyntax(("property", "offset", "yearly", "at"), _date),
    InactivityTrigger.kind: TriggerSyntax(("for",), _inactivity),
    EngagementTrigger.kind: TriggerSyntax(
        ("action", "template", "flow", "step", "campaign", "link"), _engagement
    ),
}

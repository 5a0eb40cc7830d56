"""`wait:` (a duration, a time of day on some weekdays, or a date) and `wait_for:` (an
event or a segment entry, with a required timeout) in a flow file."""

from __future__ import annotations

from datetime import timedelta

from yaml.nodes import MappingNode, Node, ScalarNode

from connector.engine.common import PART_NAMES
from connector.engine.flows import Step, WaitForStep, WaitStep, WaitUntilDateStep, WaitUntilStep
from connector.engine.loader.values import (
    StepScope,
    close_to,
    event_name,
    offset,
    property_name,
    property_path,
    segment_key,
    time_of_day,
    weekdays,
    where,
)
from connector.engine.yamlnodes import Context, describe, read_duration, string, unknown_keys

WAIT_FORMS = ("until", "until_date")


def parse_wait(scope: StepScope, step_id: str, value: Node) -> Step | None:
    ctx, label = scope.ctx, f"{scope.prefix}wait"
    keys = [k.value for k, _ in value.value] if isinstance(value, MappingNode) else []
    if not any(key in WAIT_FORMS for key in keys):
        for key_node, _ in value.value if isinstance(value, MappingNode) else ():
            # A misspelt `until` would otherwise read as an unknown duration unit.
            close = None if key_node.value in PART_NAMES else close_to(key_node.value, WAIT_FORMS)
            if close is not None:
                ctx.error(
                    key_node, f"{label}: unknown key '{key_node.value}' (did you mean '{close}'?)"
                )
                return None
        period = read_duration(ctx, value, label)
        return None if period is None else WaitStep(id=step_id, duration=period)
    if "until" in keys:
        fields = scope.fields(value, "wait", "{until: '09:00', weekdays: [mon, fri]}")
        if fields is None:
            return None
        unknown_keys(ctx, fields.data, ("until", "weekdays"), fields.prefix)
        at = fields.get("until", time_of_day, required=True)
        days = fields.get("weekdays", weekdays)
        return None if fields.failed else WaitUntilStep(step_id, at, days)
    fields = scope.fields(value, "wait", "{until_date: {property: renewal_date}}")
    if fields is None:
        return None
    unknown_keys(ctx, fields.data, ("until_date",), fields.prefix)
    node = fields.node("until_date")
    assert node is not None
    inner = scope.fields(node, "wait: until_date", "{property: renewal_date, offset: -7d}")
    if inner is None:
        return None
    unknown_keys(
        ctx, inner.data, ("property", "event_property", "offset", "at", "years"), inner.prefix
    )
    prop = inner.get("property", property_name)
    event_prop = inner.get("event_property", property_path)
    shift = inner.get("offset", offset, default=timedelta(0))
    at = inner.get("at", time_of_day)
    years = inner.get("years", _years, default=0)
    if (inner.node("property") is None) == (inner.node("event_property") is None):
        ctx.error(inner.data.node, f"{inner.prefix}give either 'property' or 'event_property'")
        return None
    if inner.failed:
        return None
    return WaitUntilDateStep(step_id, prop, event_prop, shift, at, years)


def _years(ctx: Context, node: Node, label: str) -> int | None:
    value = ctx.scalar(node) if isinstance(node, ScalarNode) else None
    if isinstance(value, bool) or not isinstance(value, int) or not -100 <= value <= 100:
        ctx.error(node, f"{label}: expected a whole number of years, got {describe(node)}")
        return None
    return value


def parse_wait_for(scope: StepScope, step_id: str, value: Node) -> Step | None:
    fields = scope.fields(value, "wait_for", "{event: order.shipped, timeout: 14d}")
    if fields is None:
        return None
    ctx, prefix = scope.ctx, fields.prefix
    unknown_keys(
        ctx, fields.data, ("event", "where", "segment", "timeout", "on_timeout", "since"), prefix
    )
    event = fields.get("event", event_name)
    segment = fields.get("segment", segment_key)
    if (fields.node("event") is None) == (fields.node("segment") is None):
        ctx.error(fields.data.node, f"{prefix}give either 'event' or 'segment'")
        return None
    where_node = fields.node("where")
    if where_node is not None and fields.node("event") is None:
        ctx.error(where_node, f"{prefix}where: filters apply to events only")
        return None
    filters = where(ctx, where_node, f"{prefix}where", references=True)
    timeout = fields.get("timeout", read_duration, required=True)
    on_timeout = fields.get("on_timeout", _on_timeout, scope, default="next")
    since = fields.get("since", _since, default="step")
    if fields.failed:
        return None
    return WaitForStep(step_id, timeout, event, filters, segment, on_timeout, since)


def _since(ctx: Context, node: Node, label: str) -> str | None:
    value = string(ctx, node, label, "step or entry")
    if value is not None and value not in ("step", "entry"):
        ctx.error(node, f"{label}: expected step or entry, got '{value}'")
        return None
    return value


def _on_timeout(ctx: Context, node: Node, label: str, scope: StepScope) -> str | None:
    value = string(ctx, node, label, "next, exit or a step id")
    if value is None or value in ("next", "exit"):
        return value
    return scope.target(ctx, node, label)

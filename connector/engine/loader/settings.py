"""The `settings:` section of a flow file: re-entry, status, quiet hours, frequency cap,
goals and exit criteria."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from yaml.nodes import MappingNode, Node, SequenceNode

from connector.engine.flows import REENTRY_MODES, STATUSES, Cooldown, FlowSettings, Goal, QuietHours
from connector.engine.loader.values import INVALID, Fields, key_name, rule, time_of_day
from connector.engine.yamlnodes import (
    Context,
    describe,
    flag,
    is_null,
    line_of,
    mapping,
    read_duration,
    string,
    unknown_keys,
)

REENTRY_EXPECTED = "once, always or {cooldown: <duration>}"


def parse_settings(ctx: Context, node: Node | None, lines: dict[str, int]) -> FlowSettings:
    settings = None if node is None or is_null(node) else mapping(ctx, node, "settings: ")
    if settings is None:
        return FlowSettings()
    unknown_keys(ctx, settings, tuple(SETTING_READERS), "settings: ")
    values = {
        key: SETTING_READERS[key](ctx, value, f"settings: {key}", lines)
        for key, value in settings.values.items()
        if key in SETTING_READERS
    }
    if any(value is None or value is INVALID for value in values.values()):
        return FlowSettings()  # the errors are recorded; the flow will not be built
    return FlowSettings(**values)


def _plain(read: Callable[[Context, Node, str], Any]) -> Callable[..., Any]:
    return lambda ctx, node, label, lines: read(ctx, node, label)


def _reentry(ctx: Context, node: Node, label: str, lines: dict[str, int]) -> Any:
    if isinstance(node, MappingNode):
        options = mapping(ctx, node, f"{label}: ")
        if options is None:
            return None
        unknown_keys(ctx, options, ("cooldown",), f"{label}: ")
        fields = Fields(ctx, options, f"{label}: ")
        period = fields.get("cooldown", read_duration, required=True)
        return None if fields.failed else Cooldown(period)
    reentry = string(ctx, node, label, REENTRY_EXPECTED)
    if reentry is not None and reentry not in REENTRY_MODES:
        ctx.error(node, f"{label}: unsupported value '{reentry}' (expected {REENTRY_EXPECTED})")
        return None
    return reentry


def _status(ctx: Context, node: Node, label: str, lines: dict[str, int]) -> str | None:
    status = string(ctx, node, label, "a status")
    if status is not None and status not in STATUSES:
        expected = ", ".join(STATUSES)
        ctx.error(node, f"{label}: unsupported value '{status}' (expected one of: {expected})")
        return None
    return status


def _quiet_hours(ctx: Context, node: Node, label: str, lines: dict[str, int]) -> Any:
    options = mapping(ctx, node, f"{label}: ", "a mapping such as {start: '21:00', end: '08:00'}")
    if options is None:
        return None
    unknown_keys(ctx, options, ("start", "end"), f"{label}: ")
    fields = Fields(ctx, options, f"{label}: ")
    start = fields.get("start", time_of_day, required=True)
    end = fields.get("end", time_of_day, required=True)
    if fields.failed:
        return None
    if start == end:
        ctx.error(node, f"{label}: start and end are the same time")
        return None
    return QuietHours(start, end)


def _goals(ctx: Context, node: Node, label: str, lines: dict[str, int]) -> Any:
    if not isinstance(node, SequenceNode):
        ctx.error(node, f"{label}: expected a list of {{name, when}} goals, got {describe(node)}")
        return None
    goals: list[Goal] = []
    seen: dict[str, int] = {}
    failed = False
    for number, item in enumerate(node.value, start=1):
        prefix = f"{label}: goal {number}: "
        goal = mapping(ctx, item, prefix, "a mapping such as {name: purchased, when: <rule>}")
        if goal is None:
            failed = True
            continue
        unknown_keys(ctx, goal, ("name", "when"), prefix)
        fields = Fields(ctx, goal, prefix)
        name = fields.get("name", key_name, "goal name", required=True)
        when = fields.get("when", rule, required=True)
        if name is not None and name in seen:
            ctx.error(fields.node("name"), f"{prefix}name: goal '{name}' is also goal {seen[name]}")
            fields.failed = True
        elif name is not None:
            seen[name] = number
            lines[f"goal:{name}"] = line_of(item)
        if fields.failed:
            failed = True
        else:
            goals.append(Goal(name, when))
    return None if failed else tuple(goals)


def _exit_when(ctx: Context, node: Node, label: str, lines: dict[str, int]) -> Any:
    if not isinstance(node, SequenceNode):
        ctx.error(node, f"{label}: expected a list of rules, got {describe(node)}")
        return None
    rules = []
    for number, item in enumerate(node.value, start=1):
        rules.append(rule(ctx, item, f"{label}: rule {number}"))
        lines[f"exit_when:{number - 1}"] = line_of(item)
    return None if any(r is None for r in rules) else tuple(rules)


SETTING_READERS: dict[str, Callable[[Context, Node, str, dict[str, int]], Any]] = {
    "transactional": _plain(flag),
    "exit_on_unsubscribe": _plain(flag),
    "reentry": _reentry,
    "status": _status,
    "quiet_hours": _quiet_hours,
    "frequency_cap": _plain(flag),
    "goals": _goals,
    "exit_when": _exit_when,
}

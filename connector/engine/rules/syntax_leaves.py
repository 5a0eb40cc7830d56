"""Reading the leaf rules about behaviour and membership from YAML nodes: events, email
engagement, lists, segments and random buckets (syntax.py dispatches to them)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Literal

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from connector.engine.common import EVENT_NAME, EVENT_NAME_RULE, did_you_mean
from connector.engine.rules.history import ENGAGEMENT_FILTERS, EngagementRule, EventRule
from connector.engine.rules.leaves import (
    BUCKET_OPERATORS,
    BucketRule,
    ListRule,
    PropertyRule,
    SegmentRule,
)
from connector.engine.rules.operands import read_conditions
from connector.engine.rules.tree import Rule
from connector.engine.yamlnodes import (
    CORE,
    Context,
    YamlMap,
    describe,
    mapping,
    read_duration,
    string,
    unknown_keys,
)

SEGMENT_ID = re.compile(r"[a-z0-9-]{1,64}")
LIST_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
COUNTS = ("at_least", "at_most", "exactly")

Builder = Callable[[Context, YamlMap, str], Rule | None]


def _count(ctx: Context, node: Node, label: str) -> int | None:
    value = ctx.scalar(node) if isinstance(node, ScalarNode) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        ctx.error(node, f"{label}: expected a whole number (0 or more), got {describe(node)}")
        return None
    return value


def _counts(ctx: Context, rule: YamlMap, label: str) -> tuple[int, int | None] | None:
    """(at_least, at_most): at_least defaults to 1, or to 0 when only at_most is given."""
    given: dict[str, int] = {}
    for key in COUNTS:
        if key in rule.values:
            count = _count(ctx, rule.values[key], f"{label}.{key}")
            if count is None:
                return None
            given[key] = count
    if "exactly" in given:
        if len(given) > 1:
            ctx.error(
                rule.keys["exactly"],
                f"{label}: exactly cannot be combined with at_least or at_most",
            )
            return None
        return given["exactly"], given["exactly"]
    at_most = given.get("at_most")
    at_least = given.get("at_least", 1 if at_most is None else 0)
    if at_least == 0 and at_most is None:
        ctx.error(
            rule.keys["at_least"], f"{label}.at_least: 0 always holds (did you mean at_most: 0?)"
        )
        return None
    if at_most is not None and at_least > at_most:
        ctx.error(rule.keys["at_most"], f"{label}: at_least {at_least} is above at_most {at_most}")
        return None
    return at_least, at_most


def _window(ctx: Context, rule: YamlMap, label: str) -> tuple[bool, timedelta | None]:
    node = rule.values.get("within")
    if node is None:
        return True, None
    within = read_duration(ctx, node, f"{label}.within")
    return within is not None, within


def read_event(ctx: Context, rule: YamlMap, label: str) -> Rule | None:
    node = rule.values["event"]
    name = string(ctx, node, f"{label}.event", "an event name such as order.completed")
    if name is not None and not EVENT_NAME.fullmatch(name):
        ctx.error(
            node,
            f"{label}.event: invalid event name '{name}' ({EVENT_NAME_RULE})",
        )
    counts = _counts(ctx, rule, label)
    window_ok, within = _window(ctx, rule, label)
    where: tuple[PropertyRule, ...] = ()
    last: tuple[PropertyRule, ...] = ()
    if "where" in rule.values:
        where = read_conditions(ctx, rule.values["where"], f"{label}.where") or ()
    if "last" in rule.values:
        last = read_conditions(ctx, rule.values["last"], f"{label}.last") or ()
        if counts is not None and counts[1] == 0:
            ctx.error(rule.keys["last"], f"{label}.last: never holds when no event may occur")
    if name is None or counts is None or not window_ok:
        return None
    return EventRule(
        event=name, at_least=counts[0], at_most=counts[1], within=within, where=where, last=last
    )


def read_engagement(action: Literal["open", "click"], key: str) -> Builder:
    filters = (*ENGAGEMENT_FILTERS, "link") if action == "click" else ENGAGEMENT_FILTERS

    def build(ctx: Context, rule: YamlMap, label: str) -> Rule | None:
        node, where = rule.values[key], f"{label}.{key}"
        chosen: dict[str, str | None] = {}
        if isinstance(node, MappingNode):
            found = mapping(ctx, node, f"{where}: ")
            if found is None:
                return None
            unknown_keys(ctx, found, filters, f"{where}: ", f" for {key}")
            for name in filters:
                if name in found.values:
                    chosen[name] = string(
                        ctx, found.values[name], f"{where}.{name}", f"a {name} name"
                    )
            if "step" in found.values and "flow" not in found.values:
                ctx.error(found.keys["step"], f"{where}.step: needs flow (step ids are per flow)")
        elif not (isinstance(node, ScalarNode) and ctx.scalar(node) == "any"):
            ctx.error(
                node,
                f"{where}: expected 'any' or a mapping such as {{template: first-offer}}, "
                f"got {describe(node)}",
            )
            return None
        counts = _counts(ctx, rule, label)
        window_ok, within = _window(ctx, rule, label)
        if counts is None or not window_ok:
            return None
        return EngagementRule(
            action=action, at_least=counts[0], at_most=counts[1], within=within, **chosen
        )

    return build


# -- membership and buckets -------------------------------------------------------------


def read_in_list(ctx: Context, rule: YamlMap, label: str) -> Rule | None:
    node = rule.values["in_list"]
    key = node.value if isinstance(node, ScalarNode) and node.tag == CORE + "int" else None
    key = key or string(ctx, node, f"{label}.in_list", "a list name")
    if key is not None and not LIST_KEY.fullmatch(key):
        ctx.error(
            node,
            f"{label}.in_list: invalid list name '{key}' (letters, digits, '.', '_', ':' and '-')",
        )
        return None
    return None if key is None else ListRule(key)


def read_in_segment(ctx: Context, rule: YamlMap, label: str) -> Rule | None:
    node = rule.values["in_segment"]
    key = string(ctx, node, f"{label}.in_segment", "a segment id")
    if key is not None and not SEGMENT_ID.fullmatch(key):
        ctx.error(
            node,
            f"{label}.in_segment: invalid segment id '{key}' (lowercase letters, digits and '-')",
        )
        return None
    return None if key is None else SegmentRule(key)


def read_bucket(ctx: Context, rule: YamlMap, label: str) -> Rule | None:
    where = f"{label}.bucket"
    found = mapping(ctx, rule.values["bucket"], f"{where}: ", "a comparison such as {lt: 50}")
    salt = ""
    if "salt" in rule.values:
        salt = string(ctx, rule.values["salt"], f"{label}.salt", "text") or ""
    if found is None:
        return None
    if len(found.keys) != 1:
        ctx.error(found.node, f"{where}: expected one comparison such as {{lt: 50}}")
        return None
    op, node = next(iter(found.values.items()))
    if op not in BUCKET_OPERATORS:
        ctx.error(
            found.keys[op], f"{where}: unknown operator '{op}'{did_you_mean(op, BUCKET_OPERATORS)}"
        )
        return None
    items = (
        node.value
        if op in ("in", "not_in", "between") and isinstance(node, SequenceNode)
        else [node]
    )
    if op in ("in", "not_in", "between") and not isinstance(node, SequenceNode):
        ctx.error(node, f"{where}.{op}: expected a list of whole numbers, got {describe(node)}")
        return None
    numbers = []
    for item in items:
        value = ctx.scalar(item) if isinstance(item, ScalarNode) else None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
            ctx.error(
                item, f"{where}.{op}: expected a whole number from 0 to 100, got {describe(item)}"
            )
            return None
        numbers.append(value)
    if op == "between" and (len(numbers) != 2 or numbers[0] > numbers[1]):
        ctx.error(node, f"{where}.between: expected [low, high] with low <= high")
        return None
    operand = tuple(numbers) if isinstance(node, SequenceNode) else numbers[0]
    return BucketRule(op, operand, salt)

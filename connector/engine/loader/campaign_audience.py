"""The `audience:` of a campaign file: exactly one of a segment, a list or an inline rule
in the segment language, and `exclude:` segments and lists."""

from __future__ import annotations

from yaml.nodes import Node, ScalarNode, SequenceNode

from connector.engine.campaigns import Audience, InlineRule, Membership
from connector.engine.loader.values import KEY_NAME, Fields, key_name, rule, segment_key
from connector.engine.yamlnodes import CORE, Context, describe, line_of, mapping, unknown_keys

SOURCES = ("segment", "list", "rule")
MEMBERSHIPS = ("segment", "list")
LIST_RULE = "letters, digits, '.', '_', ':' and '-'"


def parse_audience(ctx: Context, node: Node, label: str, lines: dict[str, int]) -> Audience | None:
    data = mapping(ctx, node, f"{label}: ", "a mapping such as {segment: vip}")
    if data is None:
        return None
    allowed = (*SOURCES, "exclude")
    unknown_keys(ctx, data, allowed, f"{label}: ")
    given = [key for key in SOURCES if key in data.keys]
    if not given and set(data.keys) - set(allowed):
        return None  # a misspelt source (`segmnt:`): the unknown key says it all
    if len(given) != 1:
        found = " and ".join(f"'{key}'" for key in given) or "none"
        where = data.keys[given[1]] if len(given) > 1 else node
        ctx.error(where, f"{label}: give exactly one of segment, list or rule (found {found})")
        return None
    kind = given[0]
    lines[f"audience.{kind}"] = line_of(data.keys[kind])
    fields = Fields(ctx, data, f"{label}: ")
    source: Membership | InlineRule | None
    if kind == "rule":
        found_rule = fields.get("rule", rule)
        source = None if found_rule is None else InlineRule(found_rule)
    else:
        source = _membership_key(ctx, data.values[kind], f"{label}: {kind}", kind)
    exclude = fields.get("exclude", _exclusions, lines, default=())
    if source is None or fields.failed:
        return None
    return Audience(source, exclude)


def _exclusions(
    ctx: Context, node: Node, label: str, lines: dict[str, int]
) -> tuple[Membership, ...] | None:
    if not isinstance(node, SequenceNode):
        ctx.error(node, f"{label}: expected a list such as [{{segment: vip}}, {{list: staff}}], "
                  f"got {describe(node)}")
        return None
    found: list[Membership] = []
    failed = False
    for index, item in enumerate(node.value):
        prefix = f"{label}: {index + 1}: "
        data = mapping(ctx, item, prefix, "{segment: KEY} or {list: KEY}")
        if data is None:
            failed = True
            continue
        unknown_keys(ctx, data, MEMBERSHIPS, prefix)
        kinds = [key for key in MEMBERSHIPS if key in data.keys]
        if len(kinds) != 1 or len(data.keys) != 1:
            if len(kinds) > 1 or not set(data.keys) - set(MEMBERSHIPS):
                ctx.error(item, f"{prefix}give one segment or one list per item")
            failed = True
            continue
        kind = kinds[0]
        member = _membership_key(ctx, data.values[kind], f"{prefix}{kind}", kind)
        if member is None:
            failed = True
        else:
            lines[f"audience.exclude:{index}"] = line_of(item)
            found.append(member)
    return None if failed else tuple(found)


def _membership_key(ctx: Context, node: Node, label: str, kind: str) -> Membership | None:
    if kind == "segment":
        key = segment_key(ctx, node, label)
        return None if key is None else Membership("segment", key)
    # A CRM's list ids are numbers (HubSpot's `123`): read as written, as in_list does.
    if isinstance(node, ScalarNode) and node.tag == CORE + "int":
        if not KEY_NAME.fullmatch(node.value):
            ctx.error(node, f"{label}: invalid list name '{node.value}' ({LIST_RULE})")
            return None
        return Membership("list", node.value)
    key = key_name(ctx, node, label, "list name")
    return None if key is None else Membership("list", key)

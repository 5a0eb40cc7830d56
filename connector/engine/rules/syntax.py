"""Reading rules from YAML nodes. Every problem is reported through the Context with the
path inside the rule and the line: `rule.all[1]: unknown operator 'gtt' (did you mean 'gt'?)`.
"""

from __future__ import annotations

from collections.abc import Callable

from yaml.nodes import Node, SequenceNode

from connector.engine.common import did_you_mean
from connector.engine.rules.leaves import PropertyRule
from connector.engine.rules.operands import read_operand, read_path
from connector.engine.rules.syntax_leaves import (
    COUNTS,
    Builder,
    read_bucket,
    read_engagement,
    read_event,
    read_in_list,
    read_in_segment,
)
from connector.engine.rules.tree import All, Any_, Not, Rule
from connector.engine.rules.values import OPERATORS
from connector.engine.yamlnodes import (
    Context,
    DefinitionErrors,
    YamlMap,
    compose_document,
    describe,
    mapping,
    unknown_keys,
)

RULE_EXAMPLE = "a rule (a mapping such as {property: lifecyclestage, eq: customer})"


def parse_rule(ctx: Context, node: Node, label: str) -> Rule | None:
    """The rule under `node`, or None after reporting its problems through `ctx`."""
    before = len(ctx.errors)
    rule = _rule(ctx, node, label)
    return rule if len(ctx.errors) == before else None


def parse_rule_text(text: str, source: str) -> Rule:
    """A YAML (or JSON) text holding just a rule; raises DefinitionErrors."""
    ctx = Context(source)
    root = compose_document(ctx, text, RULE_EXAMPLE)
    rule = None if root is None else parse_rule(ctx, root, "rule")
    if rule is None:
        raise DefinitionErrors(ctx.sorted_errors())
    return rule


def _rule(ctx: Context, node: Node, label: str) -> Rule | None:
    found = mapping(ctx, node, f"{label}: ", RULE_EXAMPLE)
    if found is None:
        return None
    kinds = [key for key in found.keys if key in SYNTAX]
    if len(kinds) > 1:
        ctx.error(
            found.keys[kinds[1]],
            f"{label}: a rule has one kind, found '{kinds[0]}' and '{kinds[1]}' "
            "(combine rules with all: or any:)",
        )
        return None
    if not kinds:
        known = set(OPERATORS).union(*(options for options, _ in SYNTAX.values()))
        unknown = [key for key in found.keys if key not in known]
        if unknown:
            hint = did_you_mean(unknown[0], SYNTAX)
            ctx.error(found.keys[unknown[0]], f"{label}: unknown rule kind '{unknown[0]}'{hint}")
        else:
            ctx.error(
                node, f"{label}: missing the rule kind (expected one of: {', '.join(SYNTAX)})"
            )
        return None
    options, build = SYNTAX[kinds[0]]
    if kinds[0] != "property":  # a property rule's other keys are operators
        article = "an" if kinds[0][0] in "aeiou" else "a"
        what = f" for {article} {kinds[0]} rule"
        unknown_keys(ctx, found, (kinds[0], *options), f"{label}: ", what)
    return build(ctx, found, label)


# -- property rules and composition -----------------------------------------------------


def _property(ctx: Context, rule: YamlMap, label: str) -> Rule | None:
    path = read_path(ctx, rule.values["property"], f"{label}.property")
    operators = [key for key in rule.keys if key != "property"]
    for key in operators:
        if key not in OPERATORS:
            ctx.error(
                rule.keys[key], f"{label}: unknown operator '{key}'{did_you_mean(key, OPERATORS)}"
            )
    known = [key for key in operators if key in OPERATORS]
    if not operators:
        ctx.error(rule.node, f"{label}: missing an operator (one of: {', '.join(OPERATORS)})")
    if len(known) > 1:
        ctx.error(
            rule.keys[known[1]],
            f"{label}: one operator per property rule, found '{known[0]}' and '{known[1]}' "
            "(use between: or all:)",
        )
    if len(known) != 1 or len(operators) != 1 or path is None:
        return None
    op = known[0]
    operand = read_operand(ctx, op, rule.values[op], f"{label}.{op}")
    return None if operand is None else PropertyRule(path, op, operand)


def _composite(key: str, build: Callable[[tuple[Rule, ...]], Rule]) -> Builder:
    def parse(ctx: Context, rule: YamlMap, label: str) -> Rule | None:
        node = rule.values[key]
        if not isinstance(node, SequenceNode) or not node.value:
            got = "an empty list" if isinstance(node, SequenceNode) else describe(node)
            ctx.error(node, f"{label}.{key}: expected a list of rules, got {got}")
            return None
        parts = [_rule(ctx, item, f"{label}.{key}[{i}]") for i, item in enumerate(node.value)]
        return None if any(part is None for part in parts) else build(tuple(parts))  # type: ignore[arg-type]

    return parse


def _not(ctx: Context, rule: YamlMap, label: str) -> Rule | None:
    inner = _rule(ctx, rule.values["not"], f"{label}.not")
    return None if inner is None else Not(inner)


SYNTAX: dict[str, tuple[tuple[str, ...], Builder]] = {
    "property": ((), _property),
    "event": ((*COUNTS, "within", "where", "last"), read_event),
    "opened": ((*COUNTS, "within"), read_engagement("open", "opened")),
    "clicked": ((*COUNTS, "within"), read_engagement("click", "clicked")),
    "in_list": ((), read_in_list),
    "in_segment": ((), read_in_segment),
    "bucket": (("salt",), read_bucket),
    "all": ((), _composite("all", All)),
    "any": ((), _composite("any", Any_)),
    "not": ((), _not),
}

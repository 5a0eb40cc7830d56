"""`branch:` and `split:` in a flow file: lists of cases / variants, each going to a step."""

from __future__ import annotations

from yaml.nodes import Node, SequenceNode

from connector.engine.flows import BranchCase, BranchStep, SplitStep, SplitVariant, Step
from connector.engine.loader.values import Fields, StepScope, key_name, number, rule
from connector.engine.yamlnodes import describe, mapping, unknown_keys

BRANCH_EXAMPLE = "[{if: {property: plan, eq: pro}, goto: step-id}, {else: step-id}]"
SPLIT_EXAMPLE = "[{name: a, weight: 50, goto: step-a}, {name: b, weight: 50, goto: step-b}]"


def parse_branch(scope: StepScope, step_id: str, value: Node) -> Step | None:
    ctx, label = scope.ctx, f"{scope.prefix}branch"
    if not isinstance(value, SequenceNode):
        ctx.error(
            value,
            f"{label}: expected a list of cases such as {BRANCH_EXAMPLE}, got {describe(value)}",
        )
        return None
    if not value.value:
        ctx.error(value, f"{label}: needs at least one case with 'if' and 'goto'")
        return None
    cases: list[BranchCase] = []
    otherwise: str | None = None
    failed = False
    for number_, node in enumerate(value.value, start=1):
        prefix = f"{label}: case {number_}: "
        case = mapping(ctx, node, prefix, "a mapping such as {if: <rule>, goto: step-id}")
        if case is None:
            failed = True
            continue
        fields = Fields(ctx, case, prefix)
        if "else" in case.keys:
            unknown_keys(ctx, case, ("else",), prefix)
            otherwise = fields.get("else", scope.target)
            if number_ != len(value.value):
                ctx.error(case.keys["else"], f"{prefix}'else' must be the last case")
                failed = True
        else:
            unknown_keys(ctx, case, ("if", "goto", "else"), prefix)
            condition = fields.get("if", rule, required=True)
            goto = fields.get("goto", scope.target, required=True)
            if not fields.failed:
                cases.append(BranchCase(condition, goto))
        failed |= fields.failed
    if not failed and not cases:
        ctx.error(value, f"{label}: needs at least one case with 'if' and 'goto'")
        return None
    return None if failed else BranchStep(step_id, tuple(cases), otherwise)


def parse_split(scope: StepScope, step_id: str, value: Node) -> Step | None:
    ctx, label = scope.ctx, f"{scope.prefix}split"
    if not isinstance(value, SequenceNode):
        ctx.error(
            value,
            f"{label}: expected a list of variants such as {SPLIT_EXAMPLE}, got {describe(value)}",
        )
        return None
    if len(value.value) < 2:
        ctx.error(value, f"{label}: needs at least two variants")
        return None
    variants: list[SplitVariant] = []
    names: dict[str, int] = {}
    failed = False
    for number_, node in enumerate(value.value, start=1):
        prefix = f"{label}: variant {number_}: "
        variant = mapping(ctx, node, prefix, "a mapping such as {name: a, weight: 50, goto: x}")
        if variant is None:
            failed = True
            continue
        unknown_keys(ctx, variant, ("name", "weight", "goto"), prefix)
        fields = Fields(ctx, variant, prefix)
        variant_name = fields.get("name", key_name, "variant name", required=True)
        weight = fields.get("weight", number, required=True)
        goto = fields.get("goto", scope.target, required=True)
        if weight is not None and weight <= 0:
            ctx.error(fields.node("weight"), f"{prefix}weight: must be positive, got {weight}")
            fields.failed = True
        if variant_name is not None and variant_name in names:
            ctx.error(
                fields.node("name"),
                f"{prefix}name: variant '{variant_name}' is also variant {names[variant_name]}",
            )
            fields.failed = True
        elif variant_name is not None:
            names[variant_name] = number_
        if fields.failed:
            failed = True
        else:
            variants.append(SplitVariant(variant_name, weight, goto))
    return None if failed else SplitStep(step_id, tuple(variants))

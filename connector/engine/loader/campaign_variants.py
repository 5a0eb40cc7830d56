"""The content of a campaign file: one `template`, or `variants` for an A/B test with the
share of the audience each gets (`sample`), when the winner is picked (`pick_after`) and
by what (`pick_by`: unique human clicks or opens)."""

from __future__ import annotations

from yaml.nodes import Node, SequenceNode

from connector.engine.campaigns import PICK_BY, ABTest, Variant
from connector.engine.common import did_you_mean
from connector.engine.loader.values import (
    TEMPLATE_NAME,
    Fields,
    key_name,
    name,
    number,
    single_line,
)
from connector.engine.yamlnodes import (
    Context,
    YamlMap,
    describe,
    line_of,
    mapping,
    read_duration,
    string,
    unknown_keys,
)

VARIANT_KEYS = ("key", "template", "subject", "sample")
TEMPLATE_RULE = "letters, digits, '-' and '_'"


def parse_content(
    ctx: Context, doc: YamlMap, fields: Fields, lines: dict[str, int]
) -> tuple[str | None, ABTest | None]:
    """(template, None) or (None, the A/B test); errors are recorded in ctx."""
    template = fields.get("template", name, TEMPLATE_NAME, "template name", TEMPLATE_RULE)
    variants_node = doc.values.get("variants")
    if "template" in doc.keys and variants_node is not None:
        ctx.error(doc.keys["variants"], "variants: give template or variants, not both "
                  "(each variant names its own template)")
        return None, None
    if variants_node is None:
        if "template" not in doc.keys:
            ctx.error(doc.node, "missing required key 'template' (or 'variants' for an A/B test)")
        for key in ("pick_after", "pick_by"):
            if key in doc.keys:
                ctx.error(doc.keys[key], f"{key}: only an A/B test (variants:) picks a winner")
        return template, None
    variants = _variants(ctx, variants_node, lines)
    pick_by = fields.get("pick_by", _pick_by, default="clicks")
    pick_after = fields.get("pick_after", read_duration)
    if variants is None:
        return None, None
    rest = round(1 - sum(v.sample for v in variants), 9)
    if rest < 0:
        shares = " + ".join(f"{v.sample:g}" for v in variants)
        ctx.error(variants_node, f"variants: the samples add up to {1 - rest:g} ({shares}), "
                  "more than the whole audience; they must add up to 1 at most")
    elif rest > 0 and "pick_after" not in doc.keys:
        ctx.error(doc.keys["variants"], f"variants: the samples leave {rest:.0%} of the audience "
                  "for the winner: say when to pick it with pick_after (e.g. '4h')")
    elif rest == 0 and "pick_after" in doc.keys:
        ctx.error(doc.keys["pick_after"], "pick_after: the samples take the whole audience, so "
                  "nobody is left for a winner; lower the samples or leave pick_after out")
    return None, ABTest(variants, pick_after, pick_by)


def _variants(ctx: Context, node: Node, lines: dict[str, int]) -> tuple[Variant, ...] | None:
    if not isinstance(node, SequenceNode):
        expected = "a list of {key, template, sample}"
        ctx.error(node, f"variants: expected {expected}, got {describe(node)}")
        return None
    if len(node.value) < 2:
        ctx.error(node, f"variants: an A/B test needs at least two variants, got {len(node.value)}")
        return None
    variants: list[Variant] = []
    seen: dict[str, int] = {}
    failed = False
    for number_, item in enumerate(node.value, start=1):
        prefix = f"variants: variant {number_}: "
        data = mapping(ctx, item, prefix, "a mapping such as {key: a, template: sale, sample: 0.1}")
        if data is None:
            failed = True
            continue
        unknown_keys(ctx, data, VARIANT_KEYS, prefix)
        fields = Fields(ctx, data, prefix)
        key = fields.get("key", key_name, "variant key", required=True)
        template = fields.get(
            "template", name, TEMPLATE_NAME, "template name", TEMPLATE_RULE, required=True
        )
        subject = fields.get("subject", single_line, "a subject line")
        sample = fields.get("sample", _share, required=True)
        if key is not None and key in seen:
            message = f"{prefix}key: variant '{key}' is also variant {seen[key]}"
            ctx.error(fields.node("key"), message)
            fields.failed = True
        elif key is not None:
            seen[key] = number_
            lines[f"variant:{key}"] = line_of(item)
        if fields.failed:
            failed = True
        else:
            variants.append(Variant(key, template, sample, subject))
    return None if failed else tuple(variants)


def _share(ctx: Context, node: Node, label: str) -> float | None:
    value = number(ctx, node, label)
    if value is not None and not 0 < value < 1:
        ctx.error(node, f"{label}: a share of the audience, more than 0 and less than 1 "
                  f"(0.1 is 10%), got {value:g}")
        return None
    return None if value is None else float(value)


def _pick_by(ctx: Context, node: Node, label: str) -> str | None:
    value = string(ctx, node, label, "clicks or opens")
    if value is not None and value not in PICK_BY:
        ctx.error(node, f"{label}: unsupported value '{value}'{did_you_mean(value, PICK_BY)}")
        return None
    return value

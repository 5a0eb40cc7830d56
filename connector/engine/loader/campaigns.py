"""Load campaign definitions (`campaigns/<key>.yaml`) from YAML, with errors that name the
file and the line, the way flows and segments are loaded: every problem of every file at
once, unknown keys refused. What a campaign refers to (templates, segments) and when it
is sent are checked against the rest of the workspace afterwards (campaign_lint.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from yaml.nodes import Node, ScalarNode, SequenceNode

from connector.engine.campaigns import (
    PICK_BY,
    THROTTLE_UNITS,
    UTM_KEYS,
    ABTest,
    Audience,
    Campaign,
    InlineRule,
    Membership,
    Throttle,
    Variant,
)
from connector.engine.common import FrozenMap, did_you_mean
from connector.engine.loader.steps import _sender as sender_address
from connector.engine.loader.values import (
    FLOW_ID,
    KEY_NAME,
    TEMPLATE_NAME,
    Fields,
    key_name,
    name,
    number,
    rule,
    segment_key,
    single_line,
    time_of_day,
)
from connector.engine.yamlnodes import (
    CORE,
    Context,
    DefinitionError,
    DefinitionErrors,
    YamlMap,
    compose_document,
    definition_key,
    describe,
    flag,
    line_of,
    mapping,
    read_duration,
    string,
    unknown_keys,
)

TOP_KEYS = (
    "id", "name", "description", "template", "variants", "pick_after", "pick_by", "subject",
    "from", "audience", "send_at", "local_time", "throttle", "respect_frequency_cap", "utm",
)
EXPECTED = "a mapping with name, template (or variants) and audience"
SOURCES = ("segment", "list", "rule")
MEMBERSHIPS = ("segment", "list")
VARIANT_KEYS = ("key", "template", "subject", "sample")
THROTTLE = re.compile(r"(\d+)\s*/\s*(\d*)\s*([smhd])")
THROTTLE_EXAMPLE = "such as '2000/h', '50/s', '500/10m' or '100000/d'"
SEND_AT_EXAMPLE = "an ISO date and time such as '2026-05-01T09:00' or '2026-05-01T09:00+02:00'"
TEMPLATE_RULE = "letters, digits, '-' and '_'"
LIST_RULE = "letters, digits, '.', '_', ':' and '-'"


def parse_campaign(text: str, source: str) -> Campaign:
    """One campaign; its key is `id:` or else the stem of `source`. Raises DefinitionErrors."""
    ctx = Context(source)
    parsed = _parse(text, ctx)
    if parsed is None:
        raise DefinitionErrors(ctx.sorted_errors())
    return parsed[0]


def load_campaign_texts(texts: Mapping[str, str]) -> dict[str, Campaign]:
    """The campaigns of `texts` (source -> YAML), by key, sorted; DefinitionErrors with every
    problem of every text, including a key used twice."""
    errors: list[DefinitionError] = []
    campaigns: dict[str, Campaign] = {}
    for source in sorted(texts):
        ctx = Context(source)
        parsed = _parse(texts[source], ctx)
        if parsed is None:
            errors.extend(ctx.sorted_errors())
            continue
        campaign, id_line = parsed
        if campaign.key in campaigns:
            other = campaigns[campaign.key].source
            message = f"duplicate campaign id '{campaign.key}' (also in {other})"
            errors.append(DefinitionError(source, id_line, message))
        else:
            campaigns[campaign.key] = campaign
    if errors:
        raise DefinitionErrors(errors)
    return {key: campaigns[key] for key in sorted(campaigns)}


def _parse(text: str, ctx: Context) -> tuple[Campaign, int | None] | None:
    """The campaign and the line of its `id:`, or None after reporting every problem."""
    root = compose_document(ctx, text, EXPECTED)
    doc = None if root is None else mapping(ctx, root, "", EXPECTED)
    if doc is None:
        return None
    unknown_keys(ctx, doc, TOP_KEYS, "")
    key, id_line = definition_key(ctx, doc.values.get("id"), kind="campaign", pattern=FLOW_ID)
    lines = {k: line_of(node) for k, node in doc.keys.items()}
    fields = Fields(ctx, doc, "")
    campaign_name = fields.get("name", single_line, "a campaign name", required=True)
    description = fields.get("description", string, "text", default="")
    template, test = _content(ctx, doc, fields, lines)
    subject = fields.get("subject", single_line, "a subject line")
    sender = fields.get("from", sender_address)
    audience = fields.get("audience", _audience, lines, required=True)
    send_at = fields.get("send_at", _send_at)
    local_time = fields.get("local_time", time_of_day)
    if "send_at" in doc.keys and "local_time" in doc.keys:
        ctx.error(doc.keys["local_time"], "local_time: give send_at or local_time, not both "
                  "(local_time sends at that hour in each contact's own timezone)")
    throttle = fields.get("throttle", _throttle)
    capped = fields.get("respect_frequency_cap", flag, default=True)
    utm = fields.get("utm", _utm, key or "", default=FrozenMap())
    if ctx.errors or key is None or campaign_name is None or audience is None:
        return None
    campaign = Campaign(
        key=key,
        name=campaign_name,
        audience=audience,
        source=ctx.source,
        template=template,
        test=test,
        subject=subject,
        sender=sender,
        send_at=send_at,
        local_time=local_time,
        throttle=throttle,
        respect_frequency_cap=capped,
        utm=utm,
        description=description.strip(),
        lines=FrozenMap(lines),
    )
    return campaign, id_line


# -- what is sent ---------------------------------------------------------------------------


def _content(
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


# -- who gets it ------------------------------------------------------------------------------


def _audience(ctx: Context, node: Node, label: str, lines: dict[str, int]) -> Audience | None:
    data = mapping(ctx, node, f"{label}: ", "a mapping such as {segment: vip}")
    if data is None:
        return None
    unknown_keys(ctx, data, (*SOURCES, "exclude"), f"{label}: ")
    given = [key for key in SOURCES if key in data.keys]
    if len(given) != 1:
        found = " and ".join(f"'{key}'" for key in given) or "none"
        where = data.keys[given[1]] if len(given) > 1 else node
        ctx.error(where, f"{label}: give exactly one of segment, list or rule (found {found})")
        return None
    kind = given[0]
    lines[f"audience.{kind}"] = line_of(data.values[kind])
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


# -- when and how fast -------------------------------------------------------------------------


def _send_at(ctx: Context, node: Node, label: str) -> datetime | None:
    # Unquoted, YAML reads 2026-05-01T09:00:00 as a timestamp; ctx.scalar keeps its text.
    text = node.value.strip() if isinstance(node, ScalarNode) and node.tag in (
        CORE + "str", CORE + "timestamp") else None
    if text is None:
        ctx.error(node, f"{label}: expected {SEND_AT_EXAMPLE}, got {describe(node)}")
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        ctx.error(node, f"{label}: '{text}' has no time of day; write e.g. '{text}T09:00'")
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        ctx.error(node, f"{label}: '{text}' is not {SEND_AT_EXAMPLE}")
        return None


def _throttle(ctx: Context, node: Node, label: str) -> Throttle | None:
    text = node.value.strip() if isinstance(node, ScalarNode) else None
    match = THROTTLE.fullmatch(text) if text is not None else None
    if match is None:
        ctx.error(node, f"{label}: expected emails per unit of time {THROTTLE_EXAMPLE}, "
                  f"got {describe(node)}")
        return None
    count, amount, unit = int(match.group(1)), int(match.group(2) or 1), match.group(3)
    if count == 0 or amount == 0:
        ctx.error(node, f"{label}: '{text}' is a rate of zero, which would never send; give a "
                  "positive rate or leave throttle out")
        return None
    return Throttle(count, timedelta(seconds=amount * THROTTLE_UNITS[unit]))


def _utm(ctx: Context, node: Node, label: str, campaign_key: str) -> FrozenMap | None:
    """UTM parameters by name without the `utm_` prefix; `campaign` defaults to the key."""
    data = mapping(ctx, node, f"{label}: ", "a mapping such as {source: drip, medium: email}")
    if data is None:
        return None
    failed = False
    values: dict[str, str] = {}
    for key, value_node in data.values.items():
        if key not in UTM_KEYS:
            hint = " (write it without 'utm_')" if key.removeprefix("utm_") in UTM_KEYS else \
                did_you_mean(key, UTM_KEYS)
            ctx.error(data.keys[key], f"{label}: unknown UTM parameter '{key}'{hint}")
            failed = True
            continue
        value = single_line(ctx, value_node, f"{label}: {key}", "text")
        if value is None:
            failed = True
        else:
            values[key] = value
    if failed:
        return None
    return FrozenMap({"campaign": campaign_key, **values})

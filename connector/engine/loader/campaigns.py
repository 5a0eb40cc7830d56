"""Load campaign definitions (`campaigns/<key>.yaml`) from YAML, with errors that name the
file and the line, the way flows and segments are loaded: every problem of every file at
once, unknown keys refused. The sections have their own modules (campaign_variants.py for the
content, campaign_audience.py); what a campaign refers to (templates, segments) and when it is sent
are checked against the rest of the workspace afterwards (campaign_lint.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path

from yaml.nodes import Node, ScalarNode

from connector.engine.campaigns import (
    THROTTLE_UNITS,
    UTM_KEYS,
    Campaign,
    Throttle,
)
from connector.engine.common import FrozenMap, did_you_mean
from connector.engine.loader.campaign_audience import parse_audience
from connector.engine.loader.campaign_variants import parse_content
from connector.engine.loader.steps import _sender as sender_address
from connector.engine.loader.values import (
    FLOW_ID,
    Fields,
    single_line,
    time_of_day,
)
from connector.engine.yamlnodes import (
    CORE,
    Context,
    DefinitionError,
    DefinitionErrors,
    compose_document,
    definition_key,
    describe,
    flag,
    line_of,
    load_folder,
    mapping,
    string,
    unknown_keys,
)

TOP_KEYS = (
    "id", "name", "description", "template", "variants", "pick_after", "pick_by", "subject",
    "from", "audience", "send_at", "local_time", "throttle", "respect_frequency_cap", "utm",
)
EXPECTED = "a mapping with name, template (or variants) and audience"
THROTTLE = re.compile(r"(\d+)\s*/\s*(\d*)\s*([smhd])")
THROTTLE_EXAMPLE = "such as '2000/h', '50/s', '500/10m' or '100000/d'"
SEND_AT_EXAMPLE = "an ISO date and time such as '2026-05-01T09:00' or '2026-05-01T09:00+02:00'"


def parse_campaign(text: str, source: str) -> Campaign:
    """One campaign; its key is `id:` or else the stem of `source`. Raises DefinitionErrors."""
    ctx = Context(source)
    parsed = _parse(text, ctx)
    if parsed is None:
        raise DefinitionErrors(ctx.sorted_errors())
    return parsed[0]


def load_campaigns(directory: Path) -> dict[str, Campaign]:
    """Every *.yaml / *.yml campaign in `directory` (not recursive), by key; a missing
    directory has none. Raises DefinitionErrors with every problem of every file."""
    directory = Path(directory)
    return load_folder(directory, load_campaign_texts) if directory.is_dir() else {}


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
    template, test = parse_content(ctx, doc, fields, lines)
    subject = fields.get("subject", single_line, "a subject line")
    sender = fields.get("from", sender_address)
    audience = fields.get("audience", parse_audience, lines, required=True)
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

"""Lints of a campaign: what depends on the rest of the workspace (templates, segments, the
account's lists) and on the time of the check (a `send_at` already past). Schema errors
are the loader's (campaigns.py); whether the audience resolves in SQL is checked outside
the pure engine (connector/workspaces/campaigns.py).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import datetime, tzinfo
from typing import Literal

from connector.engine.campaigns import Campaign, InlineRule
from connector.engine.common import did_you_mean
from connector.engine.loader.lint import Lint, Severity
from connector.engine.rules import referenced_lists, referenced_segments


def lint_campaign(
    campaign: Campaign,
    *,
    templates: Collection[str],
    segments: Collection[str] | None = None,
    lists: Collection[str] | None = None,
) -> list[Lint]:
    """Unknown templates and segments (errors), lists nobody is in (warnings: lists fill
    as contacts join them, so an empty one may be new). Segments and lists are checked
    only when the caller knows them (None: not checked)."""
    found: list[tuple[str, str, Severity]] = list(_templates(campaign, templates))
    if segments is not None:
        found += _unknown(_uses(campaign, "segment"), "segment", segments, "error")
    if lists is not None:
        found += [
            (where, f"{label}: no contact of the account is in list '{key}' (yet)", "warning")
            for where, label, key in _uses(campaign, "list")
            if key not in lists
        ]
    return _lints(campaign, found)


def lint_send_time(campaign: Campaign, *, now: datetime, timezone: tzinfo) -> list[Lint]:
    """A `send_at` that has passed is an error: the campaign would go out late, or, for
    one meant as the third day of a sale, on the wrong day. A wall time that does not
    exist in `timezone` (the hour skipped when DST starts) is a warning naming the time it
    is sent at instead."""
    starts = campaign.starts_at(timezone)
    if starts is None or campaign.send_at is None:
        return []
    written = campaign.send_at.isoformat(timespec="minutes")
    zone_name = "" if campaign.send_at.tzinfo else f" ({_zone_name(timezone)})"
    found: list[tuple[str, str, Severity]] = []
    if starts <= now:
        shown = now.astimezone(campaign.send_at.tzinfo or timezone).isoformat(timespec="minutes")
        message = (f"send_at: {written}{zone_name} is in the past (it is now {shown}); move "
                   "it later, or leave it out to send when the campaign is started")
        found.append(("send_at", message, "error"))
    elif not campaign.send_at.tzinfo:
        actual = starts.astimezone(timezone).replace(tzinfo=None)
        if actual != campaign.send_at:
            found.append(("send_at", f"send_at: {written} does not exist in "
                          f"{_zone_name(timezone)} (the clocks go forward); it is sent at "
                          f"{actual.isoformat(timespec='minutes')}", "warning"))
    return _lints(campaign, found)


def _lints(campaign: Campaign, found: list[tuple[str, str, Severity]]) -> list[Lint]:
    lints = [Lint(campaign.source, campaign.lines.get(key), message, severity)
             for key, message, severity in found]
    return sorted(lints, key=lambda lint: lint.line or 0)


def _templates(campaign: Campaign, known: Collection[str]) -> Iterator[tuple[str, str, Severity]]:
    choices = sorted(known)
    if campaign.test is None:
        uses = [("template", "template", campaign.template or "")]
    else:
        uses = [(f"variant:{v.key}", f"variants: {v.key}: template", v.template)
                for v in campaign.test.variants]
    for where, label, template in uses:
        if template not in known:
            hint = did_you_mean(template, choices) if choices else ""
            yield where, f"{label}: no template '{template}'{hint}", "error"


Use = tuple[str, str, str]  # (lines key, label, key)


def _uses(campaign: Campaign, kind: Literal["segment", "list"]) -> Iterator[Use]:
    """Every segment (or list) the audience names, inside an inline rule too."""
    audience = campaign.audience
    source = audience.source
    if isinstance(source, InlineRule):
        found = referenced_segments if kind == "segment" else referenced_lists
        for key in sorted(found(source.rule)):
            yield "audience.rule", f"audience: rule: in_{kind}", key
    elif source.kind == kind:
        yield f"audience.{kind}", f"audience: {kind}", source.key
    for index, member in enumerate(audience.exclude):
        if member.kind == kind:
            yield f"audience.exclude:{index}", f"audience: exclude: {kind}", member.key


def _unknown(
    uses: Iterator[Use], noun: str, known: Collection[str], severity: Severity
) -> Iterator[tuple[str, str, Severity]]:
    choices = sorted(known)
    for where, label, key in uses:
        if key not in known:
            hint = did_you_mean(key, choices) if choices else ""
            yield where, f"{label}: unknown {noun} '{key}'{hint}", severity


def _zone_name(timezone: tzinfo) -> str:
    return str(getattr(timezone, "key", None) or timezone)

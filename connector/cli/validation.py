"""`connector flows validate` and `connector campaigns validate`: schema errors and lints
for a directory or file of flows or campaigns."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from connector.email.templates import TemplateStore
from connector.engine.campaigns import Campaign
from connector.engine.flows import Flow
from connector.engine.loader import (
    lint_flow,
    load_campaigns,
    load_flows,
    parse_campaign,
    parse_flow,
)
from connector.engine.segments import load_segments
from connector.engine.yamlnodes import DefinitionErrors
from connector.workspaces.build import read_catalogue as parse_catalogue
from connector.workspaces.campaigns import campaign_lints, validate_campaigns
from connector.workspaces.files import CAMPAIGNS, CATALOGUE, FLOWS


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    flows: int | None = None  # how many were checked; None: not checked
    campaigns: int | None = None
    errors: int = 0
    warnings: int = 0

    def summary(self) -> str:
        """ "8 flow(s) valid, 2 campaign(s) valid, 0 warning(s)" """
        counts = [f"{n} {noun}(s) valid" for noun, n in
                  (("flow", self.flows), ("campaign", self.campaigns)) if n is not None]
        return ", ".join([*counts, f"{self.warnings} warning(s)"])


def validate_flows(
    target: Path,
    *,
    templates_dir: Path,
    segments_dir: Path,
    flows_dir: Path | None = None,
    campaigns_dir: Path | None = None,
    now: datetime | None = None,
    timezone: tzinfo = UTC,
) -> Report:
    """The flows of `target` (a folder or one file), then the campaigns of `campaigns_dir`
    when given (checked at `now`, a `send_at` without an offset read in `timezone`: the
    deployment's TIMEZONE, as no account is named)."""
    if campaigns_dir is not None and now is None:
        raise TypeError("validate_flows: campaigns are checked at a time; give now=")
    report = Report()
    flows = _load(target, report)
    segments = _segments(segments_dir, report)
    catalogue_dir = target if target.is_dir() else target.parent
    properties = read_catalogue(catalogue_dir / CATALOGUE)
    if properties is None and flows_dir is not None:
        properties = read_catalogue(flows_dir / CATALOGUE)
    templates = TemplateStore.from_directory(templates_dir).names()
    for key, flow in sorted(flows.items()):
        lints = lint_flow(flow, templates=templates, segments=segments, known_properties=properties)
        for lint in lints:
            report.lines.append(str(lint))
            report.errors += lint.severity == "error"
            report.warnings += lint.severity == "warning"
        report.lines.append(
            f"ok  {key}  ({len(flow.steps)} steps, version {flow.version})"
            if not any(lint.severity == "error" for lint in lints)
            else f"failed  {key}"
        )
    report.flows = len(flows)
    if campaigns_dir is not None and now is not None:  # (both or neither, see above)
        _check_campaigns(campaigns_dir, report, templates, segments, now, timezone, None)
    return report


def campaigns_folder(flows_dir: Path) -> Path:
    """The campaigns of the workspace a flows folder belongs to: `campaigns/` beside it
    (there is no CAMPAIGNS_DIR setting yet)."""
    return flows_dir.parent / CAMPAIGNS


def workspace_campaigns(target: Path) -> Path | None:
    """What `flows validate PATH` checks besides the flows: a workspace's `flows/` folder
    brings the `campaigns/` beside it; a single file or another folder, none."""
    return campaigns_folder(target) if target.is_dir() and target.name == FLOWS else None


def validate_campaign_files(
    target: Path,
    *,
    templates_dir: Path,
    segments_dir: Path,
    now: datetime,
    timezone: tzinfo = UTC,
    known_lists: Callable[[Collection[str]], Collection[str]] | None = None,
) -> Report:
    """Every campaign in `target` (a folder, or one file): schema errors, then per campaign
    its lints (templates, segments, SQL pushdown, a past send_at, and lists nobody is in
    when `known_lists` can tell which lists have members). A `send_at` without an offset
    is read in `timezone`: the account's, or without one the deployment's TIMEZONE."""
    report = Report()
    segments = _segments(segments_dir, report)
    templates = TemplateStore.from_directory(templates_dir).names()
    _check_campaigns(target, report, templates, segments, now, timezone, known_lists)
    return report


def _check_campaigns(
    target: Path,
    report: Report,
    templates: Collection[str],
    segments: Collection[str] | None,
    now: datetime,
    timezone: tzinfo,
    known_lists: Callable[[Collection[str]], Collection[str]] | None,
) -> None:
    campaigns = _load_campaigns(target, report)
    used = frozenset().union(*(c.audience.lists() for c in campaigns.values()))
    lists = None if known_lists is None else known_lists(used)
    lints = campaign_lints(campaigns.values(), templates=templates, segments=segments, lists=lists)
    lints += validate_campaigns(campaigns, now=now, timezone=timezone)
    for key, campaign in sorted(campaigns.items()):
        own = sorted((lint for lint in lints if lint.path == campaign.source),
                     key=lambda lint: lint.line or 0)
        for lint in own:
            report.lines.append(str(lint))
            report.errors += lint.severity == "error"
            report.warnings += lint.severity == "warning"
        failed = any(lint.severity == "error" for lint in own)
        report.lines.append(f"failed  {key}" if failed else f"ok  {key}  ({_outline(campaign)})")
    report.campaigns = len(campaigns)


def _outline(campaign: Campaign) -> str:
    sends = (f"template {campaign.template}" if campaign.test is None
             else f"{len(campaign.test.variants)} variants")
    return f"{sends} to {campaign.audience.source.describe()}, version {campaign.version}"


def _load_campaigns(target: Path, report: Report) -> dict[str, Campaign]:
    try:
        if target.is_dir():
            return load_campaigns(target)
        campaign = parse_campaign(target.read_text(), str(target))
        return {campaign.key: campaign}
    except DefinitionErrors as exc:
        report.lines += [str(e) for e in exc.errors]
        report.errors += len(exc.errors)
        return {}


def read_catalogue(path: Path) -> frozenset[str] | None:
    return parse_catalogue(path.read_text()) if path.is_file() else None


def _load(target: Path, report: Report) -> dict[str, Flow]:
    try:
        if target.is_dir():
            return load_flows(target)
        flow = parse_flow(target.read_text(), str(target))
        return {flow.key: flow}
    except DefinitionErrors as exc:
        report.lines += [str(e) for e in exc.errors]
        report.errors += len(exc.errors)
        return {}


def _segments(directory: Path, report: Report) -> frozenset[str] | None:
    try:
        return frozenset(load_segments(directory))
    except DefinitionErrors as exc:
        report.lines += [str(e) for e in exc.errors]
        report.errors += len(exc.errors)
        return None

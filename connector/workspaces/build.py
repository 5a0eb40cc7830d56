"""An account's definitions built from its workspace files: flows, segments, templates and
campaigns, parsed once per version, and the checks `deploy` and `flows validate` run over
them."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

from connector.email.errors import TemplateError
from connector.email.templates import TemplateStore
from connector.engine.campaigns import Campaign
from connector.engine.facts import HISTORY
from connector.engine.flows import Flow
from connector.engine.loader import (
    FlowErrors,
    flow_rules,
    lint_flow,
    load_campaign_texts,
    load_flow_texts,
)
from connector.engine.rules import history_window
from connector.engine.segments import Segment, load_segment_texts
from connector.engine.yamlnodes import DefinitionErrors
from connector.workspaces.campaigns import campaign_lints
from connector.workspaces.files import (
    CAMPAIGNS,
    CATALOGUE,
    FLOWS,
    SEGMENTS,
    TEMPLATES,
    WorkspaceError,
    digest,
    part,
)

# A recipient as bare as they come: every template must render for one (merge tags with
# no value print as nothing), so a template that cannot is caught at deploy time.
SAMPLE_CONTEXT = {
    "contact": {"email": "sample@example.com", "crm_id": None},
    "event": None,
    "unsubscribe_url": "https://example.com/u/sample",
    "preferences_url": "https://example.com/u/sample",
    "company": {"name": "Example Co.", "address": "1 Example Street"},
}


@dataclass(frozen=True)
class Workspace:
    """One version of an account's definitions; immutable, shared by every job that
    runs for the account while the version is live."""

    files: Mapping[str, str] = field(repr=False)
    digest: str
    flows: Mapping[str, Flow]
    segments: Mapping[str, Segment]
    templates: TemplateStore = field(repr=False)
    properties: frozenset[str] | None  # flows/properties.txt, None when absent
    campaigns: Mapping[str, Campaign] = field(default_factory=dict)

    @cached_property
    def history(self) -> timedelta | None:
        """How far back contact facts are loaded: the longest window any rule in use looks
        at (at least a year and a bit, for waits and caps), None when one counts over all
        history."""
        rules = [segment.rule for segment in self.segments.values()]
        rules += [rule for flow in self.flows.values() for _, _, rule in flow_rules(flow)]
        windows = [history_window(rule) for rule in rules]
        if any(window is None for window in windows):
            return None
        return max([HISTORY, *[w for w in windows if w is not None]])

    @cached_property
    def transactional_keys(self) -> frozenset[str]:
        return frozenset(k for k, f in self.flows.items() if f.settings.transactional)



def build_workspace(files: Mapping[str, str]) -> Workspace:
    """Parse every flow, segment and campaign; WorkspaceError with every schema error of
    every file. (Whether a campaign's `send_at` has passed depends on the time: not here.)

    Templates are compiled when first rendered, not here: a worker building an account's
    definitions for an event renders none (deploy has checked their syntax)."""
    errors: list[str] = []
    try:
        flows = load_flow_texts(_definitions(files, FLOWS))
    except FlowErrors as exc:
        errors += [str(e) for e in exc.errors]
        flows = {}
    try:
        segments = load_segment_texts(_definitions(files, SEGMENTS))
    except DefinitionErrors as exc:
        errors += [str(e) for e in exc.errors]
        segments = {}
    try:
        campaigns = load_campaign_texts(_definitions(files, CAMPAIGNS))
    except DefinitionErrors as exc:
        errors += [str(e) for e in exc.errors]
        campaigns = {}
    if errors:
        raise WorkspaceError(errors)
    catalogue = files.get(f"{FLOWS}/{CATALOGUE}")
    return Workspace(
        files=dict(files),
        digest=digest(files),
        flows=flows,
        segments=segments,
        templates=TemplateStore(part(files, TEMPLATES)),
        properties=None if catalogue is None else read_catalogue(catalogue),
        campaigns=campaigns,
    )


@dataclass(frozen=True)
class Checked:
    """What `check_workspace` found: errors refuse a deploy, warnings do not."""

    workspace: Workspace | None
    errors: list[str]
    warnings: list[str]


def check_workspace(files: Mapping[str, str], *, fallback_properties: frozenset[str] | None = None
                    ) -> Checked:
    """Everything `flows validate` checks (schema errors and lints, the campaigns' too but
    their `send_at`), every template compiled and rendered for a bare sample recipient,
    every segment parsed.

    Pure, so remembered for the last few workspaces: deploying the same files again (the
    default workspace to every new account) costs one hash, not a render of every template.
    """
    key = (digest(files), fallback_properties)
    with _lock:
        checked = _checked.get(key)
    if checked is None:
        checked = _check(files, fallback_properties)
        with _lock:
            _checked[key] = checked
            while len(_checked) > MAX_REMEMBERED:
                del _checked[next(iter(_checked))]
    return checked


MAX_REMEMBERED = 8
_checked: dict[tuple[str, frozenset[str] | None], Checked] = {}
_lock = threading.Lock()


def _check(files: Mapping[str, str], fallback_properties: frozenset[str] | None) -> Checked:
    syntax = [_template_error(e) for e in TemplateStore(part(files, TEMPLATES)).check_syntax()]
    try:
        workspace = build_workspace(files)
    except WorkspaceError as exc:
        return Checked(None, exc.errors + syntax, [])
    if syntax:
        return Checked(None, syntax, [])
    errors: list[str] = []
    warnings: list[str] = []
    names = workspace.templates.names()
    properties = workspace.properties if workspace.properties is not None else fallback_properties
    for flow in workspace.flows.values():
        for lint in lint_flow(
            flow, templates=names, segments=workspace.segments, known_properties=properties
        ):
            (errors if lint.severity == "error" else warnings).append(str(lint))
    for lint in campaign_lints(
        workspace.campaigns.values(), templates=names, segments=workspace.segments
    ):
        (errors if lint.severity == "error" else warnings).append(str(lint))
    for name in names:
        try:
            workspace.templates.render(name, SAMPLE_CONTEXT)
        except TemplateError as exc:
            message = _template_error(exc)
            # Invalid MJML is broken for everyone; a render that fails only for a bare
            # sample recipient (no event, no properties) may be fine for real ones.
            (errors if exc.reason.startswith("invalid MJML") else warnings).append(message)
    return Checked(workspace if not errors else None, errors, warnings)


def read_catalogue(text: str) -> frozenset[str]:
    names = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return frozenset(name for name in names if name)


def _definitions(files: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {
        f"{prefix}/{path}": text
        for path, text in part(files, prefix).items()
        if path.endswith((".yaml", ".yml"))
    }


def _template_error(exc: TemplateError) -> str:
    where = f"{TEMPLATES}/{exc.template}/{exc.source or ''}".rstrip("/")
    if exc.line is not None:
        where += f":{exc.line}"
    return f"{where}: {exc.reason}"

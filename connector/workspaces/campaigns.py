"""The checks of a workspace's campaigns that go beyond their files: the audience must
resolve in SQL (campaigns freeze their recipients with one query, connector/segment_sql.py),
a `send_at` must not have passed, and the lists they name should have members.

`campaign_lints` is pure and time-free (the workspace check, remembered per digest, runs
it); `validate_campaigns` depends on the time and the account's timezone (a `send_at`
without an offset is a wall time there: connector/workspaces/live.py `account_timezone`),
so `deploy` and `validate` run it at the moment they check, with that zone.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import UTC, datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.engine.campaigns import Campaign, InlineRule
from connector.engine.common import canonical_json
from connector.engine.loader import Lint, lint_campaign, lint_send_time, parse_campaign
from connector.engine.rules import Rule, rule_to_dict
from connector.engine.yamlnodes import DefinitionErrors
from connector.models import ListMembership
from connector.segment_sql import audience_query
from connector.workspaces.files import CAMPAIGNS, part

# Whether a rule pushes down does not depend on the account or the time; the query built
# to find out is never run.
_ANY_ACCOUNT, _ANY_TIME = 0, datetime(2000, 1, 1, tzinfo=UTC)


def campaign_lints(
    campaigns: Iterable[Campaign],
    *,
    templates: Collection[str],
    segments: Collection[str] | None,
    lists: Collection[str] | None = None,
) -> list[Lint]:
    """Every time-free lint of every campaign, in file and line order."""
    lints: list[Lint] = []
    for campaign in campaigns:
        lints += lint_campaign(campaign, templates=templates, segments=segments, lists=lists)
        lints += pushdown_lints(campaign)
    return sorted(lints, key=lambda lint: (lint.path, lint.line or 0))


def pushdown_lints(campaign: Campaign) -> list[Lint]:
    """An inline audience rule with a part SQL cannot evaluate is an error. (Segments and
    lists always resolve: they are membership rows, kept up to date contact by contact.)"""
    source = campaign.audience.source
    if not isinstance(source, InlineRule) or _residual(source.rule) is None:
        return []
    parts = ", ".join(canonical_json(rule_to_dict(leaf)) for leaf in _unpushed(source.rule))
    message = (
        f"audience: rule: cannot be resolved in SQL: {parts} (contains, bucket, link "
        "patterns with [...] and list indexes in property paths are evaluated contact by "
        "contact); put the rule in a segment and use audience: segment:"
    )
    return [Lint(campaign.source, campaign.lines.get("audience.rule"), message, "error")]


def validate_campaigns(
    campaigns: Mapping[str, Campaign],
    *,
    now: datetime,
    timezone: tzinfo = UTC,
    started: Collection[str] = (),
) -> list[Lint]:
    """The time-dependent lints: a `send_at` in the past is an error, except for the
    campaigns in `started` (already scheduled or sent: their time has rightly passed).
    `timezone` is the account's (UTC: the deployment default's own default)."""
    lints: list[Lint] = []
    for key, campaign in campaigns.items():
        if key not in started:
            lints += lint_send_time(campaign, now=now, timezone=timezone)
    return lints


def send_time_errors(files: Mapping[str, str], *, now: datetime,
                     timezone: tzinfo = UTC, started: Collection[str] = ()
                     ) -> list[str]:
    """The time-dependent errors of a workspace's campaign files ("path:line: error: ..."),
    for `deploy`; a file that does not parse gives none here (the workspace check reports
    it) and hides nothing of the others."""
    campaigns: dict[str, Campaign] = {}
    for path, text in sorted(part(files, CAMPAIGNS).items()):
        if path.endswith((".yaml", ".yml")):
            try:
                campaign = parse_campaign(text, f"{CAMPAIGNS}/{path}")
            except DefinitionErrors:
                continue
            campaigns.setdefault(campaign.key, campaign)
    lints = validate_campaigns(campaigns, now=now, timezone=timezone, started=started)
    return [str(lint) for lint in lints if lint.severity == "error"]


def known_lists(session: Session, account_id: int, keys: Collection[str]) -> set[str]:
    """Which of `keys` name a list at least one of the account's contacts is in."""
    if not keys:
        return set()
    return set(
        session.scalars(
            select(ListMembership.list_key)
            .where(ListMembership.account_id == account_id, ListMembership.list_key.in_(keys))
            .distinct()
        )
    )


def _residual(rule: Rule) -> Rule | None:
    return audience_query(rule, account_id=_ANY_ACCOUNT, now=_ANY_TIME)[1]


def _unpushed(rule: Rule) -> Iterator[Rule]:
    """The leaves that keep `rule` from being pushed down, in the order written."""
    stack = [rule]
    while stack:
        current = stack.pop()
        children = current.children()
        if children:
            stack.extend(reversed(children))
        elif _residual(current) is not None:
            yield current


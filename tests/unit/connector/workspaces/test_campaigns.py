"""A workspace's campaigns: parsed with the rest, checked against its templates and
segments, their audience resolvable in SQL, and their send_at checked at a given time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connector.engine.loader import parse_campaign
from connector.workspaces import WorkspaceError, build_workspace, check_workspace
from connector.workspaces.campaigns import pushdown_lints, send_time_errors, validate_campaigns
from connector.workspaces.files import read_folder
from tests.support.paths import ROOT

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REPO = read_folder(ROOT)


def with_campaign(text: str, name: str = "c") -> dict[str, str]:
    return {**REPO, f"campaigns/{name}.yaml": text}


def test_the_repo_ships_two_valid_campaigns() -> None:
    checked = check_workspace(REPO)
    assert (checked.errors, checked.warnings) == ([], [])
    assert checked.workspace is not None
    assert sorted(checked.workspace.campaigns) == ["spring-sale", "weekend-ab"]
    assert validate_campaigns(checked.workspace.campaigns, now=NOW) == []


def test_schema_errors_refuse_the_build_with_the_other_files_errors() -> None:
    files = with_campaign("name: C\ntemplate: seasonal-sale\n")
    files["segments/bad.yaml"] = "name: Bad\n"
    with pytest.raises(WorkspaceError) as refused:
        build_workspace(files)
    assert refused.value.errors == [
        "segments/bad.yaml:1: missing required key 'rule'",
        "campaigns/c.yaml:1: missing required key 'audience'",
    ]


def test_unknown_templates_and_segments_fail_the_check() -> None:
    checked = check_workspace(with_campaign(
        "name: C\ntemplate: seasonal-sal\naudience:\n  segment: vips\n"))
    assert checked.workspace is None
    assert checked.errors == [
        "campaigns/c.yaml:2: error: template: no template 'seasonal-sal' (did you mean "
        "'seasonal-sale'?)",
        "campaigns/c.yaml:4: error: audience: segment: unknown segment 'vips' (did you mean "
        "'vip'?)",
    ]


def campaign_with_rule(rule: str) -> list[str]:
    campaign = parse_campaign(
        f"name: C\ntemplate: t\naudience:\n  rule: {rule}\n", "campaigns/c.yaml")
    return [str(lint) for lint in pushdown_lints(campaign)]


def test_an_inline_rule_sql_resolves_passes() -> None:
    assert campaign_with_rule(
        "{all: [{property: country, in: [CH, DE]}, {event: order.completed, within: 90d}, "
        "{clicked: any, within: 30d}, {in_list: newsletter}, {not: {in_segment: vip}}]}"
    ) == []


def test_an_inline_rule_with_parts_sql_cannot_resolve_is_an_error_naming_them() -> None:
    assert campaign_with_rule(
        "{all: [{property: country, eq: CH}, {any: [{property: email, contains: shop}, "
        "{bucket: {lt: 10}}]}]}"
    ) == [
        'campaigns/c.yaml:4: error: audience: rule: cannot be resolved in SQL: '
        '{"kind":"property","op":"contains","property":"email","value":"shop"}, '
        '{"kind":"bucket","op":"lt","salt":"","value":10} (contains, bucket, link patterns with '
        "[...] and list indexes in property paths are evaluated contact by contact); put the "
        "rule in a segment and use audience: segment:"
    ]


def test_segment_and_list_audiences_always_resolve() -> None:
    campaign = parse_campaign(
        "name: C\ntemplate: t\naudience: {list: x, exclude: [{segment: y}]}\n", "c.yaml")
    assert pushdown_lints(campaign) == []


def test_the_pushdown_error_refuses_a_deploy_check() -> None:
    checked = check_workspace(with_campaign(
        "name: C\ntemplate: seasonal-sale\naudience:\n  rule: {bucket: {lt: 5}}\n"))
    assert checked.workspace is None
    assert [e.split(": cannot")[0] for e in checked.errors] == [
        "campaigns/c.yaml:4: error: audience: rule"]


def test_send_at_in_the_past_is_found_at_the_time_given() -> None:
    files = with_campaign(
        "name: C\ntemplate: seasonal-sale\naudience: {segment: vip}\nsend_at: 2026-03-01T12:00\n")
    # The time-free check passes it; deploying it at noon or later does not.
    assert check_workspace(files).errors == []
    assert send_time_errors(files, now=datetime(2026, 3, 1, 11, 59, tzinfo=UTC)) == []
    assert send_time_errors(files, now=NOW) == [
        "campaigns/c.yaml:4: error: send_at: 2026-03-01T12:00 (UTC) is in the past (it is now "
        "2026-03-01T12:00+00:00); move it later, or leave it out to send when the campaign is "
        "started"
    ]


def test_a_broken_file_hides_no_other_campaigns_lateness() -> None:
    files = with_campaign(
        "name: C\ntemplate: seasonal-sale\naudience: {segment: vip}\nsend_at: 2026-01-01T09:00\n")
    files["campaigns/broken.yaml"] = "name: [\n"
    assert [e.split(": send_at")[0] for e in send_time_errors(files, now=NOW)] == [
        "campaigns/c.yaml:4: error"]


def test_a_started_campaign_may_have_a_past_send_at() -> None:
    campaign = parse_campaign(
        "name: C\ntemplate: t\naudience: {segment: vip}\nsend_at: 2026-01-01T09:00\n", "c.yaml")
    assert validate_campaigns({"c": campaign}, now=NOW, started={"c"}) == []
    assert len(validate_campaigns({"c": campaign}, now=NOW)) == 1

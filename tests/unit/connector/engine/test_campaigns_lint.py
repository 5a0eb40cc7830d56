"""A campaign's lints: templates and segments that do not exist, lists nobody is in, and a
send_at that has passed (or that DST skips), each with its file and line."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from connector.engine.loader import lint_campaign, lint_send_time, parse_campaign

TEMPLATES = ["seasonal-sale", "welcome"]
SEGMENTS = ["customers", "vip"]
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")


def lints(text: str, templates: list[str], segments: list[str] | None = None,
          lists: list[str] | None = None) -> list[str]:
    campaign = parse_campaign(text, "campaigns/c.yaml")
    found = lint_campaign(campaign, templates=templates, segments=segments, lists=lists)
    return [str(lint) for lint in found]


def at(send_at: str, now: datetime = NOW) -> list[str]:
    campaign = parse_campaign(
        f"name: S\ntemplate: welcome\naudience: {{segment: vip}}\nsend_at: '{send_at}'\n",
        "campaigns/c.yaml",
    )
    return [str(lint) for lint in lint_send_time(campaign, now=now, timezone=PARIS)]


def test_a_sound_campaign_has_no_lints() -> None:
    text = ("name: S\ntemplate: seasonal-sale\naudience:\n  segment: customers\n"
            "  exclude: [{segment: vip}, {list: staff}]\n")
    assert lints(text, templates=TEMPLATES, segments=SEGMENTS, lists=["staff"]) == []


def test_unknown_templates_and_segments_are_errors() -> None:
    text = (
        "name: S\n"
        "variants:\n"
        "  - {key: a, template: seasonal-sal, sample: 0.5}\n"
        "  - {key: b, template: welcome, sample: 0.5}\n"
        "audience:\n"
        "  rule: {any: [{in_segment: vipp}, {in_segment: customers}]}\n"
        "  exclude:\n"
        "    - segment: customer\n"
    )
    assert lints(text, templates=TEMPLATES, segments=SEGMENTS) == [
        "campaigns/c.yaml:3: error: variants: a: template: no template 'seasonal-sal' "
        "(did you mean 'seasonal-sale'?)",
        "campaigns/c.yaml:6: error: audience: rule: in_segment: unknown segment 'vipp' "
        "(did you mean 'vip'?)",
        "campaigns/c.yaml:8: error: audience: exclude: segment: unknown segment 'customer' "
        "(did you mean 'customers'?)",
    ]


def test_segments_and_lists_are_checked_only_when_known() -> None:
    text = "name: S\ntemplate: nope\naudience: {segment: nope}\n"
    assert lints(text, templates=[]) == ["campaigns/c.yaml:2: error: template: no template 'nope'"]


def test_a_list_nobody_is_in_is_a_warning() -> None:
    text = ("name: S\ntemplate: welcome\naudience:\n  list: newsletter\n"
            "  exclude: [{list: staff}, {list: newsletter-bounces}]\n")
    assert lints(text, templates=TEMPLATES, lists=["staff"]) == [
        "campaigns/c.yaml:4: warning: audience: list: no contact of the account is in list "
        "'newsletter' (yet)",
        "campaigns/c.yaml:5: warning: audience: exclude: list: no contact of the account is in "
        "list 'newsletter-bounces' (yet)",
    ]


def test_a_send_at_in_the_past_is_an_error() -> None:
    # Noon UTC is 13:00 in Paris, where a send_at without an offset is read.
    assert at("2026-03-01T13:01") == []
    assert at("2026-03-01T13:00") == [
        "campaigns/c.yaml:4: error: send_at: 2026-03-01T13:00 (Europe/Paris) is in the past "
        "(it is now 2026-03-01T13:00+01:00); move it later, or leave it out to send when the "
        "campaign is started"
    ]
    assert at("2026-03-01T11:59:00+00:00") == [
        "campaigns/c.yaml:4: error: send_at: 2026-03-01T11:59+00:00 is in the past (it is now "
        "2026-03-01T12:00+00:00); move it later, or leave it out to send when the campaign "
        "is started"
    ]


def test_a_wall_time_dst_skips_is_a_warning_naming_the_real_time() -> None:
    assert at("2026-03-29T02:30") == [
        "campaigns/c.yaml:4: warning: send_at: 2026-03-29T02:30 does not exist in "
        "Europe/Paris (the clocks go forward); it is sent at 2026-03-29T03:30"
    ]
    assert at("2026-10-25T02:30") == []  # happens twice: the first, no warning


def test_no_send_at_no_time_lint() -> None:
    campaign = parse_campaign("name: S\ntemplate: t\naudience: {segment: vip}\n", "c.yaml")
    assert lint_send_time(campaign, now=NOW, timezone=PARIS) == []

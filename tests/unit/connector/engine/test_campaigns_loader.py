"""campaigns/<key>.yaml read into Campaign definitions: every field, and every schema error
with its exact message, file and line."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connector.engine.campaigns import ABTest, Audience, InlineRule, Membership, Throttle, Variant
from connector.engine.loader import load_campaign_texts, load_campaigns, parse_campaign
from connector.engine.rules import All, Any_, ListRule, Not, PropertyRule, SegmentRule
from connector.engine.yamlnodes import DefinitionErrors

HEAD = "name: Sale\ntemplate: sale\n"  # lines 1-2
SEG = "audience: {segment: vip}\n"  # line 3 after HEAD
TWO = ("name: S\nvariants:\n  - {key: a, template: t, sample: 0.1}\n"
       "  - {key: b, template: t, sample: 0.1}\n")  # lines 1-4
THROTTLES = "such as '2000/h', '50/s', '500/10m' or '100000/d'"
SEND_AT = "an ISO date and time such as '2026-05-01T09:00' or '2026-05-01T09:00+02:00'"
SHARE = "a share of the audience, more than 0 and less than 1 (0.1 is 10%)"


def errors_of(text: str, source: str = "campaigns/c.yaml") -> list[str]:
    with pytest.raises(DefinitionErrors) as caught:
        parse_campaign(text, source)
    return [str(error) for error in caught.value.errors]


def test_a_campaign_with_every_key() -> None:
    campaign = parse_campaign(
        "name: Spring sale\n"
        "description: |\n  For the engaged ones.\n"
        "template: seasonal-sale\n"
        "subject: 'Spring: 20% off'\n"
        "from: Shop <news@shop.example>\n"
        "audience:\n"
        "  list: 123\n"
        "  exclude:\n"
        "    - segment: vip\n"
        "    - list: staff\n"
        "send_at: 2026-05-01T09:00:00+02:00\n"
        "throttle: 2000/h\n"
        "respect_frequency_cap: false\n"
        "utm: {source: drip, medium: email, content: hero}\n",
        "campaigns/spring-sale.yaml",
    )
    assert campaign.key == "spring-sale"
    assert (campaign.name, campaign.description) == ("Spring sale", "For the engaged ones.")
    assert (campaign.template, campaign.test) == ("seasonal-sale", None)
    assert (campaign.subject, campaign.sender) == ("Spring: 20% off", "Shop <news@shop.example>")
    assert campaign.audience == Audience(
        Membership("list", "123"), (Membership("segment", "vip"), Membership("list", "staff"))
    )
    assert campaign.send_at == datetime(2026, 5, 1, 9, tzinfo=timezone(timedelta(hours=2)))
    assert campaign.starts_at(UTC) == datetime(2026, 5, 1, 7, tzinfo=UTC)
    assert campaign.throttle == Throttle(2000, timedelta(hours=1))
    assert str(campaign.throttle) == "2000/h"
    assert campaign.respect_frequency_cap is False
    # utm_campaign defaults to the key.
    assert dict(campaign.utm) == {"campaign": "spring-sale", "source": "drip",
                                  "medium": "email", "content": "hero"}
    assert campaign.templates == ["seasonal-sale"]
    assert campaign.lines["audience.exclude:1"] == 11


def test_defaults_and_an_inline_rule() -> None:
    campaign = parse_campaign(
        "name: Re-engage\ntemplate: t\naudience:\n  rule: {property: country, eq: CH}\n"
        "  exclude: [{segment: engaged}]\n",
        "campaigns/re-engage.yaml",
    )
    assert campaign.audience.source == InlineRule(PropertyRule("country", "eq", "CH"))
    assert campaign.audience.as_rule() == All((
        PropertyRule("country", "eq", "CH"), Not(SegmentRule("engaged"))))
    assert (campaign.send_at, campaign.local_time, campaign.throttle) == (None, None, None)
    assert campaign.respect_frequency_cap is True
    assert dict(campaign.utm) == {}  # no utm: key, no parameters added
    assert (campaign.subject, campaign.sender, campaign.description) == (None, None, "")


def test_an_ab_test() -> None:
    campaign = parse_campaign(
        "name: Weekend\nsubject: Fallback\nvariants:\n"
        "  - {key: a, template: sale, subject: 'Now!', sample: 0.1}\n"
        "  - {key: b, template: spotlight, sample: 0.15}\n"
        "pick_after: 4h\npick_by: opens\naudience: {segment: customers}\n"
        "local_time: '09:00'\nthrottle: 50/s\n",
        "campaigns/weekend.yaml",
    )
    assert campaign.template is None
    assert campaign.test == ABTest(
        (Variant("a", "sale", 0.1, "Now!"), Variant("b", "spotlight", 0.15)),
        timedelta(hours=4), "opens",
    )
    assert campaign.test.rest == 0.75
    assert campaign.templates == ["sale", "spotlight"]
    assert (campaign.subject, campaign.local_time) == ("Fallback", time(9, 0))
    assert campaign.throttle is not None and campaign.throttle.per_second == 50
    assert (campaign.lines["variant:a"], campaign.lines["variant:b"]) == (4, 5)


def test_samples_may_take_the_whole_audience_without_a_pick() -> None:
    campaign = parse_campaign(
        "name: S\nvariants:\n  - {key: a, template: t, sample: 0.7}\n"
        "  - {key: b, template: t, sample: 0.2}\n  - {key: c, template: t, sample: 0.1}\n" + SEG,
        "campaigns/split.yaml",
    )
    assert campaign.test is not None
    assert (campaign.test.rest, campaign.test.pick_after, campaign.test.pick_by) == (
        0, None, "clicks")


@pytest.mark.parametrize(
    ("written", "count", "per"),
    [("2000/h", 2000, timedelta(hours=1)), ("50/s", 50, timedelta(seconds=1)),
     ("500 / 10m", 500, timedelta(minutes=10)), ("100000/d", 100000, timedelta(days=1)),
     ("30/m", 30, timedelta(minutes=1))],
)
def test_throttles(written: str, count: int, per: timedelta) -> None:
    campaign = parse_campaign(HEAD + SEG + f"throttle: {written}\n", "campaigns/c.yaml")
    assert campaign.throttle == Throttle(count, per)


def test_send_at_without_an_offset_is_a_wall_time() -> None:
    campaign = parse_campaign(HEAD + SEG + "send_at: '2026-05-01 09:30'\n", "campaigns/c.yaml")
    assert campaign.send_at == datetime(2026, 5, 1, 9, 30)
    assert campaign.starts_at(ZoneInfo("Europe/Paris")) == datetime(2026, 5, 1, 7, 30, tzinfo=UTC)


def test_exclusions_combine_into_one_rule() -> None:
    campaign = parse_campaign(
        HEAD + "audience:\n  segment: a\n  exclude: [{segment: b}, {list: c}]\n", "campaigns/c.yaml"
    )
    assert campaign.audience.as_rule() == All(
        (SegmentRule("a"), Not(Any_((SegmentRule("b"), ListRule("c"))))))
    assert campaign.audience.lists() == {"c"}


def test_the_version_changes_with_what_is_sent_not_with_comments() -> None:
    first = parse_campaign(HEAD + SEG, "campaigns/c.yaml")
    assert parse_campaign("# a comment\n" + HEAD + SEG, "campaigns/c.yaml").version == (
        first.version)
    assert parse_campaign(HEAD + SEG + "throttle: 5/s\n", "campaigns/c.yaml").version != (
        first.version)


CASES: dict[str, tuple[str, list[str]]] = {
    # -- the document ---------------------------------------------------------------------
    "empty file": ("# nothing\n", [
        "campaigns/c.yaml: the document is empty; expected a mapping with name, template "
        "(or variants) and audience"]),
    "a list": ("- a\n", [
        "campaigns/c.yaml:1: expected a mapping with name, template (or variants) and "
        "audience, got a list"]),
    "nothing required": ("description: x\n", [
        "campaigns/c.yaml:1: missing required key 'name'",
        "campaigns/c.yaml:1: missing required key 'template' (or 'variants' for an A/B test)",
        "campaigns/c.yaml:1: missing required key 'audience'"]),
    "unknown key": (HEAD + SEG + "sendat: 2026-01-01T09:00\n", [
        "campaigns/c.yaml:4: unknown key 'sendat' (did you mean 'send_at'?)"]),
    "duplicate key": (HEAD + SEG + "template: other\n", [
        "campaigns/c.yaml:4: duplicate key 'template' (first on line 2)"]),
    "empty name": ("name: ''\ntemplate: t\n" + SEG, [
        "campaigns/c.yaml:1: name: expected a campaign name, got an empty string"]),
    "bad id": ("id: Spring_Sale\n" + HEAD + SEG, [
        "campaigns/c.yaml:1: id: invalid campaign id 'Spring_Sale' (lowercase letters, "
        "digits and '-')"]),
    "bad template name": ("name: S\ntemplate: 'a b'\n" + SEG, [
        "campaigns/c.yaml:2: template: invalid template name 'a b' (letters, digits, '-' "
        "and '_')"]),
    "multi-line subject": (HEAD + SEG + "subject: |\n  a\n  b\n", [
        "campaigns/c.yaml:4: subject: must be a single line"]),
    "from not an address": (HEAD + SEG + "from: nobody\n", [
        "campaigns/c.yaml:4: from: expected an address such as 'Ann <ann@shop.example>', "
        "got 'nobody'"]),
    # -- content: template or variants ------------------------------------------------------
    "template and variants": (HEAD + "variants: []\n" + SEG, [
        "campaigns/c.yaml:3: variants: give template or variants, not both (each variant "
        "names its own template)"]),
    "pick without variants": (HEAD + SEG + "pick_after: 4h\npick_by: opens\n", [
        "campaigns/c.yaml:4: pick_after: only an A/B test (variants:) picks a winner",
        "campaigns/c.yaml:5: pick_by: only an A/B test (variants:) picks a winner"]),
    "variants not a list": ("name: S\nvariants: {a: 1}\n" + SEG, [
        "campaigns/c.yaml:2: variants: expected a list of {key, template, sample}, got a "
        "mapping"]),
    "one variant": ("name: S\nvariants:\n  - {key: a, template: t, sample: 0.5}\n" + SEG, [
        "campaigns/c.yaml:3: variants: an A/B test needs at least two variants, got 1"]),
    "bad variants": (
        "name: S\nvariants:\n  - {key: a, template: t, sample: 1.5, subjet: x}\n"
        "  - {key: a, template: 'bad name', sample: 0}\n  - 7\n  - {template: t}\n" + SEG, [
            "campaigns/c.yaml:3: variants: variant 1: unknown key 'subjet' (did you mean "
            "'subject'?)",
            f"campaigns/c.yaml:3: variants: variant 1: sample: {SHARE}, got 1.5",
            "campaigns/c.yaml:4: variants: variant 2: template: invalid template name "
            "'bad name' (letters, digits, '-' and '_')",
            f"campaigns/c.yaml:4: variants: variant 2: sample: {SHARE}, got 0",
            "campaigns/c.yaml:4: variants: variant 2: key: variant 'a' is also variant 1",
            "campaigns/c.yaml:5: variants: variant 3: expected a mapping such as {key: a, "
            "template: sale, sample: 0.1}, got an integer 7",
            "campaigns/c.yaml:6: variants: variant 4: missing required key 'key'",
            "campaigns/c.yaml:6: variants: variant 4: missing required key 'sample'"]),
    "samples over the whole audience": (
        "name: S\nvariants:\n  - {key: a, template: t, sample: 0.6}\n"
        "  - {key: b, template: t, sample: 0.5}\n" + SEG, [
            "campaigns/c.yaml:3: variants: the samples add up to 1.1 (0.6 + 0.5), more than "
            "the whole audience; they must add up to 1 at most"]),
    "a rest with no pick_after": (TWO + SEG, [
        "campaigns/c.yaml:2: variants: the samples leave 80% of the audience for the winner: "
        "say when to pick it with pick_after (e.g. '4h')"]),
    "pick_after with no rest": (
        "name: S\nvariants:\n  - {key: a, template: t, sample: 0.5}\n"
        "  - {key: b, template: t, sample: 0.5}\n" + SEG + "pick_after: 2h\n", [
            "campaigns/c.yaml:6: pick_after: the samples take the whole audience, so nobody "
            "is left for a winner; lower the samples or leave pick_after out"]),
    "bad pick": (TWO + SEG + "pick_after: 0h\npick_by: click\n", [
        "campaigns/c.yaml:6: pick_after: duration '0h' is zero; it must be longer than zero",
        "campaigns/c.yaml:7: pick_by: unsupported value 'click' (did you mean 'clicks'?)"]),
    # -- audience ---------------------------------------------------------------------------
    "no source": (HEAD + "audience: {}\n", [
        "campaigns/c.yaml:3: audience: give exactly one of segment, list or rule (found none)"]),
    "two sources": (HEAD + "audience: {segment: vip, list: staff}\n", [
        "campaigns/c.yaml:3: audience: give exactly one of segment, list or rule (found "
        "'segment' and 'list')"]),
    "misspelt source": (HEAD + "audience: {segmnt: vip}\n", [
        "campaigns/c.yaml:3: audience: unknown key 'segmnt' (did you mean 'segment'?)"]),
    "audience a word": (HEAD + "audience: vip\n", [
        "campaigns/c.yaml:3: audience: expected a mapping such as {segment: vip}, got a "
        "string 'vip'"]),
    "bad segment and key": (HEAD + "audience:\n  segment: VIP\n  exlude: []\n", [
        "campaigns/c.yaml:4: audience: segment: invalid segment id 'VIP' (lowercase "
        "letters, digits and '-')",
        "campaigns/c.yaml:5: audience: unknown key 'exlude' (did you mean 'exclude'?)"]),
    "bad inline rule": (HEAD + "audience:\n  rule: {property: email, containz: x}\n", [
        "campaigns/c.yaml:4: audience: rule: unknown operator 'containz' (did you mean "
        "'contains'?)"]),
    "bad exclusions": (
        HEAD + "audience:\n  segment: vip\n  exclude:\n    - {segment: a, list: b}\n"
        "    - {segmnt: c}\n    - vip\n    - {list: '-x'}\n    - {}\n", [
            "campaigns/c.yaml:6: audience: exclude: 1: give one segment or one list per item",
            "campaigns/c.yaml:7: audience: exclude: 2: unknown key 'segmnt' (did you mean "
            "'segment'?)",
            "campaigns/c.yaml:8: audience: exclude: 3: expected {segment: KEY} or {list: "
            "KEY}, got a string 'vip'",
            "campaigns/c.yaml:9: audience: exclude: 4: list: invalid list name '-x' (letters, "
            "digits, '.', '_', ':' and '-')",
            "campaigns/c.yaml:10: audience: exclude: 5: give one segment or one list per "
            "item"]),
    "exclusions not a list": (HEAD + "audience:\n  segment: vip\n  exclude: {segment: a}\n", [
        "campaigns/c.yaml:5: audience: exclude: expected a list such as [{segment: vip}, "
        "{list: staff}], got a mapping"]),
    # -- when and how fast ----------------------------------------------------------------
    "send_at a date": (HEAD + SEG + "send_at: 2026-05-01\n", [
        "campaigns/c.yaml:4: send_at: '2026-05-01' has no time of day; write e.g. "
        "'2026-05-01T09:00'"]),
    "send_at words": (HEAD + SEG + "send_at: next friday\n", [
        f"campaigns/c.yaml:4: send_at: 'next friday' is not {SEND_AT}"]),
    "send_at a number": (HEAD + SEG + "send_at: 12\n", [
        f"campaigns/c.yaml:4: send_at: expected {SEND_AT}, got an integer 12"]),
    "send_at and local_time": (HEAD + SEG + "send_at: 2026-05-01T09:00\nlocal_time: '09:00'\n", [
        "campaigns/c.yaml:5: local_time: give send_at or local_time, not both (local_time "
        "sends at that hour in each contact's own timezone)"]),
    "local_time not a time": (HEAD + SEG + "local_time: 9am\n", [
        "campaigns/c.yaml:4: local_time: expected a time such as '09:00' (HH:MM), got a "
        "string '9am'"]),
    "throttle words": (HEAD + SEG + "throttle: fast\n", [
        f"campaigns/c.yaml:4: throttle: expected emails per unit of time {THROTTLES}, got a "
        "string 'fast'"]),
    "throttle without a unit": (HEAD + SEG + "throttle: 2000\n", [
        f"campaigns/c.yaml:4: throttle: expected emails per unit of time {THROTTLES}, got an "
        "integer 2000"]),
    "throttle per week": (HEAD + SEG + "throttle: 10/w\n", [
        f"campaigns/c.yaml:4: throttle: expected emails per unit of time {THROTTLES}, got a "
        "string '10/w'"]),
    "throttle zero": (HEAD + SEG + "throttle: 0/h\n", [
        "campaigns/c.yaml:4: throttle: '0/h' is a rate of zero, which would never send; give "
        "a positive rate or leave throttle out"]),
    "throttle zero window": (HEAD + SEG + "throttle: 10/0m\n", [
        "campaigns/c.yaml:4: throttle: '10/0m' is a rate of zero, which would never send; "
        "give a positive rate or leave throttle out"]),
    "frequency cap not a boolean": (HEAD + SEG + "respect_frequency_cap: yes\n", [
        "campaigns/c.yaml:4: respect_frequency_cap: expected true or false, got a string "
        "'yes'"]),
    "bad utm": (HEAD + SEG + "utm:\n  utm_source: x\n  medum: email\n  campaign: 12\n", [
        "campaigns/c.yaml:5: utm: unknown UTM parameter 'utm_source' (write it without "
        "'utm_')",
        "campaigns/c.yaml:6: utm: unknown UTM parameter 'medum' (did you mean 'medium'?)",
        "campaigns/c.yaml:7: utm: campaign: expected text, got an integer 12"]),
    "utm a word": (HEAD + SEG + "utm: drip\n", [
        "campaigns/c.yaml:4: utm: expected a mapping such as {source: drip, medium: email}, "
        "got a string 'drip'"]),
    "yaml anchors": (HEAD + "audience: &a {segment: vip}\nutm: *a\n", [
        "campaigns/c.yaml:3: YAML anchors and aliases are not allowed ('a')"]),
}


@pytest.mark.parametrize(("text", "expected"), CASES.values(), ids=CASES.keys())
def test_schema_error(text: str, expected: list[str]) -> None:
    assert errors_of(text) == expected


def test_a_file_name_that_is_not_an_id() -> None:
    assert errors_of(HEAD + SEG, "campaigns/Spring Sale.yaml") == [
        "campaigns/Spring Sale.yaml: the file name 'Spring Sale' is not a valid campaign id "
        "(lowercase letters, digits and '-'); rename the file or add 'id:'"]


def test_every_file_reports_its_errors_and_a_key_used_twice() -> None:
    with pytest.raises(DefinitionErrors) as caught:
        load_campaign_texts({
            "campaigns/a.yaml": HEAD + SEG,
            "campaigns/b.yaml": "id: a\n" + HEAD + SEG,
            "campaigns/c.yaml": HEAD,
        })
    assert [str(e) for e in caught.value.errors] == [
        "campaigns/b.yaml:1: duplicate campaign id 'a' (also in campaigns/a.yaml)",
        "campaigns/c.yaml:1: missing required key 'audience'",
    ]


def test_a_folder_of_campaigns(tmp_path: Path) -> None:
    assert load_campaigns(tmp_path / "missing") == {}
    (tmp_path / "b.yaml").write_text(HEAD + SEG)
    (tmp_path / "a.yml").write_text(HEAD + SEG)
    (tmp_path / ".#a.yaml").write_text("not: [yaml")
    (tmp_path / "notes.txt").write_text("not a campaign")
    assert list(load_campaigns(tmp_path)) == ["a", "b"]
    (tmp_path / "c.yaml").write_bytes(b"name: \xff\n")
    with pytest.raises(DefinitionErrors) as caught:
        load_campaigns(tmp_path)
    assert [str(e) for e in caught.value.errors] == [
        f"{tmp_path / 'c.yaml'}:1: the file is not UTF-8 text"]

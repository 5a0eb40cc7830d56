"""Segment files: parsing, loading a directory (ids, duplicates, references, cycles), the
dependency order, and evaluating every segment for one contact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connector.engine.facts import ContactFacts, EngagementFact, EventFact
from connector.engine.rules import EventRule, rule_to_dict
from connector.engine.segments import (
    Segment,
    evaluate_all,
    evaluation_order,
    load_segments,
    parse_segment,
)
from connector.engine.yamlnodes import DefinitionErrors

ROOT = Path(__file__).resolve().parents[4]
NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def write(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def errors_of(directory: Path) -> list[str]:
    with pytest.raises(DefinitionErrors) as caught:
        load_segments(directory)
    return [str(error).replace(str(directory) + "/", "") for error in caught.value.errors]


def segment(key: str, rule: str) -> Segment:
    return parse_segment(f"name: {key}\nrule: {rule}\n", f"segments/{key}.yaml")


def test_parse_a_segment() -> None:
    parsed = parse_segment(
        "name: VIP customers\ndescription: Big spenders\n"
        "rule: {event: order.completed, at_least: 3, within: 365d}\n",
        "segments/vip.yaml",
    )
    assert parsed.key == "vip"
    assert parsed.name == "VIP customers"
    assert parsed.description == "Big spenders"
    assert parsed.source == "segments/vip.yaml"
    assert parsed.rule == EventRule(event="order.completed", at_least=3, within=365 * DAY)
    assert len(parsed.version) == 16


def test_an_explicit_id_wins_over_the_file_name() -> None:
    parsed = parse_segment("id: big-spenders\nname: x\nrule: {in_list: a}\n", "segments/VIP.yml")
    assert parsed.key == "big-spenders"


def test_the_version_follows_the_rule_not_the_wording() -> None:
    one = parse_segment("name: A\nrule: {in_list: a}\n", "s/x.yaml")
    renamed = parse_segment("name: B\ndescription: new\nrule: {in_list: a}\n", "s/x.yaml")
    changed = parse_segment("name: A\nrule: {in_list: b}\n", "s/x.yaml")
    assert one.version == renamed.version != changed.version


@pytest.mark.parametrize(
    ("text", "source", "expected"),
    [
        ("", "segments/a.yaml",
         ["segments/a.yaml: the document is empty; expected a mapping with name and rule"]),
        ("- x\n", "segments/a.yaml",
         ["segments/a.yaml:1: expected a mapping with name and rule, got a list"]),
        ("description: x\n", "segments/a.yaml",
         ["segments/a.yaml:1: missing required key 'name'",
          "segments/a.yaml:1: missing required key 'rule'"]),
        ("name: a\nrule: {in_list: a}\nrules: x\n", "segments/a.yaml",
         ["segments/a.yaml:3: unknown key 'rules' (did you mean 'rule'?)"]),
        ("name: a\nrule: {in_list: a}\n", "segments/Big One.yaml",
         ["segments/Big One.yaml: the file name 'Big One' is not a valid segment id "
          "(lowercase letters, digits and '-'); rename the file or add 'id:'"]),
        ("id: VIP\nname: a\nrule: {in_list: a}\n", "segments/a.yaml",
         ["segments/a.yaml:1: id: invalid segment id 'VIP' (lowercase letters, digits and '-')"]),
        ("name: [a]\nrule: {in_list: a}\n", "segments/a.yaml",
         ["segments/a.yaml:1: name: expected a segment name, got a list"]),
        ("name: a\nrule:\n  all:\n    - {property: x, eq: 1}\n    - {property: y, gtt: 5}\n",
         "segments/vip.yaml",
         ["segments/vip.yaml:5: rule.all[1]: unknown operator 'gtt' (did you mean 'gt'?)"]),
    ],
)  # fmt: skip
def test_parse_errors(text: str, source: str, expected: list[str]) -> None:
    with pytest.raises(DefinitionErrors) as caught:
        parse_segment(text, source)
    assert [str(error) for error in caught.value.errors] == expected


def test_load_the_shipped_segments() -> None:
    segments = load_segments(ROOT / "segments")
    assert list(segments) == ["browsers-no-purchase", "customers", "engaged", "vip"]
    contact = ContactFacts(
        email="a@example.com",
        suppressed=False,
        properties={"lifecyclestage": "lead"},
        events=(
            *(EventFact("order.completed", NOW - d * DAY) for d in (300, 100, 20)),
            EventFact("product.viewed", NOW - DAY),
        ),
        engagements=(EngagementFact("click", NOW - 29 * DAY, "t"),),
    )
    results = evaluate_all(segments, contact, NOW)
    assert results == {
        "browsers-no-purchase": (True, NOW + 6 * DAY),
        "customers": (True, None),
        "engaged": (True, NOW + DAY),
        "vip": (True, NOW + 65 * DAY),
    }


def test_missing_directory_has_no_segments(tmp_path: Path) -> None:
    assert load_segments(tmp_path / "nope") == {}


def test_only_yaml_files_are_read(tmp_path: Path) -> None:
    files = {
        "a.yaml": "name: a\nrule: {in_list: x}\n",
        "b.yml": "name: b\nrule: {in_list: y}\n",
        "notes.txt": "ignored",
        ".#c.yaml": "broken: [",
    }
    write(tmp_path, files)
    (tmp_path / "sub.yaml").mkdir()
    assert list(load_segments(tmp_path)) == ["a", "b"]


def test_every_error_of_every_file_at_once(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "a.yaml": "name: a\nrule: {property: x, gtt: 1}\n",
            "c.yaml": "name: c\nrule:\n  any:\n    - {in_list: x}\n    - {in_segment: vipp}\n",
            "vip.yaml": "name: v\nrule: {in_segment: a}\n",  # a.yaml is broken: no news
            "d.yaml": "name: d\nrule: {in_list: x\n",
        },
    )
    assert errors_of(tmp_path) == [
        "a.yaml:2: rule: unknown operator 'gtt' (did you mean 'gt'?)",
        "d.yaml:3: YAML syntax error: while parsing a flow mapping started on line 2, "
        "expected ',' or '}', but got '<stream end>'",
        "c.yaml:5: rule: in_segment: unknown segment 'vipp' (did you mean 'vip'?)",
    ]


def test_duplicate_ids_name_both_files(tmp_path: Path) -> None:
    write(tmp_path, {"a.yaml": "name: a\nrule: {in_list: x}\n",
                     "b.yaml": "# b\nid: a\nname: b\nrule: {in_list: x}\n"})  # fmt: skip
    assert errors_of(tmp_path) == ["b.yaml:2: duplicate segment id 'a' (also in a.yaml)"]


def test_reference_cycles_are_errors(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "a.yaml": "name: a\nrule:\n  all:\n    - {in_list: x}\n    - {in_segment: b}\n",
            "b.yaml": "name: b\nrule: {in_segment: c}\n",
            "c.yaml": "name: c\nrule: {not: {in_segment: a}}\n",
            "d.yaml": "name: d\nrule: {in_segment: d}\n",
            "e.yaml": "name: e\nrule: {in_segment: a}\n",  # depends on a cycle, is not one
        },
    )
    assert errors_of(tmp_path) == [
        "a.yaml:5: rule: in_segment: segments reference each other in a cycle: a -> b -> c -> a",
        "d.yaml:2: rule: in_segment: segments reference each other in a cycle: d -> d",
    ]


def test_evaluation_order_puts_dependencies_first() -> None:
    segments = {
        "z-base": segment("z-base", "{in_list: x}"),
        "a-top": segment("a-top", "{all: [{in_segment: m-mid}, {in_segment: z-base}]}"),
        "m-mid": segment("m-mid", "{in_segment: z-base}"),
        "b-free": segment("b-free", "{in_list: y}"),
        "c-outside": segment("c-outside", "{in_segment: not-loaded}"),
    }
    assert evaluation_order(segments) == ["b-free", "c-outside", "z-base", "m-mid", "a-top"]
    looped = {"a": segment("a", "{in_segment: b}"), "b": segment("b", "{in_segment: a}")}
    with pytest.raises(ValueError, match="cycle among: a, b"):
        evaluation_order(looped)


def test_evaluate_all_feeds_each_result_to_the_segments_that_depend_on_it() -> None:
    segments = {
        "buyers": segment("buyers", "{event: order.completed, within: 30d}"),
        "vip": segment("vip", "{all: [{in_segment: buyers}, {property: spend, gt: 1000}]}"),
        "not-vip": segment("not-vip", "{not: {in_segment: vip}}"),
        "ex-member": segment("ex-member", "{in_segment: stale}"),
    }
    contact = ContactFacts(
        email="a@example.com",
        suppressed=False,
        properties={"spend": "1500.00"},
        events=(EventFact("order.completed", NOW - 10 * DAY),),
        segments=frozenset({"not-vip", "stale"}),  # stale answers from before: recomputed
    )
    results = evaluate_all(segments, contact, NOW)
    # vip's own rule never changes with time alone; it inherits buyers' recheck time.
    assert results == {
        "buyers": (True, NOW + 20 * DAY),
        "vip": (True, NOW + 20 * DAY),
        "not-vip": (False, NOW + 20 * DAY),
        "ex-member": (True, None),  # refers to a segment not loaded: facts as given
    }
    lapsed = evaluate_all(segments, contact, NOW + 25 * DAY)
    assert lapsed["buyers"] == (False, None)
    assert lapsed["vip"] == (False, None)
    assert lapsed["not-vip"] == (True, None)


def test_segment_serialises_its_rule() -> None:
    vip = segment("vip", "{event: order.completed, at_least: 3, within: 365d}")
    assert rule_to_dict(vip.rule)["within"] == 365 * 86400

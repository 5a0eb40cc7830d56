"""lint_flow(): unreachable steps, missing templates, unknown segments and properties,
loops without a wait."""

from __future__ import annotations

from connector.engine.loader import Lint, lint_flow, parse_flow

TEMPLATES = {"welcome", "offer", "reminder"}


def lints(text: str, **known: object) -> list[str]:
    flow = parse_flow(text, "flows/f.yaml")
    return [str(lint) for lint in lint_flow(flow, templates=TEMPLATES, **known)]  # type: ignore[arg-type]


CLEAN = """\
name: Clean
trigger: {type: segment.entered, segment: vip}
settings:
  goals: [{name: bought, when: {event: order.completed}}]
steps:
  - {id: hello, send: welcome}
  - id: route
    branch:
      - {if: {property: plan, eq: pro}, goto: offer}
  - {wait: 1d}
  - {id: offer, send: offer}
"""


def test_a_clean_flow_has_no_lints() -> None:
    assert lints(CLEAN, segments={"vip"}, known_properties={"plan"}) == []


def test_lint_formats_like_an_error() -> None:
    assert str(Lint("flows/f.yaml", 3, "step 'x' is unreachable", "warning")) == (
        "flows/f.yaml:3: warning: step 'x' is unreachable"
    )
    assert str(Lint("flows/f.yaml", None, "m", "error")) == "flows/f.yaml: error: m"


def test_unreachable_steps() -> None:
    text = """\
name: x
trigger: {type: contact.created}
steps:
  - {id: hello, send: welcome}
  - {goto: last}
  - {id: skipped, send: offer}
  - {id: also-skipped, wait: 1d}
  - {id: last, split: [{name: a, weight: 1, goto: a}, {name: b, weight: 1, goto: b}]}
  - {id: a, exit: {}}
  - {id: b, send: reminder}
  - {id: stop, exit: {}}
  - {id: dead-end, wait_for: {event: x, timeout: 1d, on_timeout: hello}}
"""
    assert lints(text) == [
        "flows/f.yaml:6: warning: step 'skipped' is unreachable",
        "flows/f.yaml:7: warning: step 'also-skipped' is unreachable",
        "flows/f.yaml:12: warning: step 'dead-end' is unreachable",
    ]


def test_timeouts_and_fall_through_are_edges() -> None:
    text = """\
name: x
trigger: {type: contact.created}
steps:
  - {wait_for: {event: x, timeout: 1d, on_timeout: late}}
  - {exit: {}}
  - {id: late, holdout: {percent: 5}}
  - {id: after, send: welcome}
"""
    assert lints(text) == []


def test_missing_templates() -> None:
    text = """\
name: x
trigger: {type: engagement, action: clicked, template: launch}
steps:
  - {send: welcome}
  - {send: welcom}
  - {send: brand-new}
"""
    assert lints(text) == [
        "flows/f.yaml:2: warning: trigger: no template 'launch'",
        "flows/f.yaml:5: error: step 'step-2': no template 'welcom' (did you mean 'welcome'?)",
        "flows/f.yaml:6: error: step 'step-3': no template 'brand-new' "
        "(expected one of: offer, reminder, welcome)",
    ]


UNKNOWN = """\
name: x
trigger:
  type: segment.left
  segment: vipp
  if: {in_segment: churned}
settings:
  goals: [{name: back, when: {in_segment: active}}]
  exit_when: [{property: lifecyclestage, eq: customer}]
steps:
  - {wait_for: {segment: vip, timeout: 1d}}
  - branch: [{if: {property: plann, eq: pro}, goto: done}]
  - {update_property: {property: score, value: 1}}
  - {wait: {until_date: {property: renewal_date}}}
  - {id: done, send: welcome}
"""


def test_unknown_segments_only_when_segments_are_known() -> None:
    assert lints(UNKNOWN) == []
    assert lints(UNKNOWN, segments=["vip", "active"]) == [
        "flows/f.yaml:2: error: trigger: unknown segment 'vipp' (did you mean 'vip'?)",
        "flows/f.yaml:2: error: trigger: unknown segment 'churned' (expected one of: active, vip)",
    ]


def test_unknown_properties_only_when_properties_are_known() -> None:
    known = ["lifecyclestage", "plan", "renewal_date"]
    assert lints(UNKNOWN, known_properties=known) == [
        "flows/f.yaml:11: warning: step 'step-2': unknown property 'plann' (did you mean 'plan'?)",
        "flows/f.yaml:12: warning: step 'step-3': unknown property 'score' "
        "(expected one of: lifecyclestage, plan, renewal_date)",
    ]


def test_loops_without_a_wait() -> None:
    text = """\
name: x
trigger: {type: contact.created}
steps:
  - {id: top, send: welcome}
  - {id: again, branch: [{if: {property: plan, eq: pro}, goto: top}]}
  - {id: self, goto: self}
  - {id: waiting, wait: 1d}
  - {id: back, goto: waiting}
"""
    assert lints(text) == [
        "flows/f.yaml:4: error: steps top -> again -> top loop without a wait",
        "flows/f.yaml:6: error: steps self -> self loop without a wait",
        # the branch falls through into `self`, which never leaves
        "flows/f.yaml:7: warning: step 'waiting' is unreachable",
        "flows/f.yaml:8: warning: step 'back' is unreachable",
    ]


def test_a_loop_through_a_wait_is_fine() -> None:
    text = """\
name: x
trigger: {type: contact.created}
steps:
  - {id: top, send: welcome}
  - {wait_for: {segment: vip, timeout: 7d, on_timeout: top}}
  - {send: offer}
"""
    assert lints(text) == []

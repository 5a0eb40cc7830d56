"""Parsing one flow file: every accepted form, and every error with its file and line."""

from __future__ import annotations

from datetime import timedelta
from textwrap import dedent

import pytest

from connector.engine.flows import (
    ContactCreated,
    EventTrigger,
    ExitStep,
    FlowSettings,
    SendStep,
    WaitStep,
)
from connector.engine.loader import FlowError, FlowErrors, parse_flow

SOURCE = "flows/welcome.yaml"


def errors_of(text: str, source: str = SOURCE) -> list[str]:
    with pytest.raises(FlowErrors) as caught:
        parse_flow(dedent(text), source)
    return [str(error) for error in caught.value.errors]


def test_minimal_flow_takes_defaults() -> None:
    flow = parse_flow(
        dedent("""\
            name: Welcome series
            trigger: {type: contact.created}
            steps:
              - send: welcome
              - wait: 2d
              - send: getting-started
        """),
        SOURCE,
    )
    assert flow.key == "welcome"  # the file stem
    assert flow.name == "Welcome series"
    assert flow.description == ""
    assert flow.source == SOURCE
    assert flow.trigger == ContactCreated()
    assert flow.settings == FlowSettings(
        transactional=False, exit_on_unsubscribe=True, reentry="once"
    )
    assert flow.steps == (
        SendStep(id="step-1", template="welcome", subject=None),
        WaitStep(id="step-2", duration=timedelta(days=2)),
        SendStep(id="step-3", template="getting-started", subject=None),
    )
    assert len(flow.version) == 16
    assert int(flow.version, 16) >= 0


def test_every_option_is_read() -> None:
    flow = parse_flow(
        dedent("""\
            id: vip-orders
            name: VIP orders
            description: For big EUR orders.
            trigger:
              type: event
              event: order.completed
              where:
                currency: EUR
                customer.tier: gold
                total: 250
                gift: false
                coupon: null
            settings:
              transactional: true
              exit_on_unsubscribe: false
              reentry: always
            steps:
              - id: thanks
                send: order-thanks
                subject: "Thank you, {{ contact.firstname }}!"
              - wait: {days: 1, hours: 12}
              - wait:
                  weeks: 1
              - exit: {}
              - exit:
        """),
        "flows/anything.yaml",
    )
    assert flow.key == "vip-orders"
    assert flow.description == "For big EUR orders."
    assert flow.trigger == EventTrigger(
        event="order.completed",
        where={
            "currency": "EUR",
            "customer.tier": "gold",
            "total": 250,
            "gift": False,
            "coupon": None,
        },
    )
    assert flow.settings == FlowSettings(
        transactional=True, exit_on_unsubscribe=False, reentry="always"
    )
    assert flow.steps == (
        SendStep(
            id="thanks", template="order-thanks", subject="Thank you, {{ contact.firstname }}!"
        ),
        WaitStep(id="step-2", duration=timedelta(days=1, hours=12)),
        WaitStep(id="step-3", duration=timedelta(weeks=1)),
        ExitStep(id="step-4"),
        ExitStep(id="step-5"),
    )
    assert flow.step_index("thanks") == 0
    assert flow.step_index("step-4") == 3


def test_yaml_1_1_booleans_stay_text() -> None:
    # `NO` is Norway, not False; keys such as `on` stay words.
    flow = parse_flow(
        dedent("""\
            name: Norway
            trigger: {type: event, event: signup, where: {country: NO, on: yes}}
            steps: [{send: welcome}]
        """),
        "flows/norway.yaml",
    )
    assert isinstance(flow.trigger, EventTrigger)
    assert dict(flow.trigger.where) == {"country": "NO", "on": "yes"}


def test_block_scalar_subject_loses_its_trailing_newline() -> None:
    flow = parse_flow(
        "name: x\ntrigger: {type: contact.created}\nsteps:\n"
        "  - send: welcome\n    subject: >\n      Hello there\n",
        SOURCE,
    )
    assert flow.steps[0] == SendStep(id="step-1", template="welcome", subject="Hello there")


def test_flow_error_formats_path_line_and_message() -> None:
    error = FlowError("flows/welcome.yaml", 7, "step 2: unknown step kind 'sned'")
    assert str(error) == "flows/welcome.yaml:7: step 2: unknown step kind 'sned'"
    assert (error.path, error.line, error.message) == (
        "flows/welcome.yaml",
        7,
        "step 2: unknown step kind 'sned'",
    )
    assert str(FlowError("flows/x.yaml", None, "too large")) == "flows/x.yaml: too large"
    both = FlowErrors([error, FlowError("flows/x.yaml", None, "too large")])
    assert (
        str(both)
        == "flows/welcome.yaml:7: step 2: unknown step kind 'sned'\nflows/x.yaml: too large"
    )
    assert isinstance(error, ValueError) and isinstance(both, ValueError)


def test_the_documented_example_message() -> None:
    assert errors_of("""\
        name: Welcome series
        trigger:
          type: contact.created
        steps:
          - send: welcome
          - wait: 2d
          - sned: getting-started
    """) == ["flows/welcome.yaml:7: step 3: unknown step kind 'sned' (did you mean 'send'?)"]


def test_all_problems_of_a_file_are_reported_in_line_order() -> None:
    assert errors_of("""\
        name: x
        trigger: {type: contact.created}
        setings: {}
        steps:
          - send: welcome
            subjet: Hi
          - wait: 0d
    """) == [
        "flows/welcome.yaml:3: unknown key 'setings' (did you mean 'settings'?)",
        "flows/welcome.yaml:6: step 1: unknown key 'subjet' for a send step "
        "(did you mean 'subject'?)",
        "flows/welcome.yaml:7: step 2: wait: duration '0d' is zero; "
        "it must be longer than zero",
    ]

"""The pure flow engine: definitions, YAML loading, trigger matching and decisions.

No I/O beyond reading flow files, no clock: time is always passed in.
"""

from __future__ import annotations

from connector.engine.core import (
    EXIT_STEP,
    EXIT_UNSUBSCRIBED,
    Complete,
    ContactFacts,
    Decision,
    Exit,
    Send,
    Sleep,
    decide,
    run_until_blocked,
)
from connector.engine.definitions import (
    STEP_KINDS,
    TRIGGER_KINDS,
    ContactCreated,
    EventTrigger,
    ExitStep,
    Flow,
    FlowSettings,
    SendStep,
    Step,
    Trigger,
    WaitStep,
    flow_from_dict,
    flow_to_dict,
)
from connector.engine.durations import DurationError, format_duration, parse_duration
from connector.engine.loader import FlowError, FlowErrors, load_flows, parse_flow
from connector.engine.triggers import Signal, flows_triggered

__all__ = [
    "EXIT_STEP",
    "EXIT_UNSUBSCRIBED",
    "STEP_KINDS",
    "TRIGGER_KINDS",
    "Complete",
    "ContactCreated",
    "ContactFacts",
    "Decision",
    "DurationError",
    "EventTrigger",
    "Exit",
    "ExitStep",
    "Flow",
    "FlowError",
    "FlowErrors",
    "FlowSettings",
    "Send",
    "SendStep",
    "Signal",
    "Sleep",
    "Step",
    "Trigger",
    "WaitStep",
    "decide",
    "flow_from_dict",
    "flow_to_dict",
    "flows_triggered",
    "format_duration",
    "load_flows",
    "parse_duration",
    "parse_flow",
    "run_until_blocked",
]

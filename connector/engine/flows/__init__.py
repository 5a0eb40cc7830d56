"""Flow definitions: immutable values parsed from YAML and stored per version (flow.py),
with their settings, trigger kinds, step kinds (steps.py, waits.py, routes.py) and the
move of a running enrollment to a newer version (versions.py).
"""

from __future__ import annotations

from connector.engine.flows.flow import FORMAT, STEP_KINDS, Flow, Step, flow_from_dict, flow_to_dict
from connector.engine.flows.routes import (
    BranchCase,
    BranchStep,
    HoldoutStep,
    SplitStep,
    SplitVariant,
)
from connector.engine.flows.settings import (
    REENTRY_MODES,
    STATUSES,
    Cooldown,
    FlowSettings,
    Goal,
    QuietHours,
    Reentry,
    Status,
)
from connector.engine.flows.steps import (
    CreateTaskStep,
    ExitStep,
    GotoStep,
    SendStep,
    UpdatePropertyStep,
    WebhookStep,
)
from connector.engine.flows.triggers import (
    ANY,
    TRIGGER_KINDS,
    ContactCreated,
    DateTrigger,
    EngagementTrigger,
    EventTrigger,
    InactivityTrigger,
    PropertyChanged,
    SegmentEntered,
    SegmentLeft,
    Trigger,
)
from connector.engine.flows.versions import migrate_cursor
from connector.engine.flows.waits import (
    WEEKDAYS,
    WaitForStep,
    WaitStep,
    WaitUntilDateStep,
    WaitUntilStep,
)

__all__ = [
    "ANY",
    "FORMAT",
    "REENTRY_MODES",
    "STATUSES",
    "STEP_KINDS",
    "TRIGGER_KINDS",
    "WEEKDAYS",
    "BranchCase",
    "BranchStep",
    "ContactCreated",
    "Cooldown",
    "CreateTaskStep",
    "DateTrigger",
    "EngagementTrigger",
    "EventTrigger",
    "ExitStep",
    "Flow",
    "FlowSettings",
    "Goal",
    "GotoStep",
    "HoldoutStep",
    "InactivityTrigger",
    "PropertyChanged",
    "QuietHours",
    "Reentry",
    "SegmentEntered",
    "SegmentLeft",
    "SendStep",
    "SplitStep",
    "SplitVariant",
    "Status",
    "Step",
    "Trigger",
    "UpdatePropertyStep",
    "WaitForStep",
    "WaitStep",
    "WaitUntilDateStep",
    "WaitUntilStep",
    "WebhookStep",
    "flow_from_dict",
    "flow_to_dict",
    "migrate_cursor",
]
